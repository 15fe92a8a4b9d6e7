import LatentTensor

/// Bad input to a loss or metric: names the argument and the reason.
public struct ImageInputError: Error, CustomStringConvertible, Equatable {
    public var argument: String
    public var reason: String
    public init(_ argument: String, _ reason: String) { self.argument = argument; self.reason = reason }
    public var description: String { "\(argument): \(reason)" }
}

/// The value range of image tensors handed to a metric or loss.
public enum PixelRange: String, Sendable, CaseIterable {
    /// The generator's output range, [-1, 1] (NVIDIA's convention); mapped to [0, 1] by (v + 1) / 2.
    case minusOneToOne
    /// Already in [0, 1].
    case zeroToOne

    /// `(scale, offset)` with `v01 = scale · v + offset`.
    @inlinable public var toUnit: (scale: Double, offset: Double) {
        switch self {
        case .minusOneToOne: return (0.5, 0.5)
        case .zeroToOne: return (1, 0)
        }
    }
}

/// A differentiable image reconstruction loss, evaluated per image.
///
/// - `reconstruction`, `target`: `[N, C, H, W]` (C = 3 for RGB), in the range the loss documents
///   (all built-in losses take the generator's [-1, 1] by default).
/// - `mask`: optional `[N or 1, 1, H, W]` with values in [0, 1] weighting pixels: only masked pixels
///   count and each image's loss is normalised by its mask sum, so a mask of ones gives the
///   unmasked loss.
/// - Returns `loss` `[N]` (one value per image) and `gradient` = d(Σₙ lossₙ)/d reconstruction,
///   `[N, C, H, W]`. The target is treated as a constant.
/// - Throws: `ImageInputError` for mismatched shapes, bad masks or images a loss cannot handle.
public protocol ImageLoss: Sendable {
    func evaluate(reconstruction: Tensor, target: Tensor, mask: Tensor?) throws -> (loss: [Float], gradient: Tensor)
}

extension ImageLoss {
    /// Unmasked evaluation.
    public func evaluate(reconstruction: Tensor, target: Tensor) throws -> (loss: [Float], gradient: Tensor) {
        try evaluate(reconstruction: reconstruction, target: target, mask: nil)
    }
}

/// Shape of a validated image pair.
struct ImagePairShape: Equatable {
    var n: Int, c: Int, h: Int, w: Int
    var plane: Int { h * w }
}

/// Checks that `reconstruction` and `target` are equally shaped, non-empty `[N, C, H, W]` tensors.
func validateImagePair(_ x: Tensor, _ y: Tensor, xName: String = "reconstruction",
                       yName: String = "target") throws -> ImagePairShape {
    guard x.rank == 4 else { throw ImageInputError(xName, "needs shape [N, C, H, W], got \(x.shape)") }
    guard y.shape == x.shape else {
        throw ImageInputError(yName, "shape \(y.shape) differs from \(xName) shape \(x.shape)")
    }
    guard x.shape.allSatisfy({ $0 > 0 }) else { throw ImageInputError(xName, "has an empty dimension: \(x.shape)") }
    guard x.isFinite else { throw ImageInputError(xName, "contains NaN or infinity") }
    guard y.isFinite else { throw ImageInputError(yName, "contains NaN or infinity") }
    return ImagePairShape(n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3])
}

/// A validated pixel mask: `[N or 1, 1, H, W]` in [0, 1], positive sum for every image.
struct PixelMask {
    let values: [Float]
    let perImage: Bool
    let plane: Int
    /// Σ over the H×W plane of image n's mask.
    let sums: [Double]

    init(_ mask: Tensor, shape s: ImagePairShape) throws {
        guard mask.rank == 4, mask.shape[1] == 1, mask.shape[2] == s.h, mask.shape[3] == s.w,
              mask.shape[0] == 1 || mask.shape[0] == s.n else {
            throw ImageInputError("mask", "needs shape [\(s.n) or 1, 1, \(s.h), \(s.w)], got \(mask.shape)")
        }
        guard mask.storage.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
            throw ImageInputError("mask", "values must lie in [0, 1] (NaN is not allowed)")
        }
        values = mask.storage
        perImage = mask.shape[0] > 1
        plane = s.plane
        var sums = [Double]()
        for m in 0..<mask.shape[0] {
            let sum = values[(m * plane)..<((m + 1) * plane)].reduce(0.0) { $0 + Double($1) }
            guard sum > 0 else { throw ImageInputError("mask", "image \(m) has an all-zero mask: no pixel would count") }
            sums.append(sum)
        }
        self.sums = mask.shape[0] == 1 ? [Double](repeating: sums[0], count: s.n) : sums
    }

    /// Offset of image n's plane in `values`.
    @inlinable func offset(_ n: Int) -> Int { perImage ? n * plane : 0 }
}

/// Per-image `Σ m·φ(x − y) / (C·Σm)` (or the plain mean over C·H·W without a mask) and its
/// gradient `m·φ'(x − y) / (C·Σm)`, for pixel-wise losses. `phi` returns (φ(d), φ'(d)).
func pixelwiseLoss(reconstruction x: Tensor, target y: Tensor, mask: Tensor?,
                   _ phi: (Double) -> (Double, Double)) throws -> (loss: [Float], gradient: Tensor) {
    let s = try validateImagePair(x, y)
    let m = try mask.map { try PixelMask($0, shape: s) }
    var grad = Tensor.zeros(x.shape)
    var losses = [Float](repeating: 0, count: s.n)
    x.withUnsafeBufferPointer { px in
        y.withUnsafeBufferPointer { py in
            grad.withUnsafeMutableBufferPointer { pg in
                for n in 0..<s.n {
                    let norm = Double(s.c) * (m?.sums[n] ?? Double(s.plane))
                    var acc = 0.0
                    for c in 0..<s.c {
                        let base = (n * s.c + c) * s.plane
                        for i in 0..<s.plane {
                            let (v, dv) = phi(Double(px[base + i]) - Double(py[base + i]))
                            let wt = m.map { Double($0.values[$0.offset(n) + i]) } ?? 1
                            acc += wt * v
                            pg[base + i] = Float(wt * dv / norm)
                        }
                    }
                    losses[n] = Float(acc / norm)
                }
            }
        }
    }
    return (losses, grad)
}
