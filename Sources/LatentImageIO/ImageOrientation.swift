import LatentTensor

/// Turns an image `[C, H, W]` as stored into the upright image its EXIF orientation tag
/// describes (TIFF/EXIF 2.3 tag 0x0112; the same mapping as Pillow's `ImageOps.exif_transpose`):
///
/// | tag | stored image must be ...            | output |
/// | --- | ----------------------------------- | ------ |
/// | 1   | shown as is                         | [C, H, W] |
/// | 2   | mirrored left–right                 | [C, H, W] |
/// | 3   | rotated 180°                        | [C, H, W] |
/// | 4   | mirrored top–bottom                 | [C, H, W] |
/// | 5   | transposed (mirror on the diagonal) | [C, W, H] |
/// | 6   | rotated 90° clockwise               | [C, W, H] |
/// | 7   | transversed (anti-diagonal mirror)  | [C, W, H] |
/// | 8   | rotated 90° counter-clockwise       | [C, W, H] |
///
/// Other values are treated as 1 (a broken tag must not break loading).
public func applyExifOrientation(_ image: Tensor, orientation: Int) -> Tensor {
    precondition(image.rank == 3, "applyExifOrientation expects [C, H, W], got \(image.shape)")
    guard (2...8).contains(orientation) else { return image }
    let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
    let swaps = orientation >= 5
    let (oh, ow) = swaps ? (w, h) : (h, w)
    var out = Tensor.zeros([c, oh, ow])
    image.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            let s = src.baseAddress!, d = dst.baseAddress!
            for ch in 0..<c {
                let sp = s + ch * h * w, dp = d + ch * oh * ow
                for y in 0..<oh {
                    for x in 0..<ow {
                        // (sy, sx): the stored pixel shown at (y, x).
                        let (sy, sx): (Int, Int)
                        switch orientation {
                        case 2: (sy, sx) = (y, w - 1 - x)
                        case 3: (sy, sx) = (h - 1 - y, w - 1 - x)
                        case 4: (sy, sx) = (h - 1 - y, x)
                        case 5: (sy, sx) = (x, y)
                        case 6: (sy, sx) = (h - 1 - x, y)
                        case 7: (sy, sx) = (h - 1 - x, w - 1 - y)
                        default: (sy, sx) = (x, w - 1 - y)  // 8
                        }
                        dp[y * ow + x] = sp[sy * w + sx]
                    }
                }
            }
        }
    }
    return out
}
