import LatentTensor

/// Polyphase form of the up-sampling path's "scatter the 3×3 transposed-convolution taps to the
/// stride-2 grid, then FIR with a separable 4-tap filter (padding 1)".
///
/// The scattered image `u` (`(2H+1) × (2W+1)`) has even columns `E[m] = T_kx0[m] + T_kx2[m−1]` and
/// odd columns `O[m] = T_kx1[m]` (likewise for rows and `ky`), so with the correlation taps
/// `a0…a3` the filtered even and odd outputs are
///
///     out[2m]   = a0·O[m−1] + a1·E[m] + a2·O[m] + a3·E[m+1]
///     out[2m+1] = a0·E[m]   + a1·O[m] + a2·E[m+1] + a3·O[m+1]
///
/// — contiguous vector work with no stride-2 writes. Rows are kept de-interleaved as
/// `[even W | odd W]` until the final write. The backward is the exact adjoint of these steps.
struct PolyphaseUpsample: Sendable {
    /// Horizontal (`a`) and vertical (`b`) taps of the effective correlation kernel.
    let a: (Float, Float, Float, Float)
    let b: (Float, Float, Float, Float)

    /// Applies when the layer is 3×3, up 2, with a separable 4×4 FIR and padding 1 on every side.
    init?(kernelSize: Int, up: Int, plan: Upfirdn2dPlan) {
        guard kernelSize == 3, up == 2, plan.fw == 4, plan.fh == 4, plan.up == 1, plan.down == 1,
              plan.padding == (1, 1, 1, 1), let (column, row) = plan.separable else { return nil }
        a = (row[0], row[1], row[2], row[3])
        b = (column[0], column[1], column[2], column[3])
    }

    /// Scratch floats `forward`/`backward` need for an `h × w` input plane.
    static func scratchCount(height h: Int, width w: Int) -> Int { (3 * h + (h + 1) + 2 * h + 2) * 2 * w + 2 * (w + 2) }

    /// `out` (`2h × 2w`) from the nine tap planes `t[(ky·3 + kx)·ld + iy·w + ix]`.
    func forward(_ t: UnsafePointer<Float>, ld: Int, height h: Int, width w: Int,
                 _ out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let w2 = 2 * w
        let hRows = scratch                       // [3][h][2w]: horizontal pass per tap row
        let ve = hRows + 3 * h * w2               // [h+1][2w]: even u-rows
        let row = ve + (h + 1) * w2               // [2w]
        let e = row + w2, o = e + (w + 2)         // E[0...w], O padded: o[m+1] = O[m]
        let (a0, a1, a2, a3) = a
        for ky in 0..<3 {
            for iy in 0..<h {
                let t0 = t + (ky * 3) * ld + iy * w, t1 = t0 + ld, t2 = t1 + ld
                e[0] = t0[0]
                for m in 1..<w { e[m] = t0[m] + t2[m - 1] }
                e[w] = t2[w - 1]
                o[0] = 0; o[w + 1] = 0
                (o + 1).update(from: t1, count: w)
                let he = hRows + (ky * h + iy) * w2, ho = he + w
                var m = 0
                while m + 8 <= w {
                    let om = ld8(o + m), om1 = ld8(o + m + 1), om2 = ld8(o + m + 2), em = ld8(e + m), em1 = ld8(e + m + 1)
                    st8(he + m, a0 * om + a1 * em + a2 * om1 + a3 * em1)
                    st8(ho + m, a0 * em + a1 * om1 + a2 * em1 + a3 * om2)
                    m += 8
                }
                while m < w {
                    he[m] = a0 * o[m] + a1 * e[m] + a2 * o[m + 1] + a3 * e[m + 1]
                    ho[m] = a0 * e[m] + a1 * o[m + 1] + a2 * e[m + 1] + a3 * o[m + 2]
                    m += 1
                }
            }
        }
        // Even u-rows: VE[m] = H_ky0[m] + H_ky2[m−1]; odd u-rows are H_ky1 directly.
        let h0 = hRows, h1 = hRows + h * w2, h2 = hRows + 2 * h * w2
        for m in 0...h {
            let dst = ve + m * w2
            if m < h && m > 0 {
                let s0 = h0 + m * w2, s2 = h2 + (m - 1) * w2
                var q = 0
                while q + 8 <= w2 { st8(dst + q, ld8(s0 + q) + ld8(s2 + q)); q += 8 }
                while q < w2 { dst[q] = s0[q] + s2[q]; q += 1 }
            } else if m == 0 {
                dst.update(from: h0, count: w2)
            } else {
                dst.update(from: h2 + (h - 1) * w2, count: w2)
            }
        }
        let (b0, b1, b2, b3) = b
        for m in 0..<h {
            let vePrev = ve + m * w2, veNext = ve + (m + 1) * w2
            let vo = h1 + m * w2
            // Row 2m: b0·VO[m−1] + b1·VE[m] + b2·VO[m] + b3·VE[m+1].
            if m > 0 {
                let voPrev = h1 + (m - 1) * w2
                var q = 0
                while q + 8 <= w2 {
                    st8(row + q, b0 * ld8(voPrev + q) + b1 * ld8(vePrev + q) + b2 * ld8(vo + q) + b3 * ld8(veNext + q)); q += 8
                }
                while q < w2 { row[q] = b0 * voPrev[q] + b1 * vePrev[q] + b2 * vo[q] + b3 * veNext[q]; q += 1 }
            } else {
                var q = 0
                while q + 8 <= w2 { st8(row + q, b1 * ld8(vePrev + q) + b2 * ld8(vo + q) + b3 * ld8(veNext + q)); q += 8 }
                while q < w2 { row[q] = b1 * vePrev[q] + b2 * vo[q] + b3 * veNext[q]; q += 1 }
            }
            interleave(row, w, out + (2 * m) * w2)
            // Row 2m+1: b0·VE[m] + b1·VO[m] + b2·VE[m+1] + b3·VO[m+1].
            if m + 1 < h {
                let voNext = h1 + (m + 1) * w2
                var q = 0
                while q + 8 <= w2 {
                    st8(row + q, b0 * ld8(vePrev + q) + b1 * ld8(vo + q) + b2 * ld8(veNext + q) + b3 * ld8(voNext + q)); q += 8
                }
                while q < w2 { row[q] = b0 * vePrev[q] + b1 * vo[q] + b2 * veNext[q] + b3 * voNext[q]; q += 1 }
            } else {
                var q = 0
                while q + 8 <= w2 { st8(row + q, b0 * ld8(vePrev + q) + b1 * ld8(vo + q) + b2 * ld8(veNext + q)); q += 8 }
                while q < w2 { row[q] = b0 * vePrev[q] + b1 * vo[q] + b2 * veNext[q]; q += 1 }
            }
            interleave(row, w, out + (2 * m + 1) * w2)
        }
    }

    /// Adjoint of `forward`: from `g` (`2h × 2w`) the gradients of the nine tap planes, written to
    /// `gt[(ky·3 + kx)·ld + iy·w + ix]`.
    func backward(_ g: UnsafePointer<Float>, height h: Int, width w: Int,
                  _ gt: UnsafeMutablePointer<Float>, ld: Int, scratch: UnsafeMutablePointer<Float>) {
        let w2 = 2 * w
        let gd = scratch                           // [2h][2w]: de-interleaved rows of g
        let gve = gd + 2 * h * w2                  // [h+1][2w]
        let gvo = gve + (h + 1) * w2               // [h][2w]
        let ge = gvo + h * w2, go = ge + (w + 2)   // gE[0...w], gO[0..<w]
        for r in 0..<(2 * h) { deinterleave(g + r * w2, w, gd + r * w2) }
        let (b0, b1, b2, b3) = b
        // gVE[j] = b1·G[2j] + b3·G[2j−2] + b0·G[2j+1] + b2·G[2j−1]  (rows outside [0, 2h) are 0)
        // gVO[j] = b0·G[2j+2] + b2·G[2j] + b1·G[2j+1] + b3·G[2j−1]
        @inline(__always) func accumulate(_ dst: UnsafeMutablePointer<Float>, row r: Int, _ c: Float) {
            guard r >= 0 && r < 2 * h else { return }
            let src = gd + r * w2
            let cv = SIMD8<Float>(repeating: c)
            var q = 0
            while q + 8 <= w2 { st8(dst + q, ld8(dst + q) + cv * ld8(src + q)); q += 8 }
            while q < w2 { dst[q] += c * src[q]; q += 1 }
        }
        for j in 0...h {
            let dst = gve + j * w2
            dst.initialize(repeating: 0, count: w2)
            accumulate(dst, row: 2 * j, b1); accumulate(dst, row: 2 * j - 2, b3)
            accumulate(dst, row: 2 * j + 1, b0); accumulate(dst, row: 2 * j - 1, b2)
        }
        for j in 0..<h {
            let dst = gvo + j * w2
            dst.initialize(repeating: 0, count: w2)
            accumulate(dst, row: 2 * j + 2, b0); accumulate(dst, row: 2 * j, b2)
            accumulate(dst, row: 2 * j + 1, b1); accumulate(dst, row: 2 * j - 1, b3)
        }
        // Tap rows: gH0[j] = gVE[j], gH2[j] = gVE[j+1], gH1[j] = gVO[j]; then the horizontal adjoint.
        let (a0, a1, a2, a3) = a
        for ky in 0..<3 {
            for iy in 0..<h {
                let gh = ky == 0 ? gve + iy * w2 : ky == 2 ? gve + (iy + 1) * w2 : gvo + iy * w2
                let ghe = gh, gho = gh + w
                // gE[j] = a1·gHe[j] + a3·gHe[j−1] + a0·gHo[j] + a2·gHo[j−1], j = 0…w
                ge[0] = a1 * ghe[0] + a0 * gho[0]
                var j = 1
                while j + 8 <= w {
                    st8(ge + j, a1 * ld8(ghe + j) + a3 * ld8(ghe + j - 1) + a0 * ld8(gho + j) + a2 * ld8(gho + j - 1)); j += 8
                }
                while j < w { ge[j] = a1 * ghe[j] + a3 * ghe[j - 1] + a0 * gho[j] + a2 * gho[j - 1]; j += 1 }
                ge[w] = a3 * ghe[w - 1] + a2 * gho[w - 1]
                // gO[j] = a0·gHe[j+1] + a2·gHe[j] + a1·gHo[j] + a3·gHo[j−1], j = 0..<w
                // (the same sums in the same order; interior j vectorised, the two edges scalar).
                @inline(__always) func gO(_ j: Int) -> Float {
                    var v = a2 * ghe[j] + a1 * gho[j]
                    if j + 1 < w { v += a0 * ghe[j + 1] }
                    if j > 0 { v += a3 * gho[j - 1] }
                    return v
                }
                go[0] = gO(0)
                j = 1
                while j + 8 <= w - 1 {
                    st8(go + j, a2 * ld8(ghe + j) + a1 * ld8(gho + j) + a0 * ld8(ghe + j + 1) + a3 * ld8(gho + j - 1)); j += 8
                }
                while j < w { go[j] = gO(j); j += 1 }
                let d0 = gt + (ky * 3) * ld + iy * w, d1 = d0 + ld, d2 = d1 + ld
                d0.update(from: ge, count: w)           // gT0[j] = gE[j]
                d2.update(from: ge + 1, count: w)       // gT2[j] = gE[j+1]
                d1.update(from: go, count: w)           // gT1[j] = gO[j]
            }
        }
    }
}

/// `dst[2x] = row[x]`, `dst[2x+1] = row[w + x]`.
@inline(__always)
private func interleave(_ row: UnsafePointer<Float>, _ w: Int, _ dst: UnsafeMutablePointer<Float>) {
    var x = 0
    while x + 4 <= w {
        let e = UnsafeRawPointer(row + x).loadUnaligned(as: SIMD4<Float>.self)
        let o = UnsafeRawPointer(row + w + x).loadUnaligned(as: SIMD4<Float>.self)
        st8(dst + 2 * x, SIMD8(e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3]))
        x += 4
    }
    while x < w { dst[2 * x] = row[x]; dst[2 * x + 1] = row[w + x]; x += 1 }
}

/// `dst[x] = src[2x]`, `dst[w + x] = src[2x+1]`.
@inline(__always)
private func deinterleave(_ src: UnsafePointer<Float>, _ w: Int, _ dst: UnsafeMutablePointer<Float>) {
    var x = 0
    while x + 4 <= w {
        let v = ld8(src + 2 * x)
        UnsafeMutableRawPointer(dst + x).storeBytes(of: SIMD4(v[0], v[2], v[4], v[6]), as: SIMD4<Float>.self)
        UnsafeMutableRawPointer(dst + w + x).storeBytes(of: SIMD4(v[1], v[3], v[5], v[7]), as: SIMD4<Float>.self)
        x += 4
    }
    while x < w { dst[x] = src[2 * x]; dst[w + x] = src[2 * x + 1]; x += 1 }
}

/// Unaligned 8-float load and store (the polyphase rows start at any float offset).
@inline(__always)
private func ld8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
@inline(__always)
private func ld8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
@inline(__always)
private func st8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self) }
