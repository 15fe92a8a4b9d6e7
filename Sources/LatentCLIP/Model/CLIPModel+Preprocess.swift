import LatentTensor

/// Geometry of a recorded `preprocess`, for its backward pass.
struct CLIPPreprocessRecord: Sendable {
    var batch: Int
    var height: Int, width: Int               // input
    var resizedHeight: Int, resizedWidth: Int // after the resize (before the centre crop)
    var cropTop: Int, cropLeft: Int
}

extension CLIPModel {
    /// CLIP's input transform (`clip.py` `_transform`) for generator images in [-1, 1], as a
    /// differentiable float computation:
    /// 1. `[-1, 1] -> [0, 1]` by `(x + 1) / 2` (no clamping, so gradients pass everywhere);
    /// 2. when the size differs from the model's resolution R: `Resize(R, BICUBIC)` (shorter
    ///    side to R, the longer to `int(R·long/short)`; Pillow's antialiased bicubic, a = −0.5)
    ///    and `CenterCrop(R)` (offsets `round((size − R) / 2)`), the steps torchvision applies to
    ///    a PIL image, here on float data without its uint8 rounding and clipping;
    /// 3. `(x − mean) / std` per channel with `imageMean` / `imageStd`.
    /// - Parameter imagesInMinusOneOne: `[N, 3, H, W]` in [-1, 1]. - Returns: `[N, 3, R, R]`.
    public func preprocess(imagesInMinusOneOne images: Tensor) throws -> Tensor {
        try preprocessRecorded(images).0
    }

    func preprocessRecorded(_ images: Tensor) throws -> (Tensor, CLIPPreprocessRecord) {
        guard images.rank == 4, images.shape[1] == 3, images.shape[0] > 0, images.shape[2] > 0, images.shape[3] > 0 else {
            throw CLIPError("preprocess: images must be [N, 3, H, W] RGB in [-1, 1], got \(images.shape)")
        }
        let n = images.shape[0], h = images.shape[2], w = images.shape[3], r = config.imageResolution
        let (rh, rw) = Self.resizedSize(height: h, width: w, resolution: r)
        let record = CLIPPreprocessRecord(batch: n, height: h, width: w, resizedHeight: rh, resizedWidth: rw,
                                          cropTop: Self.pythonRound(Double(rh - r) / 2), cropLeft: Self.pythonRound(Double(rw - r) / 2))
        var x = images.map { ($0 + 1) * 0.5 }
        if rh != h || rw != w { x = resize(x, height: rh, width: rw, method: .bicubic, antialias: true) }
        if rh != r || rw != r { x = Self.crop(x, top: record.cropTop, left: record.cropLeft, size: r) }
        x.withUnsafeMutableBufferPointer { p in
            for b in 0..<n {
                for c in 0..<3 {
                    let inv = 1 / Self.imageStd[c], mean = Self.imageMean[c]
                    let base = (b * 3 + c) * r * r
                    for i in 0..<(r * r) { p[base + i] = (p[base + i] - mean) * inv }
                }
            }
        }
        return (x, record)
    }

    func preprocessBackward(_ grad: Tensor, _ rec: CLIPPreprocessRecord) -> Tensor {
        let r = config.imageResolution
        var g = grad
        g.withUnsafeMutableBufferPointer { p in
            for b in 0..<rec.batch {
                for c in 0..<3 {
                    let inv = 1 / Self.imageStd[c]
                    for i in 0..<(r * r) { p[(b * 3 + c) * r * r + i] *= inv }
                }
            }
        }
        if rec.resizedHeight != r || rec.resizedWidth != r {
            g = Self.uncrop(g, top: rec.cropTop, left: rec.cropLeft, height: rec.resizedHeight, width: rec.resizedWidth)
        }
        if rec.resizedHeight != rec.height || rec.resizedWidth != rec.width {
            g = resizeBackward(gradOutput: g, inputHeight: rec.height, inputWidth: rec.width, method: .bicubic, antialias: true)
        }
        return g * 0.5
    }

    /// torchvision `Resize(size)` with an int size: the shorter side becomes `size`, the longer
    /// `int(size · long / short)`.
    static func resizedSize(height h: Int, width w: Int, resolution r: Int) -> (Int, Int) {
        if h == w { return (r, r) }
        let short = min(h, w), long = max(h, w)
        let newLong = Int(Double(r) * Double(long) / Double(short))
        return h < w ? (r, newLong) : (newLong, r)
    }

    /// Python's `round` (half to even), as in torchvision's centre-crop offsets.
    static func pythonRound(_ v: Double) -> Int { Int(v.rounded(.toNearestOrEven)) }

    static func crop(_ x: Tensor, top: Int, left: Int, size r: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        var out = Tensor.zeros([n, c, r, r])
        x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
            for plane in 0..<(n * c) {
                for y in 0..<r {
                    (po.baseAddress! + (plane * r + y) * r).update(from: px.baseAddress! + (plane * h + top + y) * w + left, count: r)
                }
            }
        } }
        return out
    }

    /// Adjoint of `crop`: the gradient placed back into a zero `[N, C, height, width]`.
    static func uncrop(_ g: Tensor, top: Int, left: Int, height h: Int, width w: Int) -> Tensor {
        let n = g.shape[0], c = g.shape[1], r = g.shape[2]
        var out = Tensor.zeros([n, c, h, w])
        g.withUnsafeBufferPointer { pg in out.withUnsafeMutableBufferPointer { po in
            for plane in 0..<(n * c) {
                for y in 0..<r {
                    (po.baseAddress! + (plane * h + top + y) * w + left).update(from: pg.baseAddress! + (plane * r + y) * r, count: r)
                }
            }
        } }
        return out
    }
}
