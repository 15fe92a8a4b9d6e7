import LatentTensor
import LatentImageIO

/// Per-pixel weights `[1, 1, R, R]` in [0, 1] from a mask image `[3, R, R]` in [-1, 1]: the mean
/// of the three channels mapped to [0, 1] (white = 1), clamped, so a decoder's overshoot cannot
/// give a weight outside [0, 1]. The one mask rule of `invert --mask` and `edit --mask`.
public func maskWeights(image m: Tensor) -> Tensor {
    precondition(m.rank == 3 && m.shape[0] == 3, "maskWeights: image must be [3, H, W], got \(m.shape)")
    let h = m.shape[1], w = m.shape[2]
    var out = Tensor.zeros([1, 1, h, w])
    for y in 0..<h { for x in 0..<w {
        out[0, 0, y, x] = min(max(((m[0, y, x] + m[1, y, x] + m[2, y, x]) / 3 + 1) / 2, 0), 1)
    } }
    return out
}

/// Loads a mask image (PNG/JPEG, any size), crops and resizes it as targets are, and returns
/// `maskWeights` `[1, 1, R, R]`.
public func loadMaskWeights(path: String, resolution: Int, crop: CropMode = .center) throws -> Tensor {
    maskWeights(image: try preprocess(try loadImage(path: path).tensor, crop: crop, size: resolution))
}
