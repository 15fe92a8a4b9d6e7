import Foundation

/// A normalised 1-D Gaussian window, `g[i] ∝ exp(−(i − r)² / 2σ²)` for `i = 0 … size−1`,
/// `r = size / 2`, as `pytorch_msssim._fspecial_gauss_1d` and scipy's `gaussian_filter`
/// (truncate 3.5 gives 11 taps at σ = 1.5), in Double.
struct GaussianWindow: Equatable, Sendable {
    let taps: [Double]
    let sigma: Double
    var size: Int { taps.count }
    /// Offset from a valid output position to the centre pixel of its window.
    var radius: Int { (taps.count - 1) / 2 }

    init(size: Int, sigma: Double) {
        precondition(size >= 1 && size % 2 == 1, "Gaussian window size must be odd and positive, got \(size)")
        let r = Double(size / 2)
        var g = (0..<size).map { exp(-(Double($0) - r) * (Double($0) - r) / (2 * sigma * sigma)) }
        let s = g.reduce(0, +)
        for i in 0..<size { g[i] /= s }
        taps = g
        self.sigma = sigma
    }
}

/// Separable "valid" Gaussian filtering of one `[h, w]` plane (no padding, as the SSIM
/// references do): `out[oy, ox] = Σᵢ Σⱼ g[i]·g[j]·x[oy + i, ox + j]`, out `[h−k+1, w−k+1]`.
/// `tmp` holds `h·(w−k+1)` values.
@inline(__always)
func gaussianFilterValid(_ x: UnsafePointer<Double>, h: Int, w: Int, window: UnsafePointer<Double>, k: Int,
                         tmp: UnsafeMutablePointer<Double>, out: UnsafeMutablePointer<Double>) {
    let oh = h - k + 1, ow = w - k + 1
    for y in 0..<h {
        let src = x + y * w, dst = tmp + y * ow
        for ox in 0..<ow {
            var s = 0.0
            for j in 0..<k { s += window[j] * src[ox + j] }
            dst[ox] = s
        }
    }
    for oy in 0..<oh {
        let dst = out + oy * ow
        for ox in 0..<ow { dst[ox] = 0 }
        for i in 0..<k {
            let g = window[i], src = tmp + (oy + i) * ow
            for ox in 0..<ow { dst[ox] += g * src[ox] }
        }
    }
}

/// Adjoint of `gaussianFilterValid`: *adds* `Σ_{oy,ox} g[y−oy]·g[x−ox]·grad[oy, ox]` into
/// `x[y, x]` for the `[h, w]` plane. `tmp` holds `h·(w−k+1)` values.
@inline(__always)
func gaussianFilterValidAdjoint(_ grad: UnsafePointer<Double>, h: Int, w: Int, window: UnsafePointer<Double>, k: Int,
                                tmp: UnsafeMutablePointer<Double>, into x: UnsafeMutablePointer<Double>) {
    let oh = h - k + 1, ow = w - k + 1
    for i in 0..<(h * ow) { tmp[i] = 0 }
    for oy in 0..<oh {
        let src = grad + oy * ow
        for i in 0..<k {
            let g = window[i], dst = tmp + (oy + i) * ow
            for ox in 0..<ow { dst[ox] += g * src[ox] }
        }
    }
    for y in 0..<h {
        let src = tmp + y * ow, dst = x + y * w
        for ox in 0..<ow {
            let v = src[ox]
            for j in 0..<k { dst[ox + j] += window[j] * v }
        }
    }
}

/// `F.avg_pool2d(x, kernel_size=2, padding=(h % 2, w % 2))` on one `[h, w]` plane, as
/// pytorch_msssim pools between MS-SSIM scales: odd dimensions are zero-padded by one on both
/// sides and every window is divided by 4 (count_include_pad). Output `[(h+1)/2, (w+1)/2]`.
func averagePool2x2(_ x: UnsafePointer<Double>, h: Int, w: Int, out: UnsafeMutablePointer<Double>) {
    let ph = h % 2, pw = w % 2
    let oh = (h + 2 * ph - 2) / 2 + 1, ow = (w + 2 * pw - 2) / 2 + 1
    for oy in 0..<oh {
        for ox in 0..<ow {
            var s = 0.0
            for dy in 0..<2 {
                let y = 2 * oy - ph + dy
                if y < 0 || y >= h { continue }
                for dx in 0..<2 {
                    let xx = 2 * ox - pw + dx
                    if xx < 0 || xx >= w { continue }
                    s += x[y * w + xx]
                }
            }
            out[oy * ow + ox] = 0.25 * s
        }
    }
}

/// Output size of `averagePool2x2` for an `[h, w]` plane.
func averagePool2x2Size(h: Int, w: Int) -> (h: Int, w: Int) {
    ((h + 2 * (h % 2) - 2) / 2 + 1, (w + 2 * (w % 2) - 2) / 2 + 1)
}

/// Adjoint of `averagePool2x2`: *adds* each output gradient / 4 to its in-image inputs.
func averagePool2x2Adjoint(_ grad: UnsafePointer<Double>, h: Int, w: Int, into x: UnsafeMutablePointer<Double>) {
    let ph = h % 2, pw = w % 2
    let (oh, ow) = averagePool2x2Size(h: h, w: w)
    for oy in 0..<oh {
        for ox in 0..<ow {
            let g = 0.25 * grad[oy * ow + ox]
            for dy in 0..<2 {
                let y = 2 * oy - ph + dy
                if y < 0 || y >= h { continue }
                for dx in 0..<2 {
                    let xx = 2 * ox - pw + dx
                    if xx < 0 || xx >= w { continue }
                    x[y * w + xx] += g
                }
            }
        }
    }
}
