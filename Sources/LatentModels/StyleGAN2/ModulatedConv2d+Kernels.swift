import LatentTensor

extension ModulatedConv2d {
    // MARK: Forward (CNHW)

    /// `conv(weight, x ⊙ styles)` without demodulation, noise or bias.
    /// - Parameters:
    ///   - x: `[I, N, H, W]` (CNHW).
    ///   - styles: `[N, I]`.
    /// - Returns: `[O, N, H', W']` (CNHW).
    func convolve(x: FeatureMap, styles: Tensor) -> FeatureMap {
        let i = inChannels
        precondition(x.channels == i, "modulatedConv2d: input must be [\(i), N, H, W], got \(x.shape)")
        let n = x.batch, h = x.height, w = x.width
        precondition(styles.shape == [n, i], "modulatedConv2d: styles must be [\(n), \(i)], got \(styles.shape)")
        let (oh, ow) = outputSize(height: h, width: w)
        let out = FeatureMap(shape: [outChannels, n, oh, ow])
        styles.withUnsafeBufferPointer { ps in
            Parallel.withSingleThreadedBLAS {
                if up == 1 && usesWinograd(batch: n, height: h, width: w) {
                    winogradConvolution(x.pointer, scales: ps.baseAddress!, adjoint: false, batch: n, height: h, width: w, out.pointer)
                } else if up == 1 {
                    weight.withUnsafeBufferPointer { pw in
                        sameConvolution(x.pointer, scales: ps.baseAddress!, channels: i, weights: pw.baseAddress!,
                                        outputs: outChannels, batch: n, height: h, width: w, out.pointer)
                    }
                } else {
                    forwardUp(x.pointer, ps.baseAddress!, batch: n, height: h, width: w, out.pointer)
                }
            }
        }
        return out
    }

    /// `xs[c, n, p] = x[c, n, p] · s[n, c]`.
    func modulate(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, batch: Int, pixels: Int,
                  _ xs: UnsafeMutablePointer<Float>) {
        let channels = inChannels
        Parallel.forEach(channels * batch, minChunk: max(1, 16384 / max(pixels, 1))) { pn in
            let sc = s[(pn % batch) * channels + pn / batch]
            vScale(x + pn * pixels, sc, xs + pn * pixels, pixels)
        }
    }

    /// Up-sampling convolution: `t = weightUpT · xs` per tile of (images, output channels), then
    /// scatter each channel's taps to the stride-2 grid and FIR-filter it into the output.
    ///
    /// On large maps (≥ 256 pixels, so one image per tile, and a tile's weight rows smaller than the input map) the
    /// style scales the tile's weight columns instead of the input (`weightUpT · diag(s[n]) · x[n]`):
    /// no modulated copy of the input (67 MB at 1024²) is written, read, or left idle in the pool.
    private func forwardUp(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, batch n: Int, height h: Int, width w: Int,
                           _ out: UnsafeMutablePointer<Float>) {
        let i = inChannels, kk = kernelSize * kernelSize, hw = h * w, ncol = n * hw
        let plan = firPlan(height: h, width: w)
        let poly = PolyphaseUpsample(kernelSize: kernelSize, up: up, plan: plan)
        let scratch = max(plan.height * plan.width, PolyphaseUpsample.scratchCount(height: h, width: w))
        // Decided by the map size alone (≥ 256 pixels: one image per tile at every batch size), so
        // an image is computed the same way alone or in a batch.
        let scaleWeights = hw >= GemmTiling.minColumns && outChannels * kk <= hw
        var tiling = GemmTiling(batch: n, pixels: hw, units: outChannels, unitRows: kk)
        if scaleWeights {
            // Blocks of ≥ 8 output channels (GEMM rows ≥ 72) over whole images, up to 64 MB of taps
            // each, as in the backward. With 2 MB tiles a 1024² layer had one channel per tile: GEMMs
            // of 9 rows that packed the 64 × 512² input again for each of the 32 channels (forward
            // 1.14–1.18 s → 0.96–1.0 s; the taps leave the cache either way at these sizes).
            // The tiles' scratch (75 MB each at 1024²) comes and goes with the layer.
            let fit = min(outChannels, max(Self.upMinChannels, Self.upGradientBudget / (kk * hw)))
            tiling = GemmTiling(batch: n, pixels: hw, units: outChannels, unitRows: kk,
                                tileFloats: fit * kk * hw, minColumns: hw)
        }
        let xs = scaleWeights ? nil : ScratchPool.shared.take(i * ncol)
        defer { if let xs { ScratchPool.shared.give(xs) } }
        if let xs { modulate(x, s, batch: n, pixels: hw, xs.pointer) }
        weightUpT.withUnsafeBufferPointer { pw in
            Parallel.forEachDynamic(tiling.count) { t in
                let (imgs, units) = tiling.tile(t)
                let rows = units.count * kk, cols = imgs.count * hw
                let tileWeights = pw.baseAddress! + units.lowerBound * kk * i
                withScratch(rows * cols + scratch + (scaleWeights ? rows * i : 0)) { tb in
                    if let xs {
                        sgemm(m: rows, n: cols, k: i, a: tileWeights, b: xs.pointer + imgs.lowerBound * hw, ldb: ncol, c: tb)
                    } else {
                        let nn = imgs.lowerBound, sw = tb + rows * cols + scratch, sn = s + nn * i
                        for r in 0..<rows { for c in 0..<i { sw[r * i + c] = tileWeights[r * i + c] * sn[c] } }
                        sgemm(m: rows, n: cols, k: i, a: sw, b: x + nn * hw, ldb: ncol, c: tb)
                    }
                    let u = tb + rows * cols
                    for o in units {
                        for nn in imgs {
                            let taps = tb + (o - units.lowerBound) * kk * cols + (nn - imgs.lowerBound) * hw
                            let dst = out + (o * n + nn) * plan.outHeight * plan.outWidth
                            if let poly {
                                poly.forward(taps, ld: cols, height: h, width: w, dst, scratch: u)
                            } else {
                                scatterTaps(taps, ld: cols, height: h, width: w, u, uw: plan.width, uCount: plan.height * plan.width)
                                plan.run(u, planes: 1, dst, parallel: false)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `u[2·iy + ky, 2·ix + kx] = Σ taps t[(ky,kx), iy, ix]` (the stride-2 transposed convolution's
    /// col2im for one plane); `t` rows have stride `ld`.
    @inline(__always)
    private func scatterTaps(_ t: UnsafePointer<Float>, ld: Int, height h: Int, width w: Int,
                             _ u: UnsafeMutablePointer<Float>, uw: Int, uCount: Int) {
        let k = kernelSize
        u.initialize(repeating: 0, count: uCount)
        for ky in 0..<k {
            for kx in 0..<k {
                let src = t + (ky * k + kx) * ld
                for iy in 0..<h {
                    let urow = u + (2 * iy + ky) * uw + kx
                    let srow = src + iy * w
                    for ix in 0..<w { urow[2 * ix] += srow[ix] }
                }
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
    func convolveBackward(gradOut: FeatureMap, x: FeatureMap, styles: Tensor, needWeight: Bool)
        -> (gradX: FeatureMap, gradStyles: Tensor, gradWeight: Tensor?) {
        let i = inChannels, n = x.batch, h = x.height, w = x.width
        var gs = Tensor.zeros([n, i])
        var gw: Tensor? = nil
        let gx = FeatureMap(shape: x.shape)
        styles.withUnsafeBufferPointer { ps in
            gs.withUnsafeMutableBufferPointer { pgs in
                Parallel.withSingleThreadedBLAS {
                    let gp = gradOut.pointer, xp = x.pointer, sp = ps.baseAddress!, gsp = pgs.baseAddress!
                    if up == 1 {
                        if 2 * padding == kernelSize - 1 {
                            backwardSameFlipped(gp, x: xp, s: sp, batch: n, height: h, width: w, gradX: gx.pointer, gradS: gsp)
                        } else {
                            backwardSame(gp, x: xp, s: sp, batch: n, height: h, width: w, gradX: gx.pointer, gradS: gsp)
                        }
                        if needWeight { gw = weightGradientSame(gp, x: xp, s: sp, batch: n, height: h, width: w) }
                    } else {
                        gw = backwardUp(gp, x: xp, s: sp, batch: n, height: h, width: w, gradX: gx.pointer, gradS: gsp,
                                        needWeight: needWeight)
                    }
                }
            }
        }
        return (gx, gs, gw)
    }

    /// Stride-1 backward for any padding, per tile of (images, input channels): `∂cols = weightᵀ ·
    /// ∂c` for the tile's rows, folded back onto each input plane (adjoint of im2col), then
    /// `∂x = ∂xs · s` and `∂s[n, c] = Σ_p ∂xs · x`. (Same-size layers use `backwardSameFlipped`,
    /// whose GEMM is `kernelSize²` times deeper.)
    private func backwardSame(_ g: UnsafePointer<Float>, x: UnsafePointer<Float>, s: UnsafePointer<Float>,
                              batch n: Int, height h: Int, width w: Int,
                              gradX: UnsafeMutablePointer<Float>, gradS: UnsafeMutablePointer<Float>) {
        let k = kernelSize, kk = k * k, K = inChannels * kk, hw = h * w, ncol = n * hw, pad = padding, o = outChannels
        let tiling = GemmTiling(batch: n, pixels: hw, units: inChannels, unitRows: kk)
        weight.withUnsafeBufferPointer { pw in
            Parallel.forEachDynamic(tiling.count) { t in
                let (imgs, units) = tiling.tile(t)
                let rows = units.count * kk, cols = imgs.count * hw
                withScratch(rows * cols + hw) { buf in
                    sgemm(transA: true, m: rows, n: cols, k: o, a: pw.baseAddress! + units.lowerBound * kk, lda: K,
                          b: g + imgs.lowerBound * hw, ldb: ncol, c: buf)
                    let acc = buf + rows * cols
                    for c in units {
                        for nn in imgs {
                            acc.initialize(repeating: 0, count: hw)
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let row = buf + ((c - units.lowerBound) * kk + ky * k + kx) * cols + (nn - imgs.lowerBound) * hw
                                    let shift = kx - pad       // ix = ox + shift
                                    let lo = min(max(0, -shift), w), hi = max(lo, min(w, w - shift))
                                    for oy in 0..<h {
                                        let iy = oy + ky - pad
                                        if iy < 0 || iy >= h { continue }
                                        let src = row + oy * w
                                        let dst = acc + iy * w + shift
                                        for ox in lo..<hi { dst[ox] += src[ox] }
                                    }
                                }
                            }
                            let pn = c * n + nn
                            gradS[nn * inChannels + c] = scaleAndDot(acc, x + pn * hw, s[nn * inChannels + c], gradX + pn * hw, count: hw)
                        }
                    }
                }
            }
        }
    }

    /// `∂weight = Σ_tiles ∂c · colsᵀ`: row chunks split over the threads, each accumulating its
    /// own partial, then summed.
    private func weightGradientSame(_ g: UnsafePointer<Float>, x: UnsafePointer<Float>, s: UnsafePointer<Float>,
                                    batch n: Int, height h: Int, width w: Int) -> Tensor {
        let k = kernelSize * kernelSize * inChannels, o = outChannels, ncol = n * h * w, totalRows = n * h
        let chunkRows = min(totalRows, max(1, GemmTiling.tileFloats / k / w))
        let chunks = (totalRows + chunkRows - 1) / chunkRows
        let workers = min(chunks, Parallel.threadCount)
        var partials = [[Float]](repeating: [Float](repeating: 0, count: o * k), count: workers)
        partials.withUnsafeMutableBufferPointer { pp in
            let parts = pp.baseAddress!
            Parallel.forEach(workers) { wk in
                parts[wk].withUnsafeMutableBufferPointer { acc in
                    withScratch(k * chunkRows * w) { buf in
                        for c in stride(from: wk, to: chunks, by: workers) {
                            let r0 = c * chunkRows, r1 = min(totalRows, r0 + chunkRows), cols = (r1 - r0) * w
                            im2colRows(x, s, batch: n, height: h, width: w, rows: r0..<r1, buf)
                            sgemm(transB: true, m: o, n: k, k: cols, a: g + r0 * w, lda: ncol, b: buf, ldb: cols,
                                  beta: 1, c: acc.baseAddress!)
                        }
                    }
                }
            }
        }
        var total = partials[0]
        for p in partials.dropFirst() { for q in 0..<total.count { total[q] += p[q] } }
        return Tensor(shape: [o, inChannels, kernelSize, kernelSize], data: total)
    }

    /// Up-sampling backward, in blocks of output channels: per (channel, image) plane the FIR's
    /// adjoint and the gather of the transposed-convolution taps into `∂t`, then
    /// `∂xs += weightUpTᵀ · ∂t` accumulated straight into `gradX` by tiles of (images, input
    /// channels), and (PTI) `∂weightUpT = ∂t · xsᵀ`; finally the modulation gradients in place.
    ///
    /// `∂t` holds `k²` planes per output channel (300 MB for all of a 1024² layer's), so it is made
    /// a block of channels at a time, of at most `upGradientBudget` floats but at least 8 channels
    /// so the GEMM depth stays ≥ 72. (A block of a 1024² layer, 75 MB, then also fits in a
    /// gradient map the pool has just taken back instead of needing fresh memory.)
    private func backwardUp(_ g: UnsafePointer<Float>, x: UnsafePointer<Float>, s: UnsafePointer<Float>,
                            batch n: Int, height h: Int, width w: Int,
                            gradX: UnsafeMutablePointer<Float>, gradS: UnsafeMutablePointer<Float>, needWeight: Bool) -> Tensor? {
        let i = inChannels, o = outChannels, k = kernelSize, kk = k * k, hw = h * w, ncol = n * hw
        let forwardPlan = firPlan(height: h, width: w)
        let poly = PolyphaseUpsample(kernelSize: kernelSize, up: up, plan: forwardPlan)
        let plan = forwardPlan.backwardPlan(filter: filter!, gain: Float(up * up))
        let uh = plan.outHeight, uw = plan.outWidth, ghw = plan.height * plan.width
        let fit = min(o, max(Self.upMinChannels, Self.upGradientBudget / (kk * ncol))), blockCount = (o + fit - 1) / fit
        let oBlock = (o + blockCount - 1) / blockCount     // balanced blocks
        let tiling = GemmTiling(batch: n, pixels: hw, units: i, unitRows: 1)
        // Large maps: tiles of columns (about 2 MB of the taps' gradient each, at least 4 per thread).
        let threads = Parallel.threadCount
        let columnTile: Int? = ncol >= 4 * threads * GemmTiling.minColumns
            ? max(GemmTiling.minColumns, min(GemmTiling.tileFloats / (kk * oBlock), ncol / (4 * threads))) : nil
        // ∂weightUpT [O·k², I] and the modulated input it needs (PTI only).
        var gwt = [Float](repeating: 0, count: needWeight ? o * kk * i : 0)
        let xs = needWeight ? ScratchPool.shared.take(i * ncol) : nil
        defer { if let xs { ScratchPool.shared.give(xs) } }
        if let xs { modulate(x, s, batch: n, pixels: hw, xs.pointer) }
        for o0 in stride(from: 0, to: o, by: oBlock) {
            let o1 = min(o, o0 + oBlock), rows = (o1 - o0) * kk
            withScratch(rows * ncol) { gt in
                Parallel.forRanges((o1 - o0) * n, minChunk: 1) { range in
                    withScratch(max(uh * uw, PolyphaseUpsample.scratchCount(height: h, width: w))) { u in
                        for pn in range {
                            let oc = o0 + pn / n, nn = pn % n, gpl = g + (oc * n + nn) * ghw
                            let taps = gt + ((oc - o0) * kk) * ncol + nn * hw
                            if let poly {
                                poly.backward(gpl, height: h, width: w, taps, ld: ncol, scratch: u)
                                continue
                            }
                            plan.run(gpl, planes: 1, u, parallel: false)
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let dst = taps + (ky * k + kx) * ncol
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
                weightUpT.withUnsafeBufferPointer { pw in
                    if let columns = columnTile {
                        // Every input channel per tile, over a run of columns: the taps' gradient is
                        // packed once (tiles over input channels packed it again for each block of
                        // two channels at 1024²).
                        Parallel.forEachDynamic((ncol + columns - 1) / columns) { t in
                            let c0 = t * columns, c1 = min(ncol, c0 + columns)
                            sgemm(transA: true, m: i, n: c1 - c0, k: rows, a: pw.baseAddress! + o0 * kk * i, lda: i,
                                  b: gt + c0, ldb: ncol, beta: o0 == 0 ? 0 : 1, c: gradX + c0, ldc: ncol)
                        }
                    } else {
                        Parallel.forEachDynamic(tiling.count) { t in
                            let (imgs, units) = tiling.tile(t)
                            sgemm(transA: true, m: units.count, n: imgs.count * hw, k: rows,
                                  a: pw.baseAddress! + o0 * kk * i + units.lowerBound, lda: i,
                                  b: gt + imgs.lowerBound * hw, ldb: ncol, beta: o0 == 0 ? 0 : 1,
                                  c: gradX + units.lowerBound * ncol + imgs.lowerBound * hw, ldc: ncol)
                        }
                    }
                }
                if let xs {
                    gwt.withUnsafeMutableBufferPointer { pg in
                        let blocks = min(rows, Parallel.threadCount)
                        Parallel.forEach(blocks) { b in
                            let r0 = rows * b / blocks, r1 = rows * (b + 1) / blocks
                            sgemm(transB: true, m: r1 - r0, n: i, k: ncol, a: gt + r0 * ncol, b: xs.pointer,
                                  c: pg.baseAddress! + (o0 * kk + r0) * i)
                        }
                    }
                }
            }
        }
        modulationGradients(gradX, x: x, s: s, batch: n, pixels: hw, gradS: gradS)
        guard needWeight else { return nil }
        var gw = [Float](repeating: 0, count: o * i * kk)
        for oc in 0..<o { for ic in 0..<i { for t in 0..<kk { gw[(oc * i + ic) * kk + t] = gwt[(oc * kk + t) * i + ic] } } }
        return Tensor(shape: [o, i, k, k], data: gw)
    }

    /// Floats of `∂t` one block of `backwardUp` may use (64 MB).
    static let upGradientBudget = 1 << 24
    /// Fewest output channels in a block of `forwardUp` / `backwardUp` (GEMM rows or depth `9 · 8`).
    static let upMinChannels = 8

    /// Given `∂xs` in `gradX` (`[I, N, H, W]`): `∂s[n, c] = Σ_p ∂xs · x`, then `∂x = ∂xs · s` in place.
    func modulationGradients(_ gradX: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, s: UnsafePointer<Float>,
                             batch n: Int, pixels hw: Int, gradS: UnsafeMutablePointer<Float>) {
        let i = inChannels
        Parallel.forEach(i * n, minChunk: max(1, 16384 / max(hw, 1))) { pn in
            let c = pn / n, nn = pn % n
            let gx = gradX + pn * hw
            gradS[nn * i + c] = vDot(gx, x + pn * hw, hw)
            vScale(gx, s[nn * i + c], gx, hw)
        }
    }
}
