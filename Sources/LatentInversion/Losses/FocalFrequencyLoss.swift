import Foundation
import LatentTensor

/// Focal frequency loss (Jiang et al., ICCV 2021; EndlessSora/focal-frequency-loss) per image,
/// through `rfft2` (FFTW), with its backward.
///
/// Each image (optionally cut into `patchFactor²` patches) is transformed with the orthonormal
/// 2-D DFT; with `D` the spectrum of `reconstruction − target`, the spectrum weight is
/// `W = |D|^alpha` (optionally `log(1 + W)`), divided by its maximum over each patch's channel
/// spectrum (or over the whole batch with `batchMatrix`), NaN → 0, clamped to [0, 1], and treated
/// as a constant (the reference detaches it). The loss is the mean of `W·|D|²` over the full
/// spectrum of every patch and channel: per image `Σ W·|D|² / (C·H·W)`. The half spectrum of
/// `rfft2` stands for the full one: columns other than DC and (even width) Nyquist count twice.
///
/// The reference's `torch.mean` over the batch equals the mean of these per-image losses; the
/// reference's `ave_spectrum` option (batch-averaged spectra) is not offered because it ties
/// images together.
///
/// Mask: the difference is multiplied by the mask in pixel space before the transform and the
/// normalisation is `C·Σm` instead of `C·H·W` (by Parseval the unweighted sum then equals the
/// masked pixel L2); a mask of ones gives the unmasked loss. Inputs are used as given (no range
/// mapping).
public struct FocalFrequencyLoss: ImageLoss {
    /// Exponent of the spectrum weight matrix (reference default 1).
    public var alpha: Float
    /// The image is cut into `patchFactor × patchFactor` patches, transformed separately.
    public var patchFactor: Int
    /// Weight `log(1 + |D|^alpha)` instead of `|D|^alpha`.
    public var logMatrix: Bool
    /// Normalise the weights by their maximum over the whole batch instead of per patch and channel.
    public var batchMatrix: Bool

    public init(alpha: Float = 1, patchFactor: Int = 1, logMatrix: Bool = false, batchMatrix: Bool = false) {
        self.alpha = alpha; self.patchFactor = patchFactor; self.logMatrix = logMatrix; self.batchMatrix = batchMatrix
    }

    public func evaluate(reconstruction: Tensor, target: Tensor, mask: Tensor?) throws -> (loss: [Float], gradient: Tensor) {
        let s = try validateImagePair(reconstruction, target)
        let pf = patchFactor
        guard pf >= 1, s.h % pf == 0, s.w % pf == 0 else {
            throw ImageInputError("patchFactor", "\(pf) must be ≥ 1 and divide the image size \(s.h)×\(s.w)")
        }
        guard alpha.isFinite, alpha >= 0 else { throw ImageInputError("alpha", "must be finite and ≥ 0, got \(alpha)") }
        let m = try mask.map { try PixelMask($0, shape: s) }
        let ph = s.h / pf, pw = s.w / pf, pwc = pw / 2 + 1
        let planes = s.n * pf * pf * s.c                   // spectra, ordered [N, P, C]

        // Masked difference cut into patches: [N, P, C, ph, pw].
        var diff = [Float](repeating: 0, count: planes * ph * pw)
        for n in 0..<s.n { for p in 0..<(pf * pf) { for c in 0..<s.c {
            let (pi, pj) = (p / pf, p % pf)
            let dst = ((n * pf * pf + p) * s.c + c) * ph * pw
            for y in 0..<ph { for x in 0..<pw {
                let iy = pi * ph + y, ix = pj * pw + x
                let src = ((n * s.c + c) * s.h + iy) * s.w + ix
                let wt = m.map { $0.values[$0.offset(n) + iy * s.w + ix] } ?? 1
                diff[dst + y * pw + x] = wt * (reconstruction[flat: src] - target[flat: src])
            } }
        } } }
        let (re, im) = try rfft2(Tensor(shape: [planes, ph, pw], data: diff), norm: .ortho)

        // Spectrum weight matrix (detached), then loss and the spectrum of the gradient.
        var weight = [Float](repeating: 0, count: planes * ph * pwc)
        for i in 0..<weight.count {
            let mag = (Double(re[flat: i]) * Double(re[flat: i]) + Double(im[flat: i]) * Double(im[flat: i])).squareRoot()
            var v = pow(mag, Double(alpha))
            if logMatrix { v = log(v + 1) }
            weight[i] = Float(v)
        }
        let spectrum = ph * pwc
        func normalise(_ range: Range<Int>) {
            let mx = weight[range].max() ?? 0
            for i in range { weight[i] = mx > 0 ? min(max(weight[i] / mx, 0), 1) : 0 }
        }
        if batchMatrix { normalise(0..<weight.count) } else { for q in 0..<planes { normalise((q * spectrum)..<((q + 1) * spectrum)) } }

        var losses = [Float](repeating: 0, count: s.n)
        var gre = Tensor.zeros([planes, ph, pwc]), gim = Tensor.zeros([planes, ph, pwc])
        for n in 0..<s.n {
            let z = Double(s.c) * (m?.sums[n] ?? Double(s.h * s.w))
            var acc = 0.0
            for q in (n * pf * pf * s.c)..<((n + 1) * pf * pf * s.c) {
                for k1 in 0..<ph { for k2 in 0..<pwc {
                    let i = q * spectrum + k1 * pwc + k2
                    let mult: Double = (k2 == 0 || (pw % 2 == 0 && k2 == pw / 2)) ? 1 : 2
                    let (a, b) = (Double(re[flat: i]), Double(im[flat: i]))
                    acc += mult * Double(weight[i]) * (a * a + b * b)
                    // ∂/∂d of Σ_full W|Fd|² / Z = (2/Z)·Re(Fᴴ(W ⊙ Fd)) = (2/Z)·irfft2(W ⊙ rfft2(d)) (ortho),
                    // exact because W ⊙ Fd keeps the Hermitian symmetry.
                    gre[flat: i] = Float(2 / z * Double(weight[i]) * a)
                    gim[flat: i] = Float(2 / z * Double(weight[i]) * b)
                } }
            }
            losses[n] = Float(acc / z)
        }
        let gdiff = try irfft2(re: gre, im: gim, height: ph, width: pw, norm: .ortho)

        // Undo the patching and apply the mask's chain factor.
        var grad = Tensor.zeros(reconstruction.shape)
        for n in 0..<s.n { for p in 0..<(pf * pf) { for c in 0..<s.c {
            let (pi, pj) = (p / pf, p % pf)
            let src = ((n * pf * pf + p) * s.c + c) * ph * pw
            for y in 0..<ph { for x in 0..<pw {
                let iy = pi * ph + y, ix = pj * pw + x
                let wt = m.map { $0.values[$0.offset(n) + iy * s.w + ix] } ?? 1
                grad[flat: ((n * s.c + c) * s.h + iy) * s.w + ix] = wt * gdiff[flat: src + y * pw + x]
            } }
        } } }
        return (losses, grad)
    }
}
