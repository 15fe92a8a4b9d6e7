import LatentTensor

/// An integer translation of an image: content moves `dy` rows down and `dx` columns right.
public struct ImageShift: Sendable, Equatable, Hashable {
    public var dy: Int
    public var dx: Int
    public init(dy: Int, dx: Int) { self.dy = dy; self.dx = dx }
    public static let identity = ImageShift(dy: 0, dx: 0)
}

/// Translates images with edge replication: `out[y, x] = in[clamp(y − dy), clamp(x − dx)]`, so
/// a shifted view shows no artificial border for CLIP to react to.
/// - Parameter images: `[N, C, H, W]`. - Returns: `[N, C, H, W]`.
public func shiftImages(_ images: Tensor, by s: ImageShift) -> Tensor {
    precondition(images.rank == 4, "shiftImages: images must be [N, C, H, W], got \(images.shape)")
    if s == .identity { return images }
    let planes = images.shape[0] * images.shape[1], h = images.shape[2], w = images.shape[3]
    var out = Tensor.zeros(images.shape)
    images.withUnsafeBufferPointer { pin in
        out.withUnsafeMutableBufferPointer { pout in
            for p in 0..<planes {
                let src = pin.baseAddress! + p * h * w, dst = pout.baseAddress! + p * h * w
                for y in 0..<h {
                    let sy = min(max(y - s.dy, 0), h - 1)
                    for x in 0..<w { dst[y * w + x] = src[sy * w + min(max(x - s.dx, 0), w - 1)] }
                }
            }
        }
    }
    return out
}

/// Adjoint of `shiftImages`: each output gradient is added back to the pixel it was read from
/// (edge pixels collect the gradient of every copy of them).
/// - Parameter gradOutput: `[N, C, H, W]`. - Returns: `[N, C, H, W]`.
public func shiftImagesBackward(_ gradOutput: Tensor, by s: ImageShift) -> Tensor {
    precondition(gradOutput.rank == 4, "shiftImagesBackward: gradient must be [N, C, H, W], got \(gradOutput.shape)")
    if s == .identity { return gradOutput }
    let planes = gradOutput.shape[0] * gradOutput.shape[1], h = gradOutput.shape[2], w = gradOutput.shape[3]
    var out = Tensor.zeros(gradOutput.shape)
    gradOutput.withUnsafeBufferPointer { pg in
        out.withUnsafeMutableBufferPointer { pout in
            for p in 0..<planes {
                let src = pg.baseAddress! + p * h * w, dst = pout.baseAddress! + p * h * w
                for y in 0..<h {
                    let sy = min(max(y - s.dy, 0), h - 1)
                    for x in 0..<w { dst[sy * w + min(max(x - s.dx, 0), w - 1)] += src[y * w + x] }
                }
            }
        }
    }
    return out
}

/// A view of an image that CLIP scores: shifted (edges repeated), then mirrored left–right,
/// then cropped to a square (which CLIP's preprocessing resizes to its resolution).
public struct ImageView: Sendable, Equatable, Hashable {
    public var shift: ImageShift
    public var flip: Bool
    /// Square crop of the shifted, mirrored image; nil = the whole image.
    public var crop: ImageCrop?
    public init(shift: ImageShift = .identity, flip: Bool = false, crop: ImageCrop? = nil) {
        self.shift = shift; self.flip = flip; self.crop = crop
    }
    public static let identity = ImageView()
}

/// A square window `size`×`size` at (`top`, `left`).
public struct ImageCrop: Sendable, Equatable, Hashable {
    public var top: Int, left: Int, size: Int
    public init(top: Int, left: Int, size: Int) { self.top = top; self.left = left; self.size = size }
}

/// The view of `images` `[N, C, H, W]`: `[N, C, H, W]`, or `[N, C, size, size]` with a crop.
public func applyView(_ images: Tensor, _ view: ImageView) -> Tensor {
    var x = shiftImages(images, by: view.shift)
    if view.flip { x = flipImages(x) }
    if let c = view.crop { x = cropImages(x, c) }
    return x
}

/// Adjoint of `applyView`: the gradient w.r.t. the view placed back on the `[N, C, H, W]` image.
public func applyViewBackward(_ grad: Tensor, _ view: ImageView, height: Int, width: Int) -> Tensor {
    var g = grad
    if let c = view.crop { g = uncropImages(g, c, height: height, width: width) }
    if view.flip { g = flipImages(g) }   // a mirror is its own adjoint
    return shiftImagesBackward(g, by: view.shift)
}

/// Mirrors images `[N, C, H, W]` left–right.
public func flipImages(_ x: Tensor) -> Tensor {
    let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
    var out = Tensor.zeros(x.shape)
    x.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
        for p in 0..<planes { for y in 0..<h { for c in 0..<w { dst[(p * h + y) * w + c] = src[(p * h + y) * w + w - 1 - c] } } }
    } }
    return out
}

/// Images `[N, C, H, W]` resized to half size and back (bilinear): detail finer than two pixels
/// is gone. With `flipImages`, the held-out views that judge a text edit (`Bench/clip-edit.md`).
public func halfResolutionBlur(_ x: Tensor) -> Tensor {
    let h = x.shape[2], w = x.shape[3]
    return resize(resize(x, height: max(h / 2, 1), width: max(w / 2, 1), method: .bilinear), height: h, width: w, method: .bilinear)
}

func cropImages(_ x: Tensor, _ c: ImageCrop) -> Tensor {
    let n = x.shape[0], ch = x.shape[1], h = x.shape[2], w = x.shape[3]
    precondition(c.top >= 0 && c.left >= 0 && c.size > 0 && c.top + c.size <= h && c.left + c.size <= w, "crop \(c) outside \(h)×\(w)")
    var out = Tensor.zeros([n, ch, c.size, c.size])
    x.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
        for p in 0..<(n * ch) { for y in 0..<c.size {
            (dst.baseAddress! + (p * c.size + y) * c.size).update(from: src.baseAddress! + (p * h + c.top + y) * w + c.left, count: c.size)
        } }
    } }
    return out
}

/// Adjoint of `cropImages`: the window's gradient in a zero `[N, C, height, width]`.
func uncropImages(_ g: Tensor, _ c: ImageCrop, height h: Int, width w: Int) -> Tensor {
    let n = g.shape[0], ch = g.shape[1]
    var out = Tensor.zeros([n, ch, h, w])
    g.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
        for p in 0..<(n * ch) { for y in 0..<c.size {
            (dst.baseAddress! + (p * h + c.top + y) * w + c.left).update(from: src.baseAddress! + (p * c.size + y) * c.size, count: c.size)
        } }
    } }
    return out
}

/// `count` random views of an `r`×`r` image: shifts uniform in `-jitter...jitter`, a mirror with
/// probability ½ when `flips`, and when `minCrop` < 1 a square crop whose side is uniform in
/// `[minCrop·r, r]` at a uniform position.
func randomViews(count: Int, resolution r: Int, jitter: Int, flips: Bool, minCrop: Double, rng: inout SplitMix64) -> [ImageView] {
    func uniform(_ lo: Int, _ hi: Int) -> Int { lo + Int(rng.next() % UInt64(hi - lo + 1)) }
    return (0..<count).map { _ in
        var v = ImageView(shift: ImageShift(dy: uniform(-jitter, jitter), dx: uniform(-jitter, jitter)))
        if flips { v.flip = rng.next() & 1 == 1 }
        if minCrop < 1 {
            let size = uniform(max(1, Int((minCrop * Double(r)).rounded(.up))), r)
            if size < r { v.crop = ImageCrop(top: uniform(0, r - size), left: uniform(0, r - size), size: size) }
        }
        return v
    }
}
