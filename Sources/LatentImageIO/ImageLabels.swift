import LatentTensor

/// A 3×5 pixel font for short labels (strengths, "ORIGINAL"): rows top to bottom, 3 bits each,
/// most significant bit left. Lower-case letters are drawn as upper case; other characters as blanks.
private let glyphs: [Character: [UInt8]] = [
    "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
    "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
    "+": [0, 2, 7, 2, 0], "-": [0, 0, 7, 0, 0], ".": [0, 0, 0, 0, 2], "×": [0, 5, 2, 5, 0],
    "A": [2, 5, 7, 5, 5], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7], "G": [7, 4, 5, 5, 7], "I": [7, 2, 2, 2, 7],
    "L": [4, 4, 4, 4, 7], "N": [6, 5, 5, 5, 5], "O": [7, 5, 5, 5, 7], "R": [6, 5, 6, 5, 5], "T": [7, 2, 2, 2, 2],
    "S": [7, 4, 7, 1, 7], "X": [5, 5, 2, 5, 5], "C": [7, 4, 4, 4, 7], "P": [7, 5, 7, 4, 4], "U": [5, 5, 5, 5, 7],
    "W": [5, 5, 7, 7, 5], "H": [5, 5, 7, 5, 5], "K": [5, 5, 6, 5, 5], "M": [5, 7, 7, 5, 5], "B": [6, 5, 6, 5, 6],
    "F": [7, 4, 6, 4, 4], "V": [5, 5, 5, 5, 2], "Y": [5, 5, 2, 2, 2],
]

/// Height of the label band `labelled` puts above an image, in pixels.
public let labelBandHeight = 7

/// The image `[C, H, W]` with a white band on top holding `label` in black, centred (3×5 pixel
/// glyphs, cut to the image width).
public func labelled(_ image: Tensor, _ label: String) -> Tensor {
    precondition(image.rank == 3, "labelled: image must be [C, H, W], got \(image.shape)")
    let c = image.shape[0], h = image.shape[1], w = image.shape[2], oh = h + labelBandHeight
    var out = Tensor(shape: [c, oh, w], repeating: 1)
    out.withUnsafeMutableBufferPointer { o in
        image.withUnsafeBufferPointer { p in
            for ch in 0..<c { for y in 0..<h { for x in 0..<w { o[(ch * oh + y + labelBandHeight) * w + x] = p[(ch * h + y) * w + x] } } }
        }
        let chars = Array(label.uppercased().prefix(max((w - 1) / 4, 0)))
        let x0 = max((w - chars.count * 4 + 1) / 2, 0)
        for (k, ch) in chars.enumerated() {
            guard let rows = glyphs[ch] else { continue }
            for (r, bits) in rows.enumerated() { for b in 0..<3 where bits & (4 >> b) != 0 {
                let x = x0 + 4 * k + b
                guard x < w else { continue }
                for channel in 0..<c { o[(channel * oh + 1 + r) * w + x] = -1 }
            } }
        }
    }
    return out
}
