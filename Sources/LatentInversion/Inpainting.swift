import Foundation
import LatentTensor

/// Inpainting helpers (Image2StyleGAN++): the composite of an input and the generator's fill of
/// its hole, with a feathered seam, and the PSNR over a region.
public enum Inpainting {
    /// The keep-mask `[1, 1, H, W]` (1 = known pixel) blurred by a Gaussian of `sigma` pixels
    /// (edges replicated), and never above the mask itself: the seam fades on the known side of
    /// the boundary (where both the input and the fill are valid), never into the hole, whose
    /// input pixels are unknown. `sigma` 0: the mask itself.
    public static func featheredKeepMask(_ mask: Tensor, sigma: Double) -> Tensor {
        precondition(mask.rank == 4 && mask.shape[0] == 1 && mask.shape[1] == 1, "featheredKeepMask: mask must be [1, 1, H, W], got \(mask.shape)")
        guard sigma > 0 else { return mask }
        let h = mask.shape[2], w = mask.shape[3]
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        let kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        let k = kernel.map { $0 / total }
        let src = mask.storage.map(Double.init)
        var tmp = [Double](repeating: 0, count: h * w), out = [Double](repeating: 0, count: h * w)
        for y in 0..<h { for x in 0..<w {
            var acc = 0.0
            for (i, kv) in k.enumerated() { acc += kv * src[y * w + min(max(x + i - radius, 0), w - 1)] }
            tmp[y * w + x] = acc
        } }
        for y in 0..<h { for x in 0..<w {
            var acc = 0.0
            for (i, kv) in k.enumerated() { acc += kv * tmp[min(max(y + i - radius, 0), h - 1) * w + x] }
            out[y * w + x] = acc
        } }
        return Tensor(shape: mask.shape, data: zip(src, out).map { Float(min($0, $1)) })
    }

    /// `keep · input + (1 − keep) · fill` for images `[C, H, W]` and a keep-mask `[1, 1, H, W]`.
    public static func composite(input: Tensor, fill: Tensor, keep: Tensor) -> Tensor {
        precondition(input.shape == fill.shape && input.rank == 3, "composite: \(input.shape) vs \(fill.shape)")
        let c = input.shape[0], hw = input.shape[1] * input.shape[2]
        precondition(keep.count == hw, "composite: mask \(keep.shape) vs image \(input.shape)")
        var out = input
        for ch in 0..<c { for q in 0..<hw {
            let a = keep.storage[q]
            out.storage[ch * hw + q] = a * input.storage[ch * hw + q] + (1 - a) * fill.storage[ch * hw + q]
        } }
        return out
    }

    /// PSNR (dB on [0, 1], at most 120) of `[C, H, W]` images in [-1, 1] over pixels weighted by
    /// `weights` (`[H·W]`, e.g. the mask or 1 − mask); infinity-free: an empty region gives nil.
    public static func regionPSNR(_ a: Tensor, _ b: Tensor, weights: [Float]) -> Double? {
        precondition(a.shape == b.shape && a.rank == 3, "regionPSNR: \(a.shape) vs \(b.shape)")
        let c = a.shape[0], hw = a.shape[1] * a.shape[2]
        precondition(weights.count == hw, "regionPSNR: \(weights.count) weights for \(hw) pixels")
        var s = 0.0, n = 0.0
        for ch in 0..<c { for q in 0..<hw {
            let d = (Double(a.storage[ch * hw + q]) - Double(b.storage[ch * hw + q])) / 2
            s += Double(weights[q]) * d * d; n += Double(weights[q])
        } }
        guard n > 0 else { return nil }
        return min(120, 10 * log10(1 / max(s / n, 1e-12)))
    }
}
