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

/// `count` shifts with `dy`, `dx` uniform in `-jitter...jitter`, from a seeded generator.
func randomShifts(count: Int, jitter: Int, rng: inout SplitMix64) -> [ImageShift] {
    (0..<count).map { _ in
        ImageShift(dy: Int(rng.next() % UInt64(2 * jitter + 1)) - jitter, dx: Int(rng.next() % UInt64(2 * jitter + 1)) - jitter)
    }
}
