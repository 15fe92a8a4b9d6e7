import LatentTensor

/// The stride-1 ("same") convolution shared by the forward pass and the input-gradient pass.
///
/// For a same-size layer (`2·padding == k − 1`) the input gradient `∂xs = weightᵀ ⋆ ∂c` is itself a
/// same-size convolution of `∂c` with the flipped, transposed weight `[I, O, k, k]`. Computing it
/// that way gives GEMMs of depth `O·k²` (instead of `O`, then a col2im scatter of a `k²`-times
/// larger matrix), the shape the forward already runs at a high share of the sgemm peak; it
/// matters most at high resolutions, where `O` is 32–128.
extension ModulatedConv2d {
    /// `out[M, N, H, W] = weights[M, C·k²] · im2col(src ⊙ scales)` (CNHW, stride 1, zero padding
    /// `padding`, same size): row chunks of the output, each im2col → GEMM in its own tile; or,
    /// for small maps, one shared column matrix and GEMMs split over output rows.
    /// - Parameters:
    ///   - src: `[C, N, H, W]`; `scales`: `[N, C]` or nil.
    ///   - weights: `[M, C·k·k]` row-major.
    func sameConvolution(_ src: UnsafePointer<Float>, scales: UnsafePointer<Float>?, channels c: Int,
                         weights: UnsafePointer<Float>, outputs m: Int,
                         batch n: Int, height h: Int, width w: Int, _ out: UnsafeMutablePointer<Float>) {
        let k = kernelSize * kernelSize * c, ncol = n * h * w, totalRows = n * h
        let threads = Parallel.threadCount
        var chunkRows = max(1, GemmTiling.tileFloats / k / w)
        chunkRows = min(totalRows, max(chunkRows, (GemmTiling.minColumns + w - 1) / w))
        let chunks = (totalRows + chunkRows - 1) / chunkRows
        if chunks >= 2 * threads {
            Parallel.forEachDynamic(chunks) { ch in
                let r0 = ch * chunkRows, r1 = min(totalRows, r0 + chunkRows), cols = (r1 - r0) * w
                withScratch(k * cols) { buf in
                    im2colSame(src, scales: scales, channels: c, batch: n, height: h, width: w, rows: r0..<r1, buf)
                    sgemm(m: m, n: cols, k: k, a: weights, b: buf, c: out + r0 * w, ldc: ncol)
                }
            }
        } else {
            withScratch(k * ncol) { cols in
                Parallel.forEach(c, minChunk: max(1, 4096 / max(ncol, 1))) { ch in
                    im2colSame(src, scales: scales, channels: c, batch: n, height: h, width: w, rows: 0..<totalRows, cols,
                               channelRange: ch..<(ch + 1))
                }
                // Split over output rows only when each half is worth waking a thread for
                // (~1 MFLOP, a few µs; ToRGB at 4²–16² is a few thousand).
                let blocks = m * ncol * k >= Self.minSplitWork ? min(m, max(1, threads)) : 1
                Parallel.forEach(blocks) { b in
                    let m0 = m * b / blocks, m1 = m * (b + 1) / blocks
                    sgemm(m: m1 - m0, n: ncol, k: k, a: weights + m0 * k, b: cols, c: out + m0 * ncol)
                }
            }
        }
    }

    /// Whether a same-size convolution of a batch of `h × w` maps runs as Winograd F(2×2, 3×3)
    /// (`Winograd3x3`; see `ConvolutionAlgorithm.automatic` for the size rule).
    func usesWinograd(batch n: Int, height h: Int, width w: Int) -> Bool {
        algorithm.usesWinograd(kernelSize: kernelSize, stride: 1, padding: padding, groups: 1, pixels: n * h * w)
    }

    /// `out[O, N, H, W] = conv3x3(x ⊙ scales, weight)` (`adjoint == false`, `x` `[I, N, H, W]`), or
    /// the input gradient `∂xs[I, N, H, W] = flip(weight)ᵀ ⋆ x` (`adjoint`, `x` = `∂c` `[O, N, H, W]`),
    /// by Winograd with the layer's cached transformed weights.
    func winogradConvolution(_ x: UnsafePointer<Float>, scales: UnsafePointer<Float>?, adjoint: Bool,
                             batch n: Int, height h: Int, width w: Int, _ out: UnsafeMutablePointer<Float>) {
        let layout = Winograd3x3.PlaneLayout.cnhw(batch: n, height: h, width: w)
        let o = outChannels, i = inChannels
        let u = winogradWeights.weights {
            [Float](unsafeUninitializedCapacity: Winograd3x3.transformedWeightCount(outputs: o, inputs: i)) { buf, count in
                weight.withUnsafeBufferPointer { pw in
                    Winograd3x3.transformWeights(pw.baseAddress!, outputs: o, inputs: i, into: buf.baseAddress!)
                }
                count = buf.count
            }
        }
        u.withUnsafeBufferPointer { pu in
            Winograd3x3.convolve(x, layout: layout, scales: scales, channels: adjoint ? o : i,
                                 transformedWeights: pu.baseAddress!, outputs: adjoint ? i : o,
                                 batch: n, height: h, width: w, out, outLayout: layout, adjoint: adjoint)
        }
    }

    /// Multiply-adds below which a small-map GEMM runs on one thread.
    static let minSplitWork = 1 << 19

    /// `∂x` and `∂s` of a same-size layer: `∂xs = flip(weight)ᵀ ⋆ ∂c` written straight into `gradX`,
    /// then per plane `∂s[n, c] = Σ_p ∂xs · x` and `∂x = ∂xs · s` in place.
    func backwardSameFlipped(_ g: UnsafePointer<Float>, x: UnsafePointer<Float>, s: UnsafePointer<Float>,
                             batch n: Int, height h: Int, width w: Int,
                             gradX: UnsafeMutablePointer<Float>, gradS: UnsafeMutablePointer<Float>) {
        let i = inChannels, o = outChannels, k = kernelSize, kk = k * k, hw = h * w
        if usesWinograd(batch: n, height: h, width: w) {
            winogradConvolution(g, scales: nil, adjoint: true, batch: n, height: h, width: w, gradX)
        } else if !weightFlipped.isEmpty {
            weightFlipped.withUnsafeBufferPointer { wf in
                sameConvolution(g, scales: nil, channels: o, weights: wf.baseAddress!, outputs: i, batch: n, height: h, width: w, gradX)
            }
        } else {
            withScratch(i * o * kk) { wf in
                weight.withUnsafeBufferPointer { pw in Self.flipWeight(pw.baseAddress!, outputs: o, inputs: i, taps: kk, into: wf) }
                sameConvolution(g, scales: nil, channels: o, weights: wf, outputs: i, batch: n, height: h, width: w, gradX)
            }
        }
        modulationGradients(gradX, x: x, s: s, batch: n, pixels: hw, gradS: gradS)
    }

    /// `wf[c, oc, ky, kx] = weight[oc, c, k−1−ky, k−1−kx]` (`weight` `[O, I, k, k]`, `taps = k²`).
    static func flipWeight(_ src: UnsafePointer<Float>, outputs o: Int, inputs i: Int, taps kk: Int,
                           into wf: UnsafeMutablePointer<Float>) {
        for oc in 0..<o { for c in 0..<i { for t in 0..<kk {
            wf[(c * o + oc) * kk + (kk - 1 - t)] = src[(oc * i + c) * kk + t]
        } } }
    }

    /// The column matrix of the layer's modulated input (rows `inChannels × taps`).
    func im2colRows(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>?, batch n: Int, height h: Int, width w: Int,
                    rows: Range<Int>, _ cols: UnsafeMutablePointer<Float>) {
        im2colSame(x, scales: s, channels: inChannels, batch: n, height: h, width: w, rows: rows, cols)
    }

    /// Column matrix rows `channels × taps`, columns = output rows `rows` (flattened `n·H + y`)
    /// of `src ⊙ scales` (`src` `[C, N, H, W]`, stride 1, zero padding), row stride `rows.count · W`.
    ///
    /// The source rows a segment needs are scaled by the style once into a small buffer; the
    /// k² tap rows are then plain copies (`memmove`, vectorised by the C library).
    func im2colSame(_ x: UnsafePointer<Float>, scales s: UnsafePointer<Float>?, channels: Int, batch n: Int,
                    height h: Int, width w: Int, rows: Range<Int>, _ cols: UnsafeMutablePointer<Float>,
                    channelRange: Range<Int>? = nil) {
        let k = kernelSize, kk = k * k, hw = h * w, pad = padding, ld = rows.count * w
        withUnsafeTemporaryAllocation(of: Float.self, capacity: (min(rows.count, h) + k) * w) { tb in
            let tmp = tb.baseAddress!
            for c in channelRange ?? 0..<channels {
                var r = rows.lowerBound
                while r < rows.upperBound {
                    // One image's run of output rows [oy0, oy1).
                    let nn = r / h, oy0 = r % h
                    let rEnd = min(rows.upperBound, (nn + 1) * h), oy1 = oy0 + (rEnd - r)
                    let iyLo = max(0, oy0 - pad), iyHi = min(h, oy1 - 1 - pad + k)
                    let plane = x + (c * n + nn) * hw
                    var srcRows = plane + iyLo * w
                    if let s {
                        let sc = s[nn * channels + c]
                        vScale(plane + iyLo * w, sc, tmp, (iyHi - iyLo) * w)
                        srcRows = UnsafePointer(tmp)
                    }
                    let available = (iyHi - iyLo) * w
                    for ky in 0..<k {
                        // Output rows whose source row iy = oy + ky − pad is inside the image.
                        let oyA = min(oy1, max(oy0, pad - ky)), oyB = max(oyA, min(oy1, h + pad - ky))
                        for kx in 0..<k {
                            let row = cols + (c * kk + ky * k + kx) * ld + (r - rows.lowerBound) * w
                            let shift = kx - pad
                            let lo = min(max(0, -shift), w), hi = max(lo, min(w, w - shift))
                            if oyA > oy0 { row.initialize(repeating: 0, count: (oyA - oy0) * w) }
                            if oy1 > oyB { (row + (oyB - oy0) * w).initialize(repeating: 0, count: (oy1 - oyB) * w) }
                            guard oyB > oyA else { continue }
                            // The in-image rows are one shifted run of the source: element d of the
                            // tap row is source element d + offset. One copy for the whole run (rows
                            // of small maps are a few floats), clipped to the source rows; the
                            // columns that wrapped around a row edge (ox < lo, ox ≥ hi) are zeroed.
                            let offset = (oy0 + ky - pad - iyLo) * w + shift
                            let d0 = max((oyA - oy0) * w, -offset), d1 = min((oyB - oy0) * w, available - offset)
                            if d1 > d0 { (row + d0).update(from: srcRows + (d0 + offset), count: d1 - d0) }
                            if lo > 0 || hi < w {
                                for oy in oyA..<oyB {
                                    let dst = row + (oy - oy0) * w
                                    for ox in 0..<lo { dst[ox] = 0 }
                                    for ox in hi..<w { dst[ox] = 0 }
                                }
                            }
                        }
                    }
                    r = rEnd
                }
            }
        }
    }
}
