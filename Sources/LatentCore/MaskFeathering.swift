import Foundation
import LatentTensor

/// A mask `[N, 1, H, W]` blurred by a separable Gaussian of `sigma` pixels (radius ⌈3σ⌉, edges
/// replicated, computed in Double). `sigma` ≤ 0: the mask itself.
public func gaussianBlurredMask(_ mask: Tensor, sigma: Double) -> Tensor {
    precondition(mask.rank == 4 && mask.shape[1] == 1, "gaussianBlurredMask: mask must be [N, 1, H, W], got \(mask.shape)")
    guard sigma > 0 else { return mask }
    let n = mask.shape[0], h = mask.shape[2], w = mask.shape[3], hw = h * w
    let radius = max(1, Int((3 * sigma).rounded(.up)))
    let kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
    let total = kernel.reduce(0, +)
    let k = kernel.map { $0 / total }
    var out = Tensor.zeros(mask.shape)
    var tmp = [Double](repeating: 0, count: hw)
    for s in 0..<n {
        let base = s * hw
        for y in 0..<h { for x in 0..<w {
            var acc = 0.0
            for (i, kv) in k.enumerated() { acc += kv * Double(mask.storage[base + y * w + min(max(x + i - radius, 0), w - 1)]) }
            tmp[y * w + x] = acc
        } }
        for y in 0..<h { for x in 0..<w {
            var acc = 0.0
            for (i, kv) in k.enumerated() { acc += kv * tmp[min(max(y + i - radius, 0), h - 1) * w + x] }
            out.storage[base + y * w + x] = Float(acc)
        } }
    }
    return out
}

/// The mask feathered inwards: `mask · clamp(2·blur(mask, σ) − 1, 0, 1)`. Where the mask is 0
/// it stays exactly 0 (so whatever it confines cannot leak out); at a hard edge the weight
/// rises from 0 at the boundary to 1 about 2σ inside, so there is no step at the seam. For
/// `edit --feather` (the edit fades in over the mask's rim) and `inpaint --feather` (the fill
/// fades out over the known pixels' rim). `sigma` ≤ 0: the mask itself.
public func inwardFeatheredMask(_ mask: Tensor, sigma: Double) -> Tensor {
    guard sigma > 0 else { return mask }
    let blurred = gaussianBlurredMask(mask, sigma: sigma)
    return Tensor(shape: mask.shape, data: zip(mask.storage, blurred.storage).map { m, b in m * min(max(2 * b - 1, 0), 1) })
}
