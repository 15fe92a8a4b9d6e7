import Foundation

// Raw-pointer cores of conv2d's forward, input gradient and weight gradient (shared with
// convTranspose2d, whose forward is conv2d's input gradient).
//
// Work is cut into tasks of (image, group, block of output rows). A block's column matrix holds
// about `convColumnBlockFloats` floats so it stays in the core's cache between im2col writing it
// and the GEMM reading it: unblocked, a 64-channel 64×64 image unfolds into 9.4 MB and the GEMM
// waits on memory. Tasks are spread over the cores, each core running single-threaded GEMMs on its
// own scratch buffer; when there are fewer tasks than cores, the leftovers run one at a time with
// im2col split over channels and OpenBLAS's threads inside the GEMM.

/// Target size (floats) of one block's column matrix: 512 KB, half a core's L2 (the packed weight
/// panel needs the rest).
/// `LATENTLAB_CONV_BLOCK` overrides it (for benchmarking).
let convColumnBlockFloats: Int = {
    if let v = ProcessInfo.processInfo.environment["LATENTLAB_CONV_BLOCK"], let n = Int(v), n > 0 { return n }
    return 128 * 1024
}()

extension Conv2dShape {
    /// Output rows per block. A block's columns (k × rows·ow) should fit the cache target, but
    /// every GEMM call also re-packs the weight (cog × k), so a block keeps at least 4·cog columns
    /// to amortise that: measured on 3×3 convs, 64 ch @ 64² gains ~15 % from blocking while
    /// 256 ch @ 16² loses ~15 % when split below a whole image.
    var blockRows: Int {
        let columns = max(convColumnBlockFloats / max(k, 1), 4 * cog)
        return max(1, min(oh, (columns + ow - 1) / ow))
    }
    var blockCount: Int { (oh + blockRows - 1) / blockRows }
    /// Output rows of block `b`.
    func blockRange(_ b: Int) -> Range<Int> { (b * blockRows)..<min(oh, (b + 1) * blockRows) }
}

/// The geometry of output rows `rows` only: same image, window and padding on the left/right, with
/// the top/bottom padding shifted so that output row 0 of the block is output row `rows.lowerBound`.
@inline(__always)
func rowBlockGeometry(_ g: ConvGeometry, _ rows: Range<Int>) -> ConvGeometry {
    var b = g
    b.padTop = g.padTop - rows.lowerBound * g.strideH
    b.padBottom = (rows.count - 1) * g.strideH + g.kernelH - g.height - b.padTop
    return b
}

/// Runs `body(task, worker, innerParallel)` for every task in `0..<tasks`. Tasks go in contiguous
/// runs to `threadCount` workers with single-threaded BLAS; a remainder smaller than the thread
/// count runs on the caller with `innerParallel == true` (parallelise inside; BLAS multithreaded).
@usableFromInline
func convSchedule(_ tasks: Int, _ body: (Int, Int, Bool) -> Void) {
    let t = Parallel.threadCount
    let outer = t > 1 && tasks >= t ? (tasks >= 4 * t ? tasks : tasks - tasks % t) : 0
    if outer > 0 {
        Parallel.withSingleThreadedBLAS {
            Parallel.forEach(t) { w in
                for i in (outer * w / t)..<(outer * (w + 1) / t) { body(i, w, false) }
            }
        }
    }
    for i in outer..<tasks { body(i, 0, true) }
}

/// Per-worker scratch buffers of `count` floats; the caller deallocates them.
@usableFromInline
func convScratch(_ count: Int) -> [UnsafeMutablePointer<Float>] {
    (0..<Parallel.threadCount).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1)) }
}

/// im2col, optionally split over channels across the threads.
@inline(__always)
func im2colMaybeParallel(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ cols: UnsafeMutablePointer<Float>,
                         parallel: Bool) {
    if !parallel || g.channels < 2 { im2col(x, g, cols); return }
    let ld = g.colCols, plane = g.height * g.width, taps = g.kernelH * g.kernelW
    Parallel.forRanges(g.channels, minChunk: 1) { r in
        var sub = g
        sub.channels = r.count
        im2col(x + r.lowerBound * plane, sub, cols + r.lowerBound * taps * ld, ldc: ld)
    }
}

/// col2im (accumulating), optionally split over channels across the threads.
@inline(__always)
func col2imMaybeParallel(_ cols: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>,
                         parallel: Bool) {
    if !parallel || g.channels < 2 { col2im(cols, g, x); return }
    let ld = g.colCols, plane = g.height * g.width, taps = g.kernelH * g.kernelW
    Parallel.forRanges(g.channels, minChunk: 1) { r in
        var sub = g
        sub.channels = r.count
        col2im(cols + r.lowerBound * taps * ld, sub, x + r.lowerBound * plane, ldc: ld)
    }
}

/// y[N, Co, oh, ow] = conv(x[N, Ci, H, W], weight) + bias. Tasks: (image, group, row block).
func conv2dForwardCore(_ s: Conv2dShape, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
    if s.usesWinograd { conv2dWinograd(s, x: x, weight: weight, bias: bias, y: y); return }
    let p = s.p, k = s.k, geo = s.geometry, blocks = s.blockCount
    let scratch = s.pointwise ? [] : convScratch(k * s.blockRows * s.ow)
    defer { scratch.forEach { $0.deallocate() } }
    convSchedule(s.n * s.groups * blocks) { task, worker, inner in
        let n = task / (s.groups * blocks), g = (task / blocks) % s.groups, rows = s.blockRange(task % blocks)
        let cols = rows.count * s.ow, offset = rows.lowerBound * s.ow
        let xg = x + (n * s.ci + g * s.cig) * s.h * s.w
        let yb = y + (n * s.co + g * s.cog) * p + offset
        let b: UnsafePointer<Float>, ldb: Int
        if s.pointwise { b = xg + offset; ldb = p } else {
            im2colMaybeParallel(xg, rowBlockGeometry(geo, rows), scratch[worker], parallel: inner)
            b = UnsafePointer(scratch[worker]); ldb = cols
        }
        if let bias {
            // Seed the output with the bias; the GEMM accumulates onto it.
            for o in 0..<s.cog {
                let v = bias[g * s.cog + o], row = yb + o * p
                for j in 0..<cols { row[j] = v }
            }
        }
        sgemm(m: s.cog, n: cols, k: k, a: weight + g * s.cog * k, b: b, ldb: ldb,
              beta: bias == nil ? 0 : 1, c: yb, ldc: p)
    }
}

/// gradInput[N, Ci, H, W] += col2im(Wᵀ · gradOutput) (`gradInput` must be zeroed).
/// Tasks: (image, group, chunk of input channels); blocks of output rows run in sequence inside a
/// task because neighbouring blocks fold into overlapping input rows, while different channel
/// chunks write disjoint planes and so parallelise without races even for a single image.
func conv2dInputGradCore(_ s: Conv2dShape, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         gradInput: UnsafeMutablePointer<Float>) {
    if s.usesWinograd {
        // The adjoint Winograd convolution reads the forward weight's transform: no flipped copy.
        conv2dWinograd(s, x: gradOutput, weight: weight, bias: nil, adjoint: true, y: gradInput)
        return
    }
    if s.stride == 1 && s.kh == s.kw && s.padding <= s.kh - 1 && !s.pointwise {
        conv2dInputGradAsConvolution(s, gradOutput: gradOutput, weight: weight, gradInput: gradInput)
        return
    }
    let p = s.p, k = s.k, geo = s.geometry, taps = s.kh * s.kw, plane = s.h * s.w
    let t = Parallel.threadCount
    // Enough chunks to keep every core busy when the batch is small.
    let images = s.n * s.groups
    let chunks = images >= 2 * t ? 1 : min(s.cig, (2 * t + images - 1) / images)
    let scratch = convScratch(k * s.blockRows * s.ow)
    defer { scratch.forEach { $0.deallocate() } }
    convSchedule(images * chunks) { task, worker, inner in
        let n = task / (s.groups * chunks), g = (task / chunks) % s.groups, chunk = task % chunks
        let c0 = s.cig * chunk / chunks, c1 = s.cig * (chunk + 1) / chunks
        var sub = geo
        sub.channels = c1 - c0
        let rowsK = (c1 - c0) * taps                     // rows of this chunk's column matrix
        let wg = weight + g * s.cog * k + c0 * taps      // columns c0·taps..<c1·taps of Wg [cog, k]
        let gog = gradOutput + (n * s.co + g * s.cog) * p
        let gx = gradInput + (n * s.ci + g * s.cig + c0) * plane
        for blk in 0..<s.blockCount {
            let rows = s.blockRange(blk), cols = rows.count * s.ow, offset = rows.lowerBound * s.ow
            if s.pointwise {
                sgemm(transA: true, m: rowsK, n: cols, k: s.cog, a: wg, lda: k, b: gog + offset, ldb: p,
                      c: gx + offset, ldc: p)
            } else {
                sgemm(transA: true, m: rowsK, n: cols, k: s.cog, a: wg, lda: k, b: gog + offset, ldb: p,
                      c: scratch[worker])
                col2imMaybeParallel(scratch[worker], rowBlockGeometry(sub, rows), gx, parallel: inner)
            }
        }
    }
}

/// gradWeight[Co, Ci/g, kh, kw] = Σ_n gradOutput[n] · colsᵀ[n] (overwritten). Tasks as in the
/// forward; each worker accumulates into its own copy, summed at the end.
func conv2dWeightGradCore(_ s: Conv2dShape, x: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                          gradWeight: UnsafeMutablePointer<Float>) {
    let p = s.p, k = s.k, geo = s.geometry, wc = s.co * k, blocks = s.blockCount
    let scratch = s.pointwise ? [] : convScratch(k * s.blockRows * s.ow)
    let partial = convScratch(wc)
    defer { scratch.forEach { $0.deallocate() }; partial.forEach { $0.deallocate() } }
    for buf in partial { buf.initialize(repeating: 0, count: wc) }
    convSchedule(s.n * s.groups * blocks) { task, worker, inner in
        let n = task / (s.groups * blocks), g = (task / blocks) % s.groups, rows = s.blockRange(task % blocks)
        let cols = rows.count * s.ow, offset = rows.lowerBound * s.ow
        let xg = x + (n * s.ci + g * s.cig) * s.h * s.w
        let gob = gradOutput + (n * s.co + g * s.cog) * p + offset
        let b: UnsafePointer<Float>, ldb: Int
        if s.pointwise { b = xg + offset; ldb = p } else {
            im2colMaybeParallel(xg, rowBlockGeometry(geo, rows), scratch[worker], parallel: inner)
            b = UnsafePointer(scratch[worker]); ldb = cols
        }
        sgemm(transB: true, m: s.cog, n: k, k: cols, a: gob, lda: p, b: b, ldb: ldb, beta: 1,
              c: partial[worker] + g * s.cog * k)
    }
    gradWeight.update(from: partial[0], count: wc)
    for w in 1..<partial.count {
        let src = partial[w]
        for i in 0..<wc { gradWeight[i] += src[i] }
    }
}

/// Stride-1 input gradient as a forward convolution: gradInput = conv2d(gradOutput, W′, padding
/// kh − 1 − padding) with W′[ci, co, ky, kx] = W[co, ci, kh − 1 − ky, kw − 1 − kx] per group. The
/// GEMMs then have the forward's shape (k = Co·kh·kw) instead of k = Co followed by a col2im
/// scatter, which measured ~20 % faster at 64 channels. Overwrites `gradInput`.
func conv2dInputGradAsConvolution(_ s: Conv2dShape, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                  gradInput: UnsafeMutablePointer<Float>) {
    let taps = s.kh * s.kw
    let flipped = UnsafeMutablePointer<Float>.allocate(capacity: max(s.ci * s.cog * taps, 1))
    defer { flipped.deallocate() }
    for g in 0..<s.groups {
        for o in 0..<s.cog {
            for c in 0..<s.cig {
                let src = weight + ((g * s.cog + o) * s.cig + c) * taps
                let dst = flipped + ((g * s.cig + c) * s.cog + o) * taps
                for t in 0..<taps { dst[t] = src[taps - 1 - t] }
            }
        }
    }
    // Never Winograd here: layers it applies to took the adjoint path in `conv2dInputGradCore`.
    let t = Conv2dShape(input: [s.n, s.co, s.oh, s.ow], weight: [s.ci, s.cog, s.kh, s.kw], stride: 1,
                        padding: s.kh - 1 - s.padding, groups: s.groups, name: "conv2dBackward")
    conv2dForwardCore(t, x: gradOutput, weight: UnsafePointer(flipped), bias: nil, y: gradInput)
}

/// `y = conv3x3(x, weight) + bias` (NCHW, stride 1, padding 1, one group) by Winograd F(2×2, 3×3),
/// or with `adjoint` that convolution's input gradient `y = ∂x [N, Ci, H, W]` of `x = ∂y [N, Co, H, W]`
/// (the flipped, transposed kernel, read from the same transform). The weight is transformed per
/// call (16/9 of its size; small next to the convolution at the sizes where Winograd is chosen).
func conv2dWinograd(_ s: Conv2dShape, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                    bias: UnsafePointer<Float>?, adjoint: Bool = false, y: UnsafeMutablePointer<Float>) {
    let (cin, cout) = adjoint ? (s.co, s.ci) : (s.ci, s.co)
    withScratch(Winograd3x3.transformedWeightCount(outputs: s.co, inputs: s.ci)) { u in
        Winograd3x3.transformWeights(weight, outputs: s.co, inputs: s.ci, into: u)
        Winograd3x3.convolve(x, layout: .nchw(channels: cin, height: s.h, width: s.w), scales: nil, channels: cin,
                             transformedWeights: u, outputs: cout, batch: s.n, height: s.h, width: s.w,
                             y, outLayout: .nchw(channels: cout, height: s.h, width: s.w), adjoint: adjoint)
    }
    guard let bias else { return }
    Parallel.forEach(s.n * s.co, minChunk: max(1, 16384 / max(s.p, 1))) { plane in
        let v = bias[plane % s.co], row = y + plane * s.p
        for j in 0..<s.p { row[j] += v }
    }
}
