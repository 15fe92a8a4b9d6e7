import Foundation
import LatentTensor
import LatentCore

/// Inpainting helpers (Image2StyleGAN++): the composite of an input and the generator's fill of
/// its hole, with a feathered seam, and the PSNR over a region.
public enum Inpainting {
    /// The keep-mask `[1, 1, H, W]` (1 = known pixel) feathered on the known side of the hole
    /// (`inwardFeatheredMask`): 0 in the hole (its input pixels are unknown) and at its edge,
    /// rising to 1 about 2σ into the known pixels, so the composite has no step at the seam.
    /// `sigma` 0: the mask itself.
    public static func featheredKeepMask(_ mask: Tensor, sigma: Double) -> Tensor {
        precondition(mask.rank == 4 && mask.shape[0] == 1 && mask.shape[1] == 1, "featheredKeepMask: mask must be [1, 1, H, W], got \(mask.shape)")
        return inwardFeatheredMask(mask, sigma: sigma)
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
