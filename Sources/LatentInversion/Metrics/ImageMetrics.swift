import Foundation
import LatentTensor

/// Reconstruction quality metrics, per image, following the definitions in
/// `reference-figures.md` so figures compare with the literature.
///
/// All take `[N, C, H, W]` images (default range [-1, 1], mapped to [0, 1] by (v + 1) / 2),
/// compute in Double and return one value per image, `[N]`.
public enum ImageMetrics {
    /// Mean squared error on [0, 1] images, over C·H·W.
    public static func mse(_ x: Tensor, _ y: Tensor, range: PixelRange = .minusOneToOne) throws -> [Double] {
        let s = try validateImagePair(x, y, xName: "x", yName: "y")
        let scale = range.toUnit.scale
        let per = s.c * s.plane
        var out = [Double](repeating: 0, count: s.n)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeBufferPointer { py in
                for n in 0..<s.n {
                    var acc = 0.0
                    for i in (n * per)..<((n + 1) * per) {
                        let d = scale * (Double(px[i]) - Double(py[i]))
                        acc += d * d
                    }
                    out[n] = acc / Double(per)
                }
            }
        }
        return out
    }

    /// Peak signal-to-noise ratio `10·log10(1 / MSE)` in dB on [0, 1] images, computed on the
    /// float images *before* any 8-bit quantisation. Identical images give `+infinity`.
    public static func psnr(_ x: Tensor, _ y: Tensor, range: PixelRange = .minusOneToOne) throws -> [Double] {
        try mse(x, y, range: range).map { $0 == 0 ? .infinity : 10 * log10(1 / $0) }
    }

    /// SSIM (Wang et al. 2004) on [0, 1] images: 11×11 Gaussian window σ 1.5 (separable), K1 0.01,
    /// K2 0.03, L 1, population (not sample) covariances; the mean of the SSIM map over the *valid*
    /// window positions (no padding), as pytorch_msssim's `ssim` and skimage's
    /// `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    /// data_range=1)` (which filters with reflection and then crops the 5-px border: the same
    /// positions). Colour: mean over channels.
    ///
    /// - Parameter windowPolicy: for images smaller than the window (see `SSIMWindowPolicy`).
    public static func ssim(_ x: Tensor, _ y: Tensor, range: PixelRange = .minusOneToOne,
                            windowSize: Int = 11, windowSigma: Double = 1.5,
                            constants: SSIMConstants = SSIMConstants(),
                            windowPolicy: SSIMWindowPolicy = .truncate) throws -> [Double] {
        let s = try validateImagePair(x, y, xName: "x", yName: "y")
        let window = try ssimWindow(h: s.h, w: s.w, size: windowSize, sigma: windowSigma, policy: windowPolicy, argument: "x")
        let xd = unitDoubles(x, range), yd = unitDoubles(y, range)
        var perPlane = [Double](repeating: 0, count: s.n * s.c)
        perPlane.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress!
            Parallel.forEach(s.n * s.c) { p in
                xd.withUnsafeBufferPointer { px in
                    yd.withUnsafeBufferPointer { py in
                        o[p] = SSIMPlane.evaluate(x: px.baseAddress! + p * s.plane, y: py.baseAddress! + p * s.plane,
                                                  h: s.h, w: s.w, window: window, constants: constants, weights: nil).ssim
                    }
                }
            }
        }
        return (0..<s.n).map { n in perPlane[(n * s.c)..<((n + 1) * s.c)].reduce(0, +) / Double(s.c) }
    }

    /// Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) on [0, 1] images as pytorch_msssim's
    /// `ms_ssim`: 5 scales, weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333; 2×2 average pooling
    /// between scales; contrast·structure (relu'd mean cs) at every finer scale and the full SSIM
    /// (relu'd) at the coarsest; the product per channel, then the mean over channels.
    ///
    /// The standard 11-tap window needs images > 160 px; smaller images use the truncated window
    /// of `options.windowPolicy` (default `.truncate`; `.standard` throws instead).
    public static func msSSIM(_ x: Tensor, _ y: Tensor, range: PixelRange = .minusOneToOne,
                              options: MSSSIMOptions = MSSSIMOptions()) throws -> [Double] {
        let s = try validateImagePair(x, y, xName: "x", yName: "y")
        let pyramid = try MSSSIMPyramid(h: s.h, w: s.w, options: options)
        let xd = unitDoubles(x, range), yd = unitDoubles(y, range)
        var perPlane = [Double](repeating: 0, count: s.n * s.c)
        perPlane.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress!
            Parallel.forEach(s.n * s.c) { p in
                let r = (p * s.plane)..<((p + 1) * s.plane)
                o[p] = pyramid.evaluate(x: Array(xd[r]), y: Array(yd[r]), weights: nil)
            }
        }
        return (0..<s.n).map { n in perPlane[(n * s.c)..<((n + 1) * s.c)].reduce(0, +) / Double(s.c) }
    }
}

/// The elements of `t` in [0, 1] units, in Double.
func unitDoubles(_ t: Tensor, _ range: PixelRange) -> [Double] {
    let (a, b) = range.toUnit
    return t.storage.map { a * Double($0) + b }
}
