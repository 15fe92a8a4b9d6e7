import Foundation

/// Resampling kernels for `resize`, as Pillow defines them (`src/libImaging/Resample.c`).
public enum ResizeMethod: String, Sendable, CaseIterable {
    /// Box filter (support 0.5): the mean over each output pixel's footprint (Pillow `BOX`,
    /// torch `area` for integer factors). Always covers the whole footprint, so `antialias`
    /// does not change it.
    case area
    /// Triangle filter (support 1), Pillow `BILINEAR`.
    case bilinear
    /// Keys cubic with a = -0.5 (support 2), Pillow `BICUBIC`.
    case bicubic
    /// Lanczos-3 windowed sinc (support 3), Pillow `LANCZOS`: what NVIDIA's `projector.py`
    /// uses to bring a target photo to the generator's resolution.
    case lanczos

    /// Half-width of the kernel in input pixels at scale 1.
    public var support: Double {
        switch self {
        case .area: return 0.5
        case .bilinear: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    /// The kernel value at `x` (in units of input pixels at scale 1), exactly as Pillow.
    public func kernel(_ x: Double) -> Double {
        switch self {
        case .area:
            return (x > -0.5 && x <= 0.5) ? 1 : 0
        case .bilinear:
            let ax = abs(x)
            return ax < 1 ? 1 - ax : 0
        case .bicubic:
            let a = -0.5, ax = abs(x)
            if ax < 1 { return ((a + 2) * ax - (a + 3)) * ax * ax + 1 }
            if ax < 2 { return (((ax - 5) * ax + 8) * ax - 4) * a }
            return 0
        case .lanczos:
            guard x >= -3 && x < 3 else { return 0 }
            return Self.sinc(x) * Self.sinc(x / 3)
        }
    }

    private static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let px = x * Double.pi
        return sin(px) / px
    }
}

/// The taps of output pixel `i` along one axis: Pillow's `precompute_coeffs` for the whole
/// image (box 0..inputSize). When down-scaling with `antialias` the kernel is stretched by the
/// scale factor, so every input pixel contributes; weights are normalised to sum to 1, which also
/// renormalises the kernel where it is cut off at the borders.
/// Returns the first input index and the weights of the inputs that follow it, in Double.
public func resizeTaps(outputIndex i: Int, inputSize: Int, outputSize: Int,
                       method: ResizeMethod, antialias: Bool = true) -> (start: Int, weights: [Double]) {
    let scale = Double(inputSize) / Double(outputSize)
    let filterScale = (antialias || method == .area) ? max(scale, 1) : 1
    let support = method.support * filterScale
    let center = (Double(i) + 0.5) * scale
    // Pillow rounds with a C cast (truncation); negatives are clamped to 0 either way.
    let lo = max(Int(center - support + 0.5), 0)
    let hi = min(Int(center + support + 0.5), inputSize)
    var w = [Double]()
    w.reserveCapacity(max(hi - lo, 0))
    var total = 0.0
    for x in lo..<max(hi, lo) {
        let v = method.kernel((Double(x) - center + 0.5) / filterScale)
        w.append(v)
        total += v
    }
    if total != 0 { for k in w.indices { w[k] /= total } }
    return (lo, w)
}

/// One axis of a separable resize as a sparse matrix `[outputSize, inputSize]` in compressed
/// rows, plus its transpose, so the backward pass is the exact adjoint of the forward.
public struct ResizeWeights: Sendable {
    public let inputSize: Int
    public let outputSize: Int
    /// Forward rows (one per output index): entries `rowStart[i] ..< rowStart[i + 1]`.
    let rowStart: [Int], rowIndex: [Int], rowWeight: [Float]
    /// Transposed rows (one per input index) for the backward pass.
    let colStart: [Int], colIndex: [Int], colWeight: [Float]

    /// Builds the weights for resizing `inputSize` samples to `outputSize` (both ≥ 1).
    public init(inputSize: Int, outputSize: Int, method: ResizeMethod, antialias: Bool = true) {
        precondition(inputSize >= 1 && outputSize >= 1, "resize: sizes must be positive (\(inputSize) -> \(outputSize))")
        self.inputSize = inputSize
        self.outputSize = outputSize
        var rs = [0], ri = [Int](), rw = [Float]()
        var perInput = [[(Int, Float)]](repeating: [], count: inputSize)
        for i in 0..<outputSize {
            let (lo, w) = resizeTaps(outputIndex: i, inputSize: inputSize, outputSize: outputSize,
                                     method: method, antialias: antialias)
            for (k, v) in w.enumerated() where v != 0 {
                ri.append(lo + k)
                rw.append(Float(v))
                perInput[lo + k].append((i, Float(v)))
            }
            rs.append(ri.count)
        }
        var cs = [0], ci = [Int](), cw = [Float]()
        for entries in perInput {
            for (i, v) in entries { ci.append(i); cw.append(v) }
            cs.append(ci.count)
        }
        (rowStart, rowIndex, rowWeight) = (rs, ri, rw)
        (colStart, colIndex, colWeight) = (cs, ci, cw)
    }

    /// The dense matrix `[outputSize, inputSize]` (for tests and inspection).
    public var dense: Tensor {
        var m = Tensor.zeros([outputSize, inputSize])
        for i in 0..<outputSize {
            for e in rowStart[i]..<rowStart[i + 1] { m[i, rowIndex[e]] = rowWeight[e] }
        }
        return m
    }
}

/// Resizes images `[N, C, H, W]` to `[N, C, height, width]` with a separable filter, matching
/// Pillow's `Image.resize` on float (`F`) images: horizontal pass first, then vertical; an axis
/// whose size does not change is left untouched.
///
/// - Parameters:
///   - method: `.area`, `.bilinear`, `.bicubic` (a = -0.5) or `.lanczos`.
///   - antialias: when down-scaling, stretch the kernel by the scale factor (Pillow's behaviour,
///     default `true`); `false` samples the kernel at scale 1 (aliasing, like torch's
///     `interpolate(antialias=False)` in the interior). Ignored by `.area`.
/// Linear in `x`; its adjoint is `resizeBackward`.
public func resize(_ x: Tensor, height: Int, width: Int, method: ResizeMethod, antialias: Bool = true) -> Tensor {
    precondition(x.rank == 4, "resize expects [N, C, H, W], got \(x.shape)")
    precondition(height >= 1 && width >= 1, "resize: output size \(height)×\(width) must be positive")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    precondition(h >= 1 && w >= 1, "resize: input \(x.shape) has an empty spatial dimension")
    let planes = n * c
    var t = x
    if width != w {
        let wx = ResizeWeights(inputSize: w, outputSize: width, method: method, antialias: antialias)
        t = resizeRowsPass(t, rows: planes * h, inner: w, outer: width,
                           start: wx.rowStart, index: wx.rowIndex, weight: wx.rowWeight)
            .reshaped([n, c, h, width])
    }
    if height != h {
        let wy = ResizeWeights(inputSize: h, outputSize: height, method: method, antialias: antialias)
        t = resizeColumnsPass(t, planes: planes, inner: h, outer: height, rowLength: width,
                              start: wy.rowStart, index: wy.rowIndex, weight: wy.rowWeight)
            .reshaped([n, c, height, width])
    }
    return t
}

/// The adjoint (gradient) of `resize`: maps `gradOutput` `[N, C, h, w]` back to
/// `[N, C, inputHeight, inputWidth]` through the transposed weight matrices, so
/// `<resize(x), g> = <x, resizeBackward(g)>` up to float rounding.
public func resizeBackward(gradOutput: Tensor, inputHeight: Int, inputWidth: Int,
                           method: ResizeMethod, antialias: Bool = true) -> Tensor {
    precondition(gradOutput.rank == 4, "resizeBackward expects [N, C, H, W], got \(gradOutput.shape)")
    precondition(inputHeight >= 1 && inputWidth >= 1, "resizeBackward: input size \(inputHeight)×\(inputWidth) must be positive")
    let (n, c, h, w) = (gradOutput.shape[0], gradOutput.shape[1], gradOutput.shape[2], gradOutput.shape[3])
    precondition(h >= 1 && w >= 1, "resizeBackward: gradient \(gradOutput.shape) has an empty spatial dimension")
    let planes = n * c
    var t = gradOutput
    if inputHeight != h {
        let wy = ResizeWeights(inputSize: inputHeight, outputSize: h, method: method, antialias: antialias)
        t = resizeColumnsPass(t, planes: planes, inner: h, outer: inputHeight, rowLength: w,
                              start: wy.colStart, index: wy.colIndex, weight: wy.colWeight)
            .reshaped([n, c, inputHeight, w])
    }
    if inputWidth != w {
        let wx = ResizeWeights(inputSize: inputWidth, outputSize: w, method: method, antialias: antialias)
        t = resizeRowsPass(t, rows: planes * inputHeight, inner: w, outer: inputWidth,
                           start: wx.colStart, index: wx.colIndex, weight: wx.colWeight)
            .reshaped([n, c, inputHeight, inputWidth])
    }
    return t
}

/// Slow reference: every output pixel sums its full 2-D footprint in Double, with the taps
/// recomputed from the kernel for that pixel. For tests of `resize`.
public func resizeReference(_ x: Tensor, height: Int, width: Int, method: ResizeMethod, antialias: Bool = true) -> Tensor {
    precondition(x.rank == 4, "resizeReference expects [N, C, H, W], got \(x.shape)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    var out = Tensor.zeros([n, c, height, width])
    for yo in 0..<height {
        // An unchanged axis is an identity in Pillow (the pass is skipped).
        let (y0, wy) = h == height ? (yo, [1.0])
            : resizeTaps(outputIndex: yo, inputSize: h, outputSize: height, method: method, antialias: antialias)
        for xo in 0..<width {
            let (x0, wx) = w == width ? (xo, [1.0])
                : resizeTaps(outputIndex: xo, inputSize: w, outputSize: width, method: method, antialias: antialias)
            for b in 0..<n { for ch in 0..<c {
                var s = 0.0
                for (ky, vy) in wy.enumerated() {
                    for (kx, vx) in wx.enumerated() {
                        s += vy * vx * Double(x[b, ch, y0 + ky, x0 + kx])
                    }
                }
                out[b, ch, yo, xo] = Float(s)
            } }
        }
    }
    return out
}

// MARK: - kernels

/// Along the last axis: `dst[r, o] = Σ_e weight[e] · src[r, index[e]]` for the entries of row
/// `o`, for every one of `rows` rows. Rows are independent, so they are split over threads.
private func resizeRowsPass(_ src: Tensor, rows: Int, inner: Int, outer: Int,
                            start: [Int], index: [Int], weight: [Float]) -> Tensor {
    var dst = Tensor.zeros([rows, outer])
    src.withUnsafeBufferPointer { ps in
        dst.withUnsafeMutableBufferPointer { pd in
            index.withUnsafeBufferPointer { pi in
                weight.withUnsafeBufferPointer { pw in
                    start.withUnsafeBufferPointer { pst in
                        let s = ps.baseAddress!, d = pd.baseAddress!
                        let idx = pi.baseAddress, wt = pw.baseAddress, st = pst.baseAddress!
                        Parallel.forRanges(rows, minChunk: max(1, 16_384 / max(outer * 4, 1))) { range in
                            for r in range {
                                let srow = s + r * inner, drow = d + r * outer
                                for o in 0..<outer {
                                    var acc: Float = 0
                                    for e in st[o]..<st[o + 1] { acc += wt![e] * srow[idx![e]] }
                                    drow[o] = acc
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return dst
}

/// Along the second-to-last axis of `[planes, inner, rowLength]`: output row `o` of each plane
/// is `Σ_e weight[e] · src row index[e]`, accumulated as whole contiguous rows.
private func resizeColumnsPass(_ src: Tensor, planes: Int, inner: Int, outer: Int, rowLength: Int,
                               start: [Int], index: [Int], weight: [Float]) -> Tensor {
    var dst = Tensor.zeros([planes, outer, rowLength])
    src.withUnsafeBufferPointer { ps in
        dst.withUnsafeMutableBufferPointer { pd in
            index.withUnsafeBufferPointer { pi in
                weight.withUnsafeBufferPointer { pw in
                    start.withUnsafeBufferPointer { pst in
                        let s = ps.baseAddress!, d = pd.baseAddress!
                        let idx = pi.baseAddress, wt = pw.baseAddress, st = pst.baseAddress!
                        Parallel.forRanges(planes * outer, minChunk: max(1, 16_384 / max(rowLength * 4, 1))) { range in
                            for po in range {
                                let p = po / outer, o = po % outer
                                let drow = d + po * rowLength
                                for e in st[o]..<st[o + 1] {
                                    let srow = s + (p * inner + idx![e]) * rowLength
                                    let v = wt![e]
                                    for k in 0..<rowLength { drow[k] += v * srow[k] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return dst
}
