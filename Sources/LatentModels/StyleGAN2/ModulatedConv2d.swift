import LatentTensor

/// StyleGAN2's modulated convolution (`modulated_conv2d` in NVlabs `networks_stylegan2.py`) in the
/// non-fused formulation, which is the same function as the fused one and lets one GEMM with the
/// shared weight cover the whole batch:
///
///     y[n] = dcoefs[n] ⊙ conv(weight, x[n] ⊙ styles[n])  (+ noise)
///     dcoefs[n, o] = (Σ_{i,k} (weight[o,i,k] · styles[n,i])² + 1e-8)^(-1/2)   (demodulate only)
///
/// `up = 2` follows `conv2d_resample`: a stride-2 transposed convolution (no weight flip), then
/// `upfirdn2d` with the resample filter, padding 1 and gain 4.
///
/// Internally activations use the layout `[C, N, H, W]` ("CNHW"): channel-major with the batch
/// inside, so the GEMM's columns run over every pixel of every sample.
public struct ModulatedConv2d: Sendable {
    public let outChannels: Int
    public let inChannels: Int
    public let kernelSize: Int
    /// 1 or 2.
    public let up: Int
    public let demodulate: Bool
    /// Padding with respect to the upsampled image (reference: `kernel_size // 2`).
    public let padding: Int
    /// `[O, I, k, k]`, raw (modulation and demodulation make any weight gain irrelevant).
    public let weight: Tensor
    /// `[O, I]`: Σ over taps of weight², for the demodulation coefficients.
    let weightSq: [Float]
    /// `up == 2`: the weight as `[O·k·k, I]` for the transposed convolution GEMM.
    let weightUpT: [Float]
    /// `up == 2`: the resample filter and its padding after the transposed convolution.
    let filter: Tensor?
    let firPadding: Upfirdn2dPadding

    /// - Parameters:
    ///   - weight: `[O, I, k, k]`, k odd.
    ///   - up: 1 or 2 (2 needs `resampleFilter`, e.g. `setupFilter([1, 3, 3, 1])`).
    ///   - demodulate: default true (ToRGB uses false).
    ///   - padding: default `k / 2`.
    public init(weight: Tensor, up: Int = 1, demodulate: Bool = true, padding: Int? = nil, resampleFilter: Tensor? = nil) {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3] && weight.shape[2] % 2 == 1,
                     "modulatedConv2d: weight must be [O, I, k, k] with odd k, got \(weight.shape)")
        precondition(up == 1 || up == 2, "modulatedConv2d: up must be 1 or 2, got \(up)")
        let o = weight.shape[0], i = weight.shape[1], k = weight.shape[2], kk = k * k
        self.outChannels = o; self.inChannels = i; self.kernelSize = k
        self.up = up; self.demodulate = demodulate; self.padding = padding ?? k / 2
        self.weight = weight
        var sq = [Float](repeating: 0, count: o * i)
        for r in 0..<(o * i) {
            var s: Float = 0
            for t in 0..<kk { let v = weight.storage[r * kk + t]; s += v * v }
            sq[r] = s
        }
        self.weightSq = sq
        if up == 2 {
            guard let f = resampleFilter else { preconditionFailure("modulatedConv2d: up = 2 needs a resample filter") }
            var wt = [Float](repeating: 0, count: o * kk * i)
            for oc in 0..<o { for ic in 0..<i { for t in 0..<kk {
                wt[(oc * kk + t) * i + ic] = weight.storage[(oc * i + ic) * kk + t]
            } } }
            self.weightUpT = wt
            self.filter = f
            // conv2d_resample: padding grows by the filter's upsampling padding, then shrinks by
            // what the transposed convolution already covers.
            let fw = f.rank == 1 ? f.shape[0] : f.shape[1], fh = f.shape[0]
            let p = self.padding
            let px0 = p + (fw + up - 1) / 2 - (k - 1), px1 = p + (fw - up) / 2 - (k - up)
            let py0 = p + (fh + up - 1) / 2 - (k - 1), py1 = p + (fh - up) / 2 - (k - up)
            precondition(max(min(-px0, -px1), 0) == 0 && max(min(-py0, -py1), 0) == 0,
                         "modulatedConv2d: transposed-convolution padding is not supported for this kernel/filter")
            self.firPadding = (px0, px1, py0, py1)
        } else {
            self.weightUpT = []
            self.filter = nil
            self.firPadding = (0, 0, 0, 0)
        }
    }

    /// Output `(height, width)` for an `h × w` input.
    public func outputSize(height h: Int, width w: Int) -> (height: Int, width: Int) {
        if up == 1 { return (h + 2 * padding - kernelSize + 1, w + 2 * padding - kernelSize + 1) }
        let th = (h - 1) * 2 + kernelSize, tw = (w - 1) * 2 + kernelSize
        return upfirdn2dOutputSize(height: th, width: tw, filter: filter!, padding: firPadding)
    }

    /// FIR plan after the transposed convolution (`up == 2`).
    func firPlan(height h: Int, width w: Int) -> Upfirdn2dPlan {
        Upfirdn2dPlan(height: (h - 1) * 2 + kernelSize, width: (w - 1) * 2 + kernelSize, filter: filter!,
                      padding: firPadding, gain: Float(up * up))
    }

    // MARK: Demodulation

    /// `dcoefs[n, o] = (Σ_i styles[n,i]² · Σ_k weight[o,i,k]² + 1e-8)^(-1/2)`.
    /// - Parameter styles: `[N, I]`. - Returns: `[N, O]`.
    public func demodulationCoefficients(styles: Tensor) -> Tensor {
        let n = styles.shape[0]
        precondition(styles.shape == [n, inChannels], "modulatedConv2d: styles must be [N, \(inChannels)], got \(styles.shape)")
        var s2 = styles
        s2.storage = s2.storage.map { $0 * $0 }
        var d = Tensor.zeros([n, outChannels])
        s2.withUnsafeBufferPointer { ps in
            weightSq.withUnsafeBufferPointer { pw in
                d.withUnsafeMutableBufferPointer { pd in
                    sgemm(transB: true, m: n, n: outChannels, k: inChannels,
                          a: ps.baseAddress!, b: pw.baseAddress!, c: pd.baseAddress!)
                }
            }
        }
        d.storage = d.storage.map { 1 / ($0 + 1e-8).squareRoot() }
        return d
    }

    /// Adds the demodulation term to the style and weight gradients, given
    /// `gradDcoefs[n, o] = ∂L/∂dcoefs`: ∂dcoefs[n,o]/∂s[n,i] = −dcoefs³·s[n,i]·Σ_k w[o,i,k]² and
    /// ∂dcoefs[n,o]/∂w[o,i,k] = −dcoefs³·s[n,i]²·w[o,i,k].
    func demodulationBackward(styles: Tensor, dcoefs: Tensor, gradDcoefs: Tensor,
                              gradStyles: inout Tensor, gradWeight: inout Tensor?) {
        let n = styles.shape[0], o = outChannels, i = inChannels
        var g = Tensor.zeros([n, o])   // gradDcoefs · dcoefs³
        for t in 0..<(n * o) { let d = dcoefs.storage[t]; g.storage[t] = gradDcoefs.storage[t] * d * d * d }
        var m = Tensor.zeros([n, i])   // Σ_o g[n,o] · weightSq[o,i]
        g.withUnsafeBufferPointer { pg in
            weightSq.withUnsafeBufferPointer { pw in
                m.withUnsafeMutableBufferPointer { pm in
                    sgemm(m: n, n: i, k: o, a: pg.baseAddress!, b: pw.baseAddress!, c: pm.baseAddress!)
                }
            }
        }
        for t in 0..<(n * i) { gradStyles.storage[t] -= styles.storage[t] * m.storage[t] }
        guard gradWeight != nil else { return }
        var s2 = styles
        s2.storage = s2.storage.map { $0 * $0 }
        var q = Tensor.zeros([o, i])   // Σ_n g[n,o] · s[n,i]²
        g.withUnsafeBufferPointer { pg in
            s2.withUnsafeBufferPointer { ps in
                q.withUnsafeMutableBufferPointer { pq in
                    sgemm(transA: true, m: o, n: i, k: n, a: pg.baseAddress!, b: ps.baseAddress!, c: pq.baseAddress!)
                }
            }
        }
        let kk = kernelSize * kernelSize
        gradWeight!.withUnsafeMutableBufferPointer { pgw in
            for r in 0..<(o * i) {
                let qv = q.storage[r]
                for t in 0..<kk { pgw[r * kk + t] -= qv * weight.storage[r * kk + t] }
            }
        }
    }

    // MARK: Forward (CNHW)

    /// `conv(weight, x ⊙ styles)` without demodulation, noise or bias.
    /// - Parameters:
    ///   - x: `[I, N, H, W]` (CNHW).
    ///   - styles: `[N, I]`.
    /// - Returns: `[O, N, H', W']` (CNHW).
    func convolve(x: Tensor, styles: Tensor) -> Tensor {
        let i = inChannels, o = outChannels, k = kernelSize, kk = k * k
        precondition(x.rank == 4 && x.shape[0] == i, "modulatedConv2d: input must be [\(i), N, H, W], got \(x.shape)")
        let n = x.shape[1], h = x.shape[2], w = x.shape[3], hw = h * w
        precondition(styles.shape == [n, i], "modulatedConv2d: styles must be [\(n), \(i)], got \(styles.shape)")
        let (oh, ow) = outputSize(height: h, width: w)
        var out = Tensor.zeros([o, n, oh, ow])
        x.withUnsafeBufferPointer { px in
            styles.withUnsafeBufferPointer { ps in
                out.withUnsafeMutableBufferPointer { po in
                    let xp = px.baseAddress!, sp = ps.baseAddress!, op = po.baseAddress!
                    if up == 1 {
                        let cols = UnsafeMutablePointer<Float>.allocate(capacity: i * kk * n * hw)
                        defer { cols.deallocate() }
                        modulatedIm2col(xp, sp, channels: i, batch: n, height: h, width: w, cols)
                        sgemm(m: o, n: n * hw, k: i * kk, a: weight.storage, b: cols, c: op)
                    } else {
                        let xs = UnsafeMutablePointer<Float>.allocate(capacity: i * n * hw)
                        let t = UnsafeMutablePointer<Float>.allocate(capacity: o * kk * n * hw)
                        defer { xs.deallocate(); t.deallocate() }
                        modulate(xp, sp, channels: i, batch: n, pixels: hw, xs)
                        sgemm(m: o * kk, n: n * hw, k: i, a: weightUpT, b: xs, c: t)
                        transposedCol2imFIR(t, batch: n, height: h, width: w, op)
                    }
                }
            }
        }
        return out
    }

    /// `xs[c, n, p] = x[c, n, p] · s[n, c]`.
    func modulate(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, channels: Int, batch: Int, pixels: Int,
                  _ xs: UnsafeMutablePointer<Float>) {
        Parallel.forEach(channels * batch, minChunk: max(1, 16384 / max(pixels, 1))) { pn in
            let c = pn / batch, nn = pn % batch
            let sc = s[nn * channels + c]
            let src = x + pn * pixels, dst = xs + pn * pixels
            for q in 0..<pixels { dst[q] = src[q] * sc }
        }
    }

    /// Column matrix `[I·k·k, N·H·W]` of the modulated input (stride 1, zero padding `padding`).
    func modulatedIm2col(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>?, channels: Int, batch: Int,
                         height h: Int, width w: Int, _ cols: UnsafeMutablePointer<Float>) {
        let k = kernelSize, kk = k * k, hw = h * w, ld = batch * hw, pad = padding
        let oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1
        precondition(oh == h && ow == w, "modulatedIm2col expects 'same' padding")
        Parallel.forEach(channels * batch, minChunk: max(1, 8192 / max(hw * kk, 1))) { pn in
            let c = pn / batch, nn = pn % batch
            let sc: Float = s.map { $0[nn * channels + c] } ?? 1
            let src = x + pn * hw
            for ky in 0..<k {
                for kx in 0..<k {
                    let row = cols + (c * kk + ky * k + kx) * ld + nn * hw
                    let shift = kx - pad
                    let lo = min(max(0, -shift), w), hi = max(lo, min(w, w - shift))
                    for oy in 0..<h {
                        let iy = oy + ky - pad
                        let dst = row + oy * w
                        if iy < 0 || iy >= h {
                            dst.initialize(repeating: 0, count: w)
                            continue
                        }
                        let srow = src + iy * w + shift
                        for ox in 0..<lo { dst[ox] = 0 }
                        for ox in lo..<hi { dst[ox] = srow[ox] * sc }
                        for ox in hi..<w { dst[ox] = 0 }
                    }
                }
            }
        }
    }

    /// `up == 2` forward after the GEMM: scatter the transposed-convolution taps
    /// `t[(o,ky,kx), n, iy, ix]` to `u[o, n, 2·iy + ky, 2·ix + kx]`, then FIR each plane.
    func transposedCol2imFIR(_ t: UnsafePointer<Float>, batch: Int, height h: Int, width w: Int,
                             _ out: UnsafeMutablePointer<Float>) {
        let k = kernelSize, kk = k * k, hw = h * w, ld = batch * hw
        let plan = firPlan(height: h, width: w)
        let uh = plan.height, uw = plan.width, ohw = plan.outHeight * plan.outWidth
        Parallel.forRanges(outChannels * batch, minChunk: 1) { range in
            let u = UnsafeMutablePointer<Float>.allocate(capacity: uh * uw)
            defer { u.deallocate() }
            for pn in range {
                let o = pn / batch, nn = pn % batch
                u.initialize(repeating: 0, count: uh * uw)
                for ky in 0..<k {
                    for kx in 0..<k {
                        let src = t + (o * kk + ky * k + kx) * ld + nn * hw
                        for iy in 0..<h {
                            let urow = u + (2 * iy + ky) * uw + kx
                            let srow = src + iy * w
                            for ix in 0..<w { urow[2 * ix] += srow[ix] }
                        }
                    }
                }
                plan.run(u, planes: 1, out + pn * ohw, parallel: false)
            }
        }
    }

    // MARK: Backward (CNHW)

    /// Gradients of `c = conv(weight, x ⊙ styles)` (the output of `convolve`).
    /// - Parameters:
    ///   - gradOut: `∂L/∂c`, `[O, N, H', W']`.
    ///   - x: the forward input `[I, N, H, W]`; styles `[N, I]`.
    ///   - needWeight: also return `∂L/∂weight` `[O, I, k, k]`.
    /// - Returns: `gradX` `[I, N, H, W]`, `gradStyles` `[N, I]`, optional `gradWeight`.
    func convolveBackward(gradOut: Tensor, x: Tensor, styles: Tensor, needWeight: Bool)
        -> (gradX: Tensor, gradStyles: Tensor, gradWeight: Tensor?) {
        let i = inChannels, o = outChannels, k = kernelSize, kk = k * k
        let n = x.shape[1], h = x.shape[2], w = x.shape[3], hw = h * w
        var gx = Tensor.zeros([i, n, h, w])
        var gs = Tensor.zeros([n, i])
        var gw: Tensor? = needWeight ? Tensor.zeros([o, i, k, k]) : nil
        gradOut.withUnsafeBufferPointer { pg in
            x.withUnsafeBufferPointer { px in
                styles.withUnsafeBufferPointer { ps in
                    gx.withUnsafeMutableBufferPointer { pgx in
                        gs.withUnsafeMutableBufferPointer { pgs in
                            let gp = pg.baseAddress!, xp = px.baseAddress!, sp = ps.baseAddress!
                            let gxp = pgx.baseAddress!, gsp = pgs.baseAddress!
                            if up == 1 {
                                let gcols = UnsafeMutablePointer<Float>.allocate(capacity: i * kk * n * hw)
                                defer { gcols.deallocate() }
                                // ∂cols = weightᵀ · ∂c
                                sgemm(transA: true, m: i * kk, n: n * hw, k: o, a: weight.storage, lda: i * kk,
                                      b: gp, c: gcols)
                                col2imModulated(gcols, x: xp, s: sp, channels: i, batch: n, height: h, width: w,
                                                gradX: gxp, gradS: gsp)
                                if needWeight {
                                    // ∂weight = ∂c · colsᵀ, with cols recomputed.
                                    modulatedIm2col(xp, sp, channels: i, batch: n, height: h, width: w, gcols)
                                    gw!.withUnsafeMutableBufferPointer { pw in
                                        sgemm(transB: true, m: o, n: i * kk, k: n * hw, a: gp, b: gcols, c: pw.baseAddress!)
                                    }
                                }
                            } else {
                                let gt = UnsafeMutablePointer<Float>.allocate(capacity: o * kk * n * hw)
                                let gxs = UnsafeMutablePointer<Float>.allocate(capacity: i * n * hw)
                                defer { gt.deallocate(); gxs.deallocate() }
                                firBackwardIm2col(gp, batch: n, height: h, width: w, gt)
                                // ∂xs = weightUpTᵀ · ∂t
                                sgemm(transA: true, m: i, n: n * hw, k: o * kk, a: weightUpT, lda: i, b: gt, c: gxs)
                                demodulateInputGrad(gxs, x: xp, s: sp, channels: i, batch: n, pixels: hw,
                                                    gradX: gxp, gradS: gsp)
                                if needWeight {
                                    // ∂weightUpT = ∂t · xsᵀ, with xs recomputed, then back to [O, I, k, k].
                                    modulate(xp, sp, channels: i, batch: n, pixels: hw, gxs)
                                    var gwt = [Float](repeating: 0, count: o * kk * i)
                                    sgemm(transB: true, m: o * kk, n: i, k: n * hw, a: gt, b: gxs, c: &gwt)
                                    gw!.withUnsafeMutableBufferPointer { pw in
                                        for oc in 0..<o { for ic in 0..<i { for t in 0..<kk {
                                            pw[(oc * i + ic) * kk + t] = gwt[(oc * kk + t) * i + ic]
                                        } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (gx, gs, gw)
    }

    /// Folds `∂cols` back onto each input plane (adjoint of `modulatedIm2col`) into a scratch
    /// plane `∂xs`, then `∂x = ∂xs · s` and `∂s[n, c] = Σ_p ∂xs · x`.
    func col2imModulated(_ gcols: UnsafePointer<Float>, x: UnsafePointer<Float>, s: UnsafePointer<Float>,
                         channels: Int, batch: Int, height h: Int, width w: Int,
                         gradX: UnsafeMutablePointer<Float>, gradS: UnsafeMutablePointer<Float>) {
        let k = kernelSize, kk = k * k, hw = h * w, ld = batch * hw, pad = padding
        Parallel.forRanges(channels * batch, minChunk: max(1, 8192 / max(hw * kk, 1))) { range in
            let g = UnsafeMutablePointer<Float>.allocate(capacity: hw)
            defer { g.deallocate() }
            for pn in range {
                let c = pn / batch, nn = pn % batch
                g.initialize(repeating: 0, count: hw)
                for ky in 0..<k {
                    for kx in 0..<k {
                        let row = gcols + (c * kk + ky * k + kx) * ld + nn * hw
                        let shift = kx - pad       // ix = ox + shift
                        let lo = min(max(0, -shift), w), hi = max(lo, min(w, w - shift))
                        for oy in 0..<h {
                            let iy = oy + ky - pad
                            if iy < 0 || iy >= h { continue }
                            let src = row + oy * w
                            let dst = g + iy * w + shift
                            for ox in lo..<hi { dst[ox] += src[ox] }
                        }
                    }
                }
                let sc = s[nn * channels + c]
                let xp = x + pn * hw, gxp = gradX + pn * hw
                var dot: Float = 0
                for q in 0..<hw { dot += g[q] * xp[q]; gxp[q] = g[q] * sc }
                gradS[nn * channels + c] = dot
            }
        }
    }

    /// `∂x = ∂xs · s`, `∂s[n, c] = Σ_p ∂xs · x` for the `up == 2` path.
    func demodulateInputGrad(_ gxs: UnsafePointer<Float>, x: UnsafePointer<Float>, s: UnsafePointer<Float>,
                             channels: Int, batch: Int, pixels: Int,
                             gradX: UnsafeMutablePointer<Float>, gradS: UnsafeMutablePointer<Float>) {
        Parallel.forEach(channels * batch, minChunk: max(1, 16384 / max(pixels, 1))) { pn in
            let c = pn / batch, nn = pn % batch
            let sc = s[nn * channels + c]
            let g = gxs + pn * pixels, xp = x + pn * pixels, gxp = gradX + pn * pixels
            var dot: Float = 0
            for q in 0..<pixels { dot += g[q] * xp[q]; gxp[q] = g[q] * sc }
            gradS[nn * channels + c] = dot
        }
    }

    /// `up == 2` backward before the GEMM: the FIR's adjoint on each output-gradient plane, then
    /// gather the transposed-convolution taps (adjoint of the scatter in `transposedCol2imFIR`).
    func firBackwardIm2col(_ gradOut: UnsafePointer<Float>, batch: Int, height h: Int, width w: Int,
                           _ gt: UnsafeMutablePointer<Float>) {
        let k = kernelSize, kk = k * k, hw = h * w, ld = batch * hw
        let plan = firPlan(height: h, width: w).backwardPlan(filter: filter!, gain: Float(up * up))
        let uh = plan.outHeight, uw = plan.outWidth, ohw = plan.height * plan.width
        Parallel.forRanges(outChannels * batch, minChunk: 1) { range in
            let u = UnsafeMutablePointer<Float>.allocate(capacity: uh * uw)
            defer { u.deallocate() }
            for pn in range {
                let o = pn / batch, nn = pn % batch
                plan.run(gradOut + pn * ohw, planes: 1, u, parallel: false)
                for ky in 0..<k {
                    for kx in 0..<k {
                        let dst = gt + (o * kk + ky * k + kx) * ld + nn * hw
                        for iy in 0..<h {
                            let urow = u + (2 * iy + ky) * uw + kx
                            let drow = dst + iy * w
                            for ix in 0..<w { drow[ix] = urow[2 * ix] }
                        }
                    }
                }
            }
        }
    }
}
