import LatentTensor

/// Shape information of a recorded `preprocess`, for its backward pass.
struct CLIPPreprocessRecord: Sendable {
    var batch: Int, height: Int, width: Int
}

extension CLIPModel {
    /// CLIP's input transform for generator images: `[-1, 1] -> [0, 1]` by `(x + 1) / 2`, then
    /// `(x − mean) / std` per channel with `imageMean` / `imageStd` (`clip.py` `_transform`
    /// without its resize, crop and RGB conversion, which only apply to PIL images). Values are
    /// not clamped, so gradients pass everywhere.
    ///
    /// The images must already be at the model's resolution: a bicubic resize is not available
    /// in this package yet, so other sizes are rejected with an error.
    /// - Parameter imagesInMinusOneOne: `[N, 3, H, W]` in [-1, 1]. - Returns: `[N, 3, R, R]`.
    public func preprocess(imagesInMinusOneOne images: Tensor) throws -> Tensor {
        try preprocessRecorded(images).0
    }

    func preprocessRecorded(_ images: Tensor) throws -> (Tensor, CLIPPreprocessRecord) {
        guard images.rank == 4, images.shape[1] == 3, images.shape[0] > 0 else {
            throw CLIPError("preprocess: images must be [N, 3, H, W] RGB in [-1, 1], got \(images.shape)")
        }
        let n = images.shape[0], h = images.shape[2], w = images.shape[3], r = config.imageResolution
        guard h == r && w == r else {
            throw CLIPError("preprocess: images are \(h)×\(w) but this CLIP takes \(r)×\(r); resizing is not supported yet, resize the images first")
        }
        var out = images
        out.withUnsafeMutableBufferPointer { p in
            for b in 0..<n {
                for c in 0..<3 {
                    // ((x + 1) / 2 − mean) / std as one affine map.
                    let scale = 0.5 / Self.imageStd[c], shift = (0.5 - Self.imageMean[c]) / Self.imageStd[c]
                    let base = (b * 3 + c) * h * w
                    for i in 0..<(h * w) { p[base + i] = p[base + i] * scale + shift }
                }
            }
        }
        return (out, CLIPPreprocessRecord(batch: n, height: h, width: w))
    }

    func preprocessBackward(_ grad: Tensor, _ record: CLIPPreprocessRecord) -> Tensor {
        var g = grad
        let hw = record.height * record.width
        g.withUnsafeMutableBufferPointer { p in
            for b in 0..<record.batch {
                for c in 0..<3 {
                    let scale = 0.5 / Self.imageStd[c]
                    for i in 0..<hw { p[(b * 3 + c) * hw + i] *= scale }
                }
            }
        }
        return g
    }
}
