import Foundation
import LatentTensor
import LatentImageIO
import LatentCLIP

/// What `edit --text` reports per latent: CLIP's cosines with the prompt before and after, and
/// the check that judges the edit (`Bench/clip-edit.md`): the edited image, rounded to 8 bits as
/// saved, is scored again on two views the optimisation never saw (mirrored, and blurred: down
/// to half size and back), so a pattern that only fools CLIP's patch grid does not count; and,
/// with a mask, how still the image stayed outside it (PSNR against the original).
///
/// Keys: `cos_text_before`/`cos_text_after` (`--text`), or `cos_from_*`, `cos_to_*` and
/// `cos_direction` (`--text-from/--text-to`); `judge_cos_before`/`judge_cos_after` (mean over
/// the mirrored and blurred views, with the target text), `judge_passed` (1 when the target
/// text's cosine rose on both views), `psnr_outside_mask` (dB, with a mask), `psnr` (whole image).
/// - Parameters:
///   - before, after: `[C, R, R]` in [-1, 1] (original render and edit).
///   - texts: one text, or `[from, to]`; `textFeatures` `[texts.count, embedDim]`.
///   - mask: `[1, 1, R, R]` weights (1 = may change), or nil.
public func judgeTextEdit(clip: CLIPModel, before: Tensor, after: Tensor, texts: [String], textFeatures: Tensor,
                          mask: Tensor? = nil) throws -> [String: Double] {
    let pair = Tensor.concatenate([quantized8Bit(before), quantized8Bit(after)].map { $0.reshaped([1] + $0.shape) })
    let b8 = pair.row(0), a8 = pair.row(1)
    let views = Tensor.concatenate([pair, flipImages(pair), halfResolutionBlur(pair)])
    let feats = try clip.encodeImage(try clip.preprocess(imagesInMinusOneOne: views))
    let f = (0..<6).map { feats.row($0).doubles }
    let t = (0..<texts.count).map { textFeatures.row($0).doubles }
    let target = t[t.count - 1]
    var out: [String: Double] = [:]
    if texts.count == 1 {
        out["cos_text_before"] = cosine(f[0], target); out["cos_text_after"] = cosine(f[1], target)
    } else {
        out["cos_from_before"] = cosine(f[0], t[0]); out["cos_from_after"] = cosine(f[1], t[0])
        out["cos_to_before"] = cosine(f[0], t[1]); out["cos_to_after"] = cosine(f[1], t[1])
        out["cos_direction"] = cosine(zip(f[1], f[0]).map { $0 - $1 }, zip(t[1], t[0]).map { $0 - $1 })
    }
    let mirrorGain = cosine(f[3], target) - cosine(f[2], target)
    let blurGain = cosine(f[5], target) - cosine(f[4], target)
    out["judge_cos_before"] = (cosine(f[2], target) + cosine(f[4], target)) / 2
    out["judge_cos_after"] = (cosine(f[3], target) + cosine(f[5], target)) / 2
    out["judge_passed"] = mirrorGain > 0 && blurGain > 0 ? 1 : 0
    out["psnr"] = weightedPSNR(a8, b8, weights: nil)
    if let mask { out["psnr_outside_mask"] = weightedPSNR(a8, b8, weights: mask.storage.map { 1 - Double($0) }) }
    return out
}

private func cosine(_ a: [Double], _ b: [Double]) -> Double {
    let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
    let na = a.reduce(0) { $0 + $1 * $1 }.squareRoot(), nb = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return na > 0 && nb > 0 ? dot / (na * nb) : 0
}

/// PSNR (dB, images in [0, 1]) of `[C, H, W]` images in [-1, 1], each pixel weighted (`[H·W]`; nil = all 1).
func weightedPSNR(_ a: Tensor, _ b: Tensor, weights: [Double]?) -> Double {
    let c = a.shape[0], hw = a.shape[1] * a.shape[2]
    var s = 0.0, n = 0.0
    for ch in 0..<c { for i in 0..<hw {
        let wgt = weights?[i] ?? 1
        let d = (Double(a[flat: ch * hw + i]) - Double(b[flat: ch * hw + i])) / 2
        s += wgt * d * d; n += wgt
    } }
    guard n > 0 else { return .infinity }
    return 10 * log10(1 / max(s / n, 1e-12))
}
