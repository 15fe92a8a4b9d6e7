/// Constants of the SSIM index (Wang et al. 2004): `C1 = (K1·L)²`, `C2 = (K2·L)²`.
public struct SSIMConstants: Sendable, Equatable {
    public var k1: Double
    public var k2: Double
    /// Dynamic range L of the [0, 1] images the index is computed on.
    public var dataRange: Double
    public init(k1: Double = 0.01, k2: Double = 0.03, dataRange: Double = 1) {
        self.k1 = k1; self.k2 = k2; self.dataRange = dataRange
    }
    public var c1: Double { (k1 * dataRange) * (k1 * dataRange) }
    public var c2: Double { (k2 * dataRange) * (k2 * dataRange) }
}

/// SSIM of one pair of `[h, w]` planes at one scale, forward and backward, in Double.
///
/// With `μ = G∗x`, `σ² = G∗x² − μ²`, `σxy = G∗(xy) − μx·μy` over valid window positions
/// (G the Gaussian window, no padding, as pytorch_msssim and skimage's
/// `structural_similarity(gaussian_weights=True, use_sample_covariance=False)` after its border
/// crop): `cs = (2σxy + C2) / (σx² + σy² + C2)`, `l = (2μxμy + C1) / (μx² + μy² + C1)`,
/// `ssim = l·cs`. The results are the weighted means of the `ssim` and `cs` maps.
enum SSIMPlane {
    /// - Parameters:
    ///   - weights: `[h−k+1, w−k+1]` weights of the valid positions summing to 1, or nil for the
    ///     plain mean.
    ///   - gradSSIM, gradCS, gradX: when `gradX` is given, *adds* `gradSSIM·∂ssim/∂x +
    ///     gradCS·∂cs/∂x` into it (`[h, w]`); `y` is a constant.
    static func evaluate(x: UnsafePointer<Double>, y: UnsafePointer<Double>, h: Int, w: Int,
                         window: GaussianWindow, constants: SSIMConstants,
                         weights: UnsafePointer<Double>?,
                         gradSSIM: Double = 0, gradCS: Double = 0,
                         gradX: UnsafeMutablePointer<Double>? = nil) -> (ssim: Double, cs: Double) {
        let k = window.size
        precondition(h >= k && w >= k, "SSIM plane \(h)×\(w) smaller than its \(k)-tap window")
        let oh = h - k + 1, ow = w - k + 1, p = oh * ow, n = h * w
        let c1 = constants.c1, c2 = constants.c2
        let wantGrad = gradX != nil
        // Layout: products xx, yy, xy [n each]; tmp [h·ow]; five filtered maps [p each];
        // when differentiating, three map gradients [p each] and three adjoint results [n each].
        let total = 3 * n + h * ow + 5 * p + (wantGrad ? 3 * p + 3 * n : 0)
        let buffer = UnsafeMutablePointer<Double>.allocate(capacity: total)
        defer { buffer.deallocate() }
        let xx = buffer, yy = xx + n, xy = yy + n, tmp = xy + n
        let mx = tmp + h * ow, my = mx + p, exx = my + p, eyy = exx + p, exy = eyy + p
        for i in 0..<n {
            xx[i] = x[i] * x[i]; yy[i] = y[i] * y[i]; xy[i] = x[i] * y[i]
        }
        var ssimSum = 0.0, csSum = 0.0
        window.taps.withUnsafeBufferPointer { gw in
            let g = gw.baseAddress!
            gaussianFilterValid(x, h: h, w: w, window: g, k: k, tmp: tmp, out: mx)
            gaussianFilterValid(y, h: h, w: w, window: g, k: k, tmp: tmp, out: my)
            gaussianFilterValid(xx, h: h, w: w, window: g, k: k, tmp: tmp, out: exx)
            gaussianFilterValid(yy, h: h, w: w, window: g, k: k, tmp: tmp, out: eyy)
            gaussianFilterValid(xy, h: h, w: w, window: g, k: k, tmp: tmp, out: exy)
            let gEx = exy + p, gExx = gEx + p, gExy = gExx + p
            let uniform = 1 / Double(p)
            for i in 0..<p {
                let mux = mx[i], muy = my[i]
                let sxx = exx[i] - mux * mux, syy = eyy[i] - muy * muy, sxy = exy[i] - mux * muy
                let a = 2 * sxy + c2, b = sxx + syy + c2, cs = a / b
                let pl = 2 * mux * muy + c1, q = mux * mux + muy * muy + c1, l = pl / q
                let wt = weights?[i] ?? uniform
                ssimSum += wt * l * cs
                csSum += wt * cs
                if wantGrad {
                    // Upstream gradients of this position's maps, then the chain through
                    // cs(σxy, σx²), l(μx) and the moments σx² = E[x²] − μx², σxy = E[xy] − μxμy.
                    let gSSIMMap = gradSSIM * wt, gCSMap = gradCS * wt
                    let gcs = gCSMap + gSSIMMap * l
                    let gl = gSSIMMap * cs
                    let gsxy = gcs * 2 / b
                    let gsxx = -gcs * cs / b
                    let gmux = gl * (2 * muy - 2 * mux * l) / q
                    gExx[i] = gsxx
                    gExy[i] = gsxy
                    gEx[i] = gmux - 2 * mux * gsxx - muy * gsxy
                }
            }
            if let gradX {
                // ∂/∂x of G∗x, G∗x², G∗(xy): Gᵀ g, 2x ⊙ Gᵀ g, y ⊙ Gᵀ g.
                let ax = gExy + p, axx = ax + n, axy = axx + n
                for i in 0..<(3 * n) { ax[i] = 0 }
                gaussianFilterValidAdjoint(gEx, h: h, w: w, window: g, k: k, tmp: tmp, into: ax)
                gaussianFilterValidAdjoint(gExx, h: h, w: w, window: g, k: k, tmp: tmp, into: axx)
                gaussianFilterValidAdjoint(gExy, h: h, w: w, window: g, k: k, tmp: tmp, into: axy)
                for i in 0..<n { gradX[i] += ax[i] + 2 * x[i] * axx[i] + y[i] * axy[i] }
            }
        }
        return (ssimSum, csSum)
    }
}
