import Foundation
import LatentTensor

/// How SSIM and MS-SSIM treat image scales smaller than the Gaussian window.
///
/// The reference 5-scale MS-SSIM with an 11-tap window needs a smaller side > 160 px
/// (pytorch_msssim asserts it): at 64×64 the scales are 64, 32, 16, 8 and 4 px, and the last two
/// cannot hold an 11×11 window.
public enum SSIMWindowPolicy: String, Sendable, CaseIterable {
    /// The reference definition only: throws `ImageInputError` when a scale is smaller than the window.
    case standard
    /// "Truncated window": at a scale whose smaller side s is below the window size, use the
    /// largest odd window ≤ s with the same σ (1.5), renormalised to sum 1. At 64×64 the 8×8 and
    /// 4×4 scales use 7 and 3 taps. Identical to `.standard` whenever every scale fits the window.
    case truncate
}

/// Options of MS-SSIM (Wang, Simoncelli & Bovik 2003), defaults as pytorch_msssim.
public struct MSSSIMOptions: Sendable, Equatable {
    /// Exponents of the scales, finest first; their count is the number of scales.
    public var scaleWeights: [Double]
    /// Gaussian window size (odd) and σ.
    public var windowSize: Int
    public var windowSigma: Double
    public var constants: SSIMConstants
    public var windowPolicy: SSIMWindowPolicy

    public init(scaleWeights: [Double] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333],
                windowSize: Int = 11, windowSigma: Double = 1.5,
                constants: SSIMConstants = SSIMConstants(),
                windowPolicy: SSIMWindowPolicy = .truncate) {
        self.scaleWeights = scaleWeights; self.windowSize = windowSize; self.windowSigma = windowSigma
        self.constants = constants; self.windowPolicy = windowPolicy
    }
}

/// The window used on an `[h, w]` plane under `policy`.
func ssimWindow(h: Int, w: Int, size: Int, sigma: Double, policy: SSIMWindowPolicy,
                argument: String = "reconstruction") throws -> GaussianWindow {
    guard size >= 1, size % 2 == 1 else { throw ImageInputError("windowSize", "must be odd and positive, got \(size)") }
    guard sigma > 0, sigma.isFinite else { throw ImageInputError("windowSigma", "must be positive, got \(sigma)") }
    let side = min(h, w)
    if side >= size { return GaussianWindow(size: size, sigma: sigma) }
    switch policy {
    case .standard:
        throw ImageInputError(argument, "a \(h)×\(w) scale is smaller than the \(size)-tap SSIM window " +
                              "(windowPolicy .standard); use .truncate or larger images")
    case .truncate:
        return GaussianWindow(size: side % 2 == 1 ? side : side - 1, sigma: sigma)
    }
}

/// MS-SSIM of one plane pair with its backward: pytorch_msssim's `ms_ssim` per channel —
/// `Πₛ relu(csₛ)^wₛ` over the finer scales times `relu(ssim)^w` at the coarsest, 2×2 average
/// pooling (zero padding of odd sides, count_include_pad) between scales.
struct MSSSIMPyramid {
    let options: MSSSIMOptions
    let sizes: [(h: Int, w: Int)]
    let windows: [GaussianWindow]

    init(h: Int, w: Int, options: MSSSIMOptions) throws {
        guard !options.scaleWeights.isEmpty, options.scaleWeights.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw ImageInputError("scaleWeights", "needs at least one non-negative weight, got \(options.scaleWeights)")
        }
        var sizes = [(h, w)]
        for _ in 1..<options.scaleWeights.count { sizes.append(averagePool2x2Size(h: sizes.last!.0, w: sizes.last!.1)) }
        self.options = options
        self.sizes = sizes.map { (h: $0.0, w: $0.1) }
        self.windows = try sizes.map {
            try ssimWindow(h: $0.0, w: $0.1, size: options.windowSize, sigma: options.windowSigma, policy: options.windowPolicy)
        }
    }

    var scaleCount: Int { sizes.count }

    /// Per-scale weights of the valid SSIM positions from a `[h, w]` mask: the mask is pooled like
    /// the images and each position weighs the mask value at its window centre; normalised to 1.
    func maskWeights(_ mask: UnsafePointer<Float>) throws -> [[Double]] {
        var m = (0..<(sizes[0].h * sizes[0].w)).map { Double(mask[$0]) }
        var out = [[Double]]()
        for s in 0..<scaleCount {
            let (h, w) = sizes[s], r = windows[s].radius
            let oh = h - windows[s].size + 1, ow = w - windows[s].size + 1
            var wt = [Double](repeating: 0, count: oh * ow)
            for oy in 0..<oh { for ox in 0..<ow { wt[oy * ow + ox] = m[(oy + r) * w + ox + r] } }
            let sum = wt.reduce(0, +)
            guard sum > 0 else {
                throw ImageInputError("mask", "has no weight inside the SSIM window centres at scale \(s) (\(h)×\(w)); " +
                                      "masked pixels must lie at least \(r) px (at that scale) from the border")
            }
            out.append(wt.map { $0 / sum })
            if s + 1 < scaleCount {
                var next = [Double](repeating: 0, count: sizes[s + 1].h * sizes[s + 1].w)
                averagePool2x2(m, h: h, w: w, out: &next)
                m = next
            }
        }
        return out
    }

    /// MS-SSIM of `x` against `y` (`[h, w]` planes in [0, 1] units). With `upstream`, *adds*
    /// `upstream · ∂MS-SSIM/∂x` into `gradX`. Where a clamped term is 0 the value is 0 and the
    /// gradient 0 (the power's derivative is unbounded there; torch would give NaN or inf).
    func evaluate(x: [Double], y: [Double], weights: [[Double]]?,
                  upstream: Double? = nil, gradX: UnsafeMutablePointer<Double>? = nil) -> Double {
        var xs = [x], ys = [y]
        for s in 1..<max(scaleCount, 1) {
            let (h, w) = sizes[s - 1]
            var px = [Double](repeating: 0, count: sizes[s].h * sizes[s].w), py = px
            averagePool2x2(xs[s - 1], h: h, w: w, out: &px)
            averagePool2x2(ys[s - 1], h: h, w: w, out: &py)
            xs.append(px); ys.append(py)
        }
        let last = scaleCount - 1
        var values = [Double](repeating: 0, count: scaleCount)
        for s in 0..<scaleCount {
            let r = weightsPointer(weights, s) { wp in
                SSIMPlane.evaluate(x: xs[s], y: ys[s], h: sizes[s].h, w: sizes[s].w, window: windows[s],
                                   constants: options.constants, weights: wp)
            }
            values[s] = max(s == last ? r.ssim : r.cs, 0)
        }
        var ms = 1.0
        for s in 0..<scaleCount { ms *= pow(values[s], options.scaleWeights[s]) }
        guard let upstream, let gradX else { return ms }

        var acc = [Double]()
        for s in stride(from: last, through: 0, by: -1) {
            var g = [Double](repeating: 0, count: sizes[s].h * sizes[s].w)
            if s < last { averagePool2x2Adjoint(acc, h: sizes[s].h, w: sizes[s].w, into: &g) }
            let gv = values[s] > 0 ? upstream * ms * options.scaleWeights[s] / values[s] : 0
            if gv != 0 {
                g.withUnsafeMutableBufferPointer { gp in
                    _ = weightsPointer(weights, s) { wp in
                        SSIMPlane.evaluate(x: xs[s], y: ys[s], h: sizes[s].h, w: sizes[s].w, window: windows[s],
                                           constants: options.constants, weights: wp,
                                           gradSSIM: s == last ? gv : 0, gradCS: s == last ? 0 : gv,
                                           gradX: gp.baseAddress!)
                    }
                }
            }
            acc = g
        }
        for i in 0..<acc.count { gradX[i] += acc[i] }
        return ms
    }

    private func weightsPointer<R>(_ weights: [[Double]]?, _ s: Int, _ body: (UnsafePointer<Double>?) -> R) -> R {
        guard let weights else { return body(nil) }
        return weights[s].withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
