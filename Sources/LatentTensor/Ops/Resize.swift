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

/// One axis of a separable resize as a banded matrix `[outputSize, inputSize]`, plus its
/// transpose, so the backward pass is the exact adjoint of the forward.
public struct ResizeWeights: Sendable {
    public let inputSize: Int
    public let outputSize: Int
    /// One band per output index (the forward pass).
    let forward: ResizeBands
    /// One band per input index (the backward pass).
    let transposed: ResizeBands

    /// Builds the weights for resizing `inputSize` samples to `outputSize` (both ≥ 1).
    public init(inputSize: Int, outputSize: Int, method: ResizeMethod, antialias: Bool = true) {
        precondition(inputSize >= 1 && outputSize >= 1, "resize: sizes must be positive (\(inputSize) -> \(outputSize))")
        self.inputSize = inputSize
        self.outputSize = outputSize
        var rows = [(first: Int, weights: [Float])]()
        var perInput = [[(Int, Float)]](repeating: [], count: inputSize)
        for i in 0..<outputSize {
            let (lo, w) = resizeTaps(outputIndex: i, inputSize: inputSize, outputSize: outputSize,
                                     method: method, antialias: antialias)
            // Zero taps at the ends of a band (the box filter's edges) are dropped; inner zeros
            // (cubic zero crossings) stay so the band is contiguous.
            let f = w.map(Float.init)
            guard let a = f.firstIndex(where: { $0 != 0 }), let b = f.lastIndex(where: { $0 != 0 }) else {
                rows.append((0, []))
                continue
            }
            rows.append((lo + a, Array(f[a...b])))
            for k in a...b { perInput[lo + k].append((i, f[k])) }
        }
        forward = ResizeBands(rows)
        transposed = ResizeBands(perInput.map { entries -> (first: Int, weights: [Float]) in
            guard let lo = entries.first?.0, let hi = entries.last?.0 else { return (0, []) }
            var band = [Float](repeating: 0, count: hi - lo + 1)
            for (i, v) in entries { band[i - lo] = v }
            return (lo, band)
        })
    }

    /// The dense matrix `[outputSize, inputSize]` (for tests and inspection).
    public var dense: Tensor {
        var m = Tensor.zeros([outputSize, inputSize])
        for i in 0..<outputSize {
            for k in 0..<forward.count(i) { m[i, forward.first[i] + k] = forward.weights[forward.offset[i] + k] }
        }
        return m
    }
}

/// Rows of a banded matrix: row `r` has the weights `weights[offset[r] ..< offset[r + 1]]` for
/// the consecutive columns starting at `first[r]`.
struct ResizeBands: Sendable {
    let first: [Int]
    let offset: [Int]
    let weights: [Float]

    init(_ rows: [(first: Int, weights: [Float])]) {
        first = rows.map(\.first)
        var o = [0]
        o.reserveCapacity(rows.count + 1)
        for r in rows { o.append(o.last! + r.weights.count) }
        offset = o
        weights = rows.flatMap(\.weights)
    }

    func count(_ r: Int) -> Int { offset[r + 1] - offset[r] }
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
                           bands: wx.forward)
            .reshaped([n, c, h, width])
    }
    if height != h {
        let wy = ResizeWeights(inputSize: h, outputSize: height, method: method, antialias: antialias)
        t = resizeColumnsPass(t, planes: planes, inner: h, outer: height, rowLength: width,
                              bands: wy.forward)
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
                              bands: wy.transposed)
            .reshaped([n, c, inputHeight, w])
    }
    if inputWidth != w {
        let wx = ResizeWeights(inputSize: inputWidth, outputSize: w, method: method, antialias: antialias)
        t = resizeRowsPass(t, rows: planes * inputHeight, inner: w, outer: inputWidth,
                           bands: wx.transposed)
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

/// Along the last axis: `dst[r, o] = Σ_k w_o[k] · src[r, first_o + k]` for each of `rows` rows.
/// Rows are independent, so they are split over threads.
private func resizeRowsPass(_ src: Tensor, rows: Int, inner: Int, outer: Int, bands: ResizeBands) -> Tensor {
    var dst = Tensor.zeros([rows, outer])
    src.withUnsafeBufferPointer { ps in
        dst.withUnsafeMutableBufferPointer { pd in
            bands.weights.withUnsafeBufferPointer { pw in
                bands.first.withUnsafeBufferPointer { pf in
                    bands.offset.withUnsafeBufferPointer { po in
                        let s = ps.baseAddress!, d = pd.baseAddress!
                        let first = pf.baseAddress!, offset = po.baseAddress!
                        let wts = pw.baseAddress ?? UnsafePointer(d)  // never read when there are no weights
                        Parallel.forRanges(rows, minChunk: max(1, 16_384 / max(outer * 4, 1))) { range in
                            for r in range {
                                let srow = s + r * inner, drow = d + r * outer
                                for o in 0..<outer {
                                    let sp = srow + first[o], wp = wts + offset[o]
                                    let n = offset[o + 1] - offset[o]
                                    // Four partial sums let the loop pipeline (long antialiased kernels).
                                    var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                                    var k = 0
                                    while k + 4 <= n {
                                        a0 += wp[k] * sp[k]; a1 += wp[k + 1] * sp[k + 1]
                                        a2 += wp[k + 2] * sp[k + 2]; a3 += wp[k + 3] * sp[k + 3]
                                        k += 4
                                    }
                                    while k < n { a0 += wp[k] * sp[k]; k += 1 }
                                    drow[o] = (a0 + a1) + (a2 + a3)
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
/// is `Σ_k w_o[k] · (src row first_o + k)`, accumulated as whole contiguous rows.
private func resizeColumnsPass(_ src: Tensor, planes: Int, inner: Int, outer: Int, rowLength: Int,
                               bands: ResizeBands) -> Tensor {
    var dst = Tensor.zeros([planes, outer, rowLength])
    src.withUnsafeBufferPointer { ps in
        dst.withUnsafeMutableBufferPointer { pd in
            bands.weights.withUnsafeBufferPointer { pw in
                bands.first.withUnsafeBufferPointer { pf in
                    bands.offset.withUnsafeBufferPointer { po in
                        let s = ps.baseAddress!, d = pd.baseAddress!
                        let first = pf.baseAddress!, offset = po.baseAddress!
                        let wts = pw.baseAddress ?? UnsafePointer(d)
                        Parallel.forRanges(planes * outer, minChunk: max(1, 16_384 / max(rowLength * 4, 1))) { range in
                            for po in range {
                                let p = po / outer, o = po % outer
                                let drow = d + po * rowLength
                                for k in 0..<(offset[o + 1] - offset[o]) {
                                    let srow = s + (p * inner + first[o] + k) * rowLength
                                    let v = wts[offset[o] + k]
                                    for x in 0..<rowLength { drow[x] += v * srow[x] }
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
