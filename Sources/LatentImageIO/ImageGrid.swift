import LatentTensor

/// Lays equally shaped images `[C, H, W]` out row by row in a contact sheet.
///
/// - Parameters:
///   - columns: tiles per row (≥ 1); rows = ceil(count / columns).
///   - padding: pixels between neighbouring tiles (not around the border), default 0.
///   - padValue: fill for the padding and for empty cells of the last row (default 1, white
///     in [-1, 1]).
/// - Returns: `[C, rows·H + (rows−1)·padding, cols·W + (cols−1)·padding]` where
///   cols = min(columns, count).
/// - Throws: `ImageError` for no images, differing shapes, non-`[C, H, W]` tensors or bad sizes.
public func imageGrid(_ images: [Tensor], columns: Int, padding: Int = 0, padValue: Float = 1) throws -> Tensor {
    guard let first = images.first else {
        throw ImageError(.invalidArgument, subject: "images", reason: "a grid needs at least one image")
    }
    guard columns >= 1, padding >= 0 else {
        throw ImageError(.invalidArgument, subject: "columns",
                         reason: "columns must be ≥ 1 and padding ≥ 0, got \(columns) and \(padding)")
    }
    guard first.rank == 3 else {
        throw ImageError(.invalidArgument, subject: "images", reason: "grid tiles must be [C, H, W], got \(first.shape)")
    }
    if let bad = images.firstIndex(where: { $0.shape != first.shape }) {
        throw ImageError(.invalidArgument, subject: "images",
                         reason: "all tiles must have one shape: image 0 is \(first.shape), image \(bad) is \(images[bad].shape)")
    }
    let (c, h, w) = (first.shape[0], first.shape[1], first.shape[2])
    let cols = min(columns, images.count)
    let rows = (images.count + cols - 1) / cols
    let gh = rows * h + (rows - 1) * padding, gw = cols * w + (cols - 1) * padding
    var grid = Tensor(shape: [c, gh, gw], repeating: padValue)
    grid.withUnsafeMutableBufferPointer { dst in
        for (n, image) in images.enumerated() {
            let oy = (n / cols) * (h + padding), ox = (n % cols) * (w + padding)
            image.withUnsafeBufferPointer { src in
                for k in 0..<c {
                    for y in 0..<h {
                        (dst.baseAddress! + (k * gh + oy + y) * gw + ox)
                            .update(from: src.baseAddress! + (k * h + y) * w, count: w)
                    }
                }
            }
        }
    }
    return grid
}
