import Foundation

/// Straightforward Double implementations of the losses, written from the definitions (explicit
/// 2-D windows, explicit DFT sums), for forward comparisons and finite-difference gradients.
/// Images are flat `[N, C, H, W]` arrays in the given units; masks flat `[N or 1, 1, H, W]`.
enum NaiveLosses {
    static func pixel(_ x: [Double], _ y: [Double], n: Int, c: Int, h: Int, w: Int, mask: [Double]?,
                      _ phi: (Double) -> Double) -> [Double] {
        (0..<n).map { nn in
            var acc = 0.0, msum = 0.0
            for i in 0..<(h * w) {
                let m = mask.map { $0[($0.count == h * w ? 0 : nn * h * w) + i] } ?? 1
                msum += m
                for cc in 0..<c { let k = (nn * c + cc) * h * w + i; acc += m * phi(x[k] - y[k]) }
            }
            return acc / (Double(c) * msum)
        }
    }

    // MARK: MS-SSIM

    static func gaussian(_ k: Int, _ sigma: Double = 1.5) -> [Double] {
        let g = (0..<k).map { exp(-Double(($0 - k / 2) * ($0 - k / 2)) / (2 * sigma * sigma)) }
        let s = g.reduce(0, +)
        return g.map { $0 / s }
    }

    /// avg_pool2d(kernel 2, stride 2, padding (h%2, w%2), count_include_pad=True).
    static func pool(_ p: [Double], _ h: Int, _ w: Int) -> ([Double], Int, Int) {
        let ph = h % 2, pw = w % 2
        let oh = (h + 2 * ph - 2) / 2 + 1, ow = (w + 2 * pw - 2) / 2 + 1
        var out = [Double](repeating: 0, count: oh * ow)
        for oy in 0..<oh { for ox in 0..<ow {
            var s = 0.0
            for dy in 0..<2 { for dx in 0..<2 {
                let y = 2 * oy - ph + dy, x = 2 * ox - pw + dx
                if y >= 0 && y < h && x >= 0 && x < w { s += p[y * w + x] }
            } }
            out[oy * ow + ox] = s / 4
        } }
        return (out, oh, ow)
    }

    /// (mean ssim map, mean cs map) with an explicit k×k window; `weights` over valid positions.
    static func ssim(_ x: [Double], _ y: [Double], _ h: Int, _ w: Int, k: Int, weights: [Double]?) -> (Double, Double) {
        let g = gaussian(k), c1 = 1e-4, c2 = 9e-4
        let oh = h - k + 1, ow = w - k + 1
        var ss = 0.0, cs = 0.0, wsum = 0.0
        for oy in 0..<oh { for ox in 0..<ow {
            var mx = 0.0, my = 0.0, exx = 0.0, eyy = 0.0, exy = 0.0
            for i in 0..<k { for j in 0..<k {
                let a = x[(oy + i) * w + ox + j], b = y[(oy + i) * w + ox + j], t = g[i] * g[j]
                mx += t * a; my += t * b; exx += t * a * a; eyy += t * b * b; exy += t * a * b
            } }
            let csv = (2 * (exy - mx * my) + c2) / ((exx - mx * mx) + (eyy - my * my) + c2)
            let l = (2 * mx * my + c1) / (mx * mx + my * my + c1)
            let wt = weights?[oy * ow + ox] ?? 1
            ss += wt * l * csv; cs += wt * csv; wsum += wt
        } }
        return (ss / wsum, cs / wsum)
    }

    /// 1 − MS-SSIM per image on [0, 1] planes, with the truncated-window policy.
    static func msssimLoss(_ x: [Double], _ y: [Double], n: Int, c: Int, h: Int, w: Int, mask: [Double]?,
                           scaleWeights: [Double] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]) -> [Double] {
        (0..<n).map { nn in
            var total = 0.0
            for cc in 0..<c {
                let off = (nn * c + cc) * h * w
                var xs = Array(x[off..<(off + h * w)]), ys = Array(y[off..<(off + h * w)])
                var ms: [Double]? = mask.map { m in let o = m.count == h * w ? 0 : nn * h * w; return Array(m[o..<(o + h * w)]) }
                var (hh, ww) = (h, w)
                var prod = 1.0
                for s in 0..<scaleWeights.count {
                    let side = min(hh, ww), k = min(11, side % 2 == 1 ? side : side - 1)
                    var weights: [Double]? = nil
                    if let m = ms {
                        let r = (k - 1) / 2, oh = hh - k + 1, ow = ww - k + 1
                        weights = (0..<(oh * ow)).map { m[($0 / ow + r) * ww + $0 % ow + r] }
                    }
                    let (ss, cs) = ssim(xs, ys, hh, ww, k: k, weights: weights)
                    prod *= pow(max(s == scaleWeights.count - 1 ? ss : cs, 0), scaleWeights[s])
                    if s + 1 < scaleWeights.count {
                        let px = pool(xs, hh, ww), py = pool(ys, hh, ww)
                        if let m = ms { ms = pool(m, hh, ww).0 }
                        xs = px.0; ys = py.0; hh = px.1; ww = px.2
                    }
                }
                total += prod
            }
            return 1 - total / Double(c)
        }
    }

    // MARK: Focal frequency loss

    /// Full complex DFT (orthonormal) of one [h, w] real plane: (re, im) [h·w]; along rows, then
    /// along columns, with exact twiddles `exp(−2πi·(k·n mod N)/N)`.
    static func dft2(_ p: [Double], _ h: Int, _ w: Int) -> ([Double], [Double]) {
        let cw = (0..<w).map { cos(-2 * Double.pi * Double($0) / Double(w)) }, sw = (0..<w).map { sin(-2 * Double.pi * Double($0) / Double(w)) }
        let ch = (0..<h).map { cos(-2 * Double.pi * Double($0) / Double(h)) }, sh = (0..<h).map { sin(-2 * Double.pi * Double($0) / Double(h)) }
        var tr = [Double](repeating: 0, count: h * w), ti = tr
        for n1 in 0..<h { for k2 in 0..<w {
            var a = 0.0, b = 0.0
            for n2 in 0..<w { let t = k2 * n2 % w; a += p[n1 * w + n2] * cw[t]; b += p[n1 * w + n2] * sw[t] }
            tr[n1 * w + k2] = a; ti[n1 * w + k2] = b
        } }
        var re = [Double](repeating: 0, count: h * w), im = re
        let norm = 1 / Double(h * w).squareRoot()
        for k1 in 0..<h { for k2 in 0..<w {
            var a = 0.0, b = 0.0
            for n1 in 0..<h {
                let t = k1 * n1 % h, (u, v) = (tr[n1 * w + k2], ti[n1 * w + k2])
                a += u * ch[t] - v * sh[t]; b += u * sh[t] + v * ch[t]
            }
            re[k1 * w + k2] = a * norm; im[k1 * w + k2] = b * norm
        } }
        return (re, im)
    }

    /// Masked, patched difference spectra, ordered [N, P, C], each full [ph·pw] spectrum.
    static func ffSpectra(_ x: [Double], _ y: [Double], n: Int, c: Int, h: Int, w: Int, mask: [Double]?, pf: Int) -> [([Double], [Double])] {
        let ph = h / pf, pw = w / pf
        var out = [([Double], [Double])]()
        for nn in 0..<n { for p in 0..<(pf * pf) { for cc in 0..<c {
            var d = [Double](repeating: 0, count: ph * pw)
            for yy in 0..<ph { for xx in 0..<pw {
                let iy = (p / pf) * ph + yy, ix = (p % pf) * pw + xx
                let k = ((nn * c + cc) * h + iy) * w + ix
                let m = mask.map { $0[($0.count == h * w ? 0 : nn * h * w) + iy * w + ix] } ?? 1
                d[yy * pw + xx] = m * (x[k] - y[k])
            } }
            out.append(dft2(d, ph, pw))
        } } }
        return out
    }

    /// The reference's spectrum weights (per spectrum max, alpha, no log) from spectra.
    static func ffWeights(_ spectra: [([Double], [Double])], alpha: Double, logMatrix: Bool = false,
                          batchMatrix: Bool = false) -> [[Double]] {
        let raw = spectra.map { (re, im) in
            zip(re, im).map { (a, b) -> Double in
                let m = pow((a * a + b * b).squareRoot(), alpha)
                return logMatrix ? log(m + 1) : m
            }
        }
        let batchMax = raw.map { $0.max() ?? 0 }.max() ?? 0
        return raw.map { v in
            let mx = batchMatrix ? batchMax : (v.max() ?? 0)
            return v.map { mx > 0 ? min(max($0 / mx, 0), 1) : 0 }
        }
    }

    /// Per image Σ W|D|² / (C·Σm) with the given (frozen) weights.
    static func ffLoss(_ x: [Double], _ y: [Double], n: Int, c: Int, h: Int, w: Int, mask: [Double]?, pf: Int,
                       weights: [[Double]]) -> [Double] {
        let spectra = ffSpectra(x, y, n: n, c: c, h: h, w: w, mask: mask, pf: pf)
        return (0..<n).map { nn in
            var msum = Double(h * w)
            if let m = mask { let o = m.count == h * w ? 0 : nn * h * w; msum = m[o..<(o + h * w)].reduce(0, +) }
            var acc = 0.0
            for q in (nn * pf * pf * c)..<((nn + 1) * pf * pf * c) {
                let (re, im) = spectra[q]
                for i in 0..<re.count { acc += weights[q][i] * (re[i] * re[i] + im[i] * im[i]) }
            }
            return acc / (Double(c) * msum)
        }
    }
}
