/// Pad, upsample, FIR-filter and downsample 2-D images: NVIDIA's `upfirdn2d`
/// (`torch_utils/ops/upfirdn2d.py`), the resampling primitive of StyleGAN2.
///
/// Per plane: (1) insert `up − 1` zeros after each pixel, (2) pad with zeros (negative padding
/// crops), (3) convolve with the filter (a true convolution; `flipFilter: true` = correlation),
/// shrinking so every output tap lies inside the padded image, (4) keep every `down`-th pixel.

/// Padding `(x0, x1, y0, y1)` with respect to the upsampled image, as `_parse_padding`.
public typealias Upfirdn2dPadding = (x0: Int, x1: Int, y0: Int, y1: Int)

/// Prepares a FIR filter like the reference `setup_filter`: a 1-D list becomes the outer product
/// `f ⊗ f` unless `separable` (default: separable only for ≥ 8 taps), is normalised to unit sum
/// (`normalize`, default true), optionally flipped, and scaled by `gain^(ndim/2)`.
///
/// - Returns: `[k, k]` (non-separable) or `[k]` (separable). `setupFilter([1, 3, 3, 1])` is
///   StyleGAN2's `resample_filter`, `[4, 4]` summing to 1.
public func setupFilter(_ taps: [Float], normalize: Bool = true, flipFilter: Bool = false,
                        gain: Float = 1, separable: Bool? = nil) -> Tensor {
    precondition(!taps.isEmpty, "setupFilter: empty filter")
    let sep = separable ?? (taps.count >= 8)
    var f: Tensor
    if sep {
        f = Tensor(shape: [taps.count], data: taps)
    } else {
        let k = taps.count
        f = Tensor(shape: [k, k], generator: { taps[$0 / k] * taps[$0 % k] })
    }
    if normalize {
        let s = f.storage.reduce(0, +)
        f.storage = f.storage.map { $0 / s }
    }
    if flipFilter { f.storage.reverse() }   // reversing the flat array flips every axis
    let g = sep ? Float(Double(gain).squareRoot()) : gain   // gain^(ndim/2)
    if g != 1 { f.storage = f.storage.map { $0 * g } }
    return f
}

/// `(fw, fh)` of a `[fh, fw]` or separable `[k]` filter.
@inlinable func upfirdn2dFilterSize(_ f: Tensor) -> (fw: Int, fh: Int) {
    precondition(f.rank == 1 || f.rank == 2, "upfirdn2d: filter must be [fh, fw] or [k], got \(f.shape)")
    return f.rank == 1 ? (f.shape[0], f.shape[0]) : (f.shape[1], f.shape[0])
}

/// The effective 2-D correlation kernel `[fh, fw]`: the filter (outer product when separable)
/// times `gain`, flipped unless `flipFilter` (so that the plain sum `Σ k[ky,kx]·in[y+ky, x+kx]`
/// is the reference's convolution).
@inlinable func upfirdn2dKernel(_ f: Tensor, flipFilter: Bool, gain: Float) -> (k: [Float], fw: Int, fh: Int) {
    let (fw, fh) = upfirdn2dFilterSize(f)
    var k = [Float](repeating: 0, count: fw * fh)
    for ky in 0..<fh {
        for kx in 0..<fw {
            let v: Float = f.rank == 1 ? f.storage[ky] * f.storage[kx] : f.storage[ky * fw + kx]
            let dy = flipFilter ? ky : fh - 1 - ky
            let dx = flipFilter ? kx : fw - 1 - kx
            k[dy * fw + dx] = v * gain
        }
    }
    return (k, fw, fh)
}

/// Output `(height, width)` of `upfirdn2d` for an input of `h × w`.
public func upfirdn2dOutputSize(height h: Int, width w: Int, filter: Tensor, up: Int = 1, down: Int = 1,
                                padding p: Upfirdn2dPadding = (0, 0, 0, 0)) -> (height: Int, width: Int) {
    let (fw, fh) = upfirdn2dFilterSize(filter)
    let upH = h * up + p.y0 + p.y1, upW = w * up + p.x0 + p.x1
    precondition(upH >= fh && upW >= fw,
                 "upfirdn2d: padded upsampled image \(upH)x\(upW) is smaller than the filter \(fh)x\(fw)")
    return ((upH - fh) / down + 1, (upW - fw) / down + 1)
}

/// A prepared `upfirdn2d` for a fixed input size and filter: the effective kernel and the output
/// size are computed once, and `run` works on raw planes (no allocation), so layers can call it
/// per plane inside their own parallel loops.
public struct Upfirdn2dPlan: Sendable {
    public let height: Int, width: Int
    public let outHeight: Int, outWidth: Int
    public let up: Int, down: Int
    public let padding: Upfirdn2dPadding
    /// Effective correlation kernel `[fh, fw]` (flipped unless `flipFilter`, times the gain).
    public let kernel: [Float]
    public let fw: Int, fh: Int
    /// When the kernel is an outer product `column ⊗ row` (as every `setupFilter` of a 1-D
    /// list is), its factors: the `up = down = 1` path then filters rows then columns,
    /// 8 instead of 16 multiply-adds per pixel for a 4×4 kernel.
    public let separable: (column: [Float], row: [Float])?
    /// Separable kernel with `up` or `down` ≠ 1: per output column and per output row, the input
    /// taps that land on real (non-inserted, in-image) samples with their weights, so `plane`
    /// filters rows then columns without testing every tap of every pixel.
    let resampleTaps: (rows: ResampleTaps, columns: ResampleTaps)?

    /// - Parameters: as `upfirdn2d`, for `height × width` planes.
    public init(height: Int, width: Int, filter: Tensor, up: Int = 1, down: Int = 1,
                padding: Upfirdn2dPadding = (0, 0, 0, 0), flipFilter: Bool = false, gain: Float = 1) {
        precondition(up >= 1 && down >= 1, "upfirdn2d: up (\(up)) and down (\(down)) must be >= 1")
        let (oh, ow) = upfirdn2dOutputSize(height: height, width: width, filter: filter, up: up, down: down, padding: padding)
        let (k, fw, fh) = upfirdn2dKernel(filter, flipFilter: flipFilter, gain: gain)
        self.height = height; self.width = width; self.outHeight = oh; self.outWidth = ow
        self.up = up; self.down = down; self.padding = padding
        self.kernel = k; self.fw = fw; self.fh = fh
        let separable = Upfirdn2dPlan.factor(k, fw: fw, fh: fh)
        self.separable = separable
        if let (column, row) = separable, up != 1 || down != 1 {
            resampleTaps = (ResampleTaps(taps: row, inputCount: width, outputCount: ow, up: up, down: down, pad: padding.x0),
                            ResampleTaps(taps: column, inputCount: height, outputCount: oh, up: up, down: down, pad: padding.y0))
        } else {
            resampleTaps = nil
        }
    }

    /// Rank-1 factors of a `[fh, fw]` kernel, or nil when it is not separable (to 1e-6 relative).
    static func factor(_ k: [Float], fw: Int, fh: Int) -> (column: [Float], row: [Float])? {
        guard fw > 1 || fh > 1, let peak = k.indices.max(by: { abs(k[$0]) < abs(k[$1]) }), k[peak] != 0 else { return nil }
        let py = peak / fw, px = peak % fw
        let column = (0..<fh).map { k[$0 * fw + px] }
        let row = (0..<fw).map { k[py * fw + $0] / k[peak] }
        let scale = abs(k[peak])
        for ky in 0..<fh {
            for kx in 0..<fw where abs(column[ky] * row[kx] - k[ky * fw + kx]) > 1e-6 * scale { return nil }
        }
        return (column, row)
    }

    /// Filters `planes` consecutive `height × width` planes at `x` into consecutive
    /// `outHeight × outWidth` planes at `out` (overwritten). `parallel`: split planes over threads.
    public func run(_ x: UnsafePointer<Float>, planes: Int, _ out: UnsafeMutablePointer<Float>, parallel: Bool = true) {
        kernel.withUnsafeBufferPointer { pk in
            let k = pk.baseAddress!
            if parallel {
                Parallel.forEach(planes, minChunk: Swift.max(1, 4096 / Swift.max(outHeight * outWidth, 1))) { pl in
                    plane(x + pl * height * width, k, out + pl * outHeight * outWidth)
                }
            } else {
                for pl in 0..<planes { plane(x + pl * height * width, k, out + pl * outHeight * outWidth) }
            }
        }
    }

    @inline(__always)
    private func plane(_ src: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        let h = height, w = width, oh = outHeight, ow = outWidth, p = padding
        if up == 1 && down == 1, let (column, row) = separable {
            // Rows first: tmp[iy, ox] = Σ row[kx] · x[iy, ox + kx − x0]; then columns:
            // out[oy, ox] = Σ column[ky] · tmp[oy + ky − y0, ox]. Both are contiguous axpys.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: h * ow) { tb in
                let tmp = tb.baseAddress!
                tmp.initialize(repeating: 0, count: h * ow)
                for iy in 0..<h {
                    let srow = src + iy * w, trow = tmp + iy * ow
                    for kx in 0..<fw {
                        let shift = kx - p.x0
                        let lo = Swift.min(Swift.max(0, -shift), ow)
                        let hi = Swift.max(lo, Swift.min(ow, w - shift))
                        let kv = row[kx]
                        if hi > lo {
                            let s = srow + shift
                            for ox in lo..<hi { trow[ox] += kv * s[ox] }
                        }
                    }
                }
                dst.initialize(repeating: 0, count: oh * ow)
                for oy in 0..<oh {
                    let drow = dst + oy * ow
                    for ky in 0..<fh {
                        let iy = oy + ky - p.y0
                        if iy < 0 || iy >= h { continue }
                        let trow = tmp + iy * ow, kv = column[ky]
                        for ox in 0..<ow { drow[ox] += kv * trow[ox] }
                    }
                }
            }
            return
        }
        if let (rowTaps, columnTaps) = resampleTaps {
            // Rows first: tmp[iy, ox] = Σ_j w_j · x[iy, ix_j(ox)] over the real taps of ox; then
            // out[oy, ox] = Σ_j w_j · tmp[iy_j(oy), ox], whole-row axpys.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: h * ow) { tb in
                let tmp = tb.baseAddress!
                rowTaps.index.withUnsafeBufferPointer { ri in
                    rowTaps.weight.withUnsafeBufferPointer { rw in
                        rowTaps.start.withUnsafeBufferPointer { rs in
                            for iy in 0..<h {
                                let srow = src + iy * w, trow = tmp + iy * ow
                                for ox in 0..<ow {
                                    var acc: Float = 0
                                    for j in rs[ox]..<rs[ox + 1] { acc += rw[j] * srow[ri[j]] }
                                    trow[ox] = acc
                                }
                            }
                        }
                    }
                }
                for oy in 0..<oh {
                    let drow = dst + oy * ow
                    let j0 = columnTaps.start[oy], j1 = columnTaps.start[oy + 1]
                    if j0 == j1 { drow.initialize(repeating: 0, count: ow); continue }
                    let first = tmp + columnTaps.index[j0] * ow, w0 = columnTaps.weight[j0]
                    for ox in 0..<ow { drow[ox] = w0 * first[ox] }
                    for j in (j0 + 1)..<j1 {
                        let trow = tmp + columnTaps.index[j] * ow, kv = columnTaps.weight[j]
                        for ox in 0..<ow { drow[ox] += kv * trow[ox] }
                    }
                }
            }
            return
        }
        if up == 1 && down == 1 {
            // out[oy, ox] = Σ k[ky, kx] · x[oy + ky − y0, ox + kx − x0]: each (oy, ky, kx) is a
            // contiguous axpy over ox, clipped to the image.
            dst.initialize(repeating: 0, count: oh * ow)
            for oy in 0..<oh {
                let drow = dst + oy * ow
                for ky in 0..<fh {
                    let iy = oy + ky - p.y0
                    if iy < 0 || iy >= h { continue }
                    let srow = src + iy * w
                    for kx in 0..<fw {
                        let shift = kx - p.x0          // ix = ox + shift
                        let lo = Swift.min(Swift.max(0, -shift), ow)
                        let hi = Swift.max(lo, Swift.min(ow, w - shift))
                        let kv = k[ky * fw + kx]
                        if hi > lo {
                            let s = srow + shift
                            for ox in lo..<hi { drow[ox] += kv * s[ox] }
                        }
                    }
                }
            }
            return
        }
        // General path: per output pixel, visit only the taps that land on real (non-inserted)
        // samples: upsampled position Y = oy·down + ky − y0 must be a multiple of `up`.
        for oy in 0..<oh {
            for ox in 0..<ow {
                var acc: Float = 0
                for ky in 0..<fh {
                    let Y = oy * down + ky - p.y0
                    if Y < 0 || Y % up != 0 { continue }
                    let iy = Y / up
                    if iy >= h { continue }
                    let srow = src + iy * w
                    let krow = k + ky * fw
                    for kx in 0..<fw {
                        let X = ox * down + kx - p.x0
                        if X < 0 || X % up != 0 { continue }
                        let ix = X / up
                        if ix >= w { continue }
                        acc += krow[kx] * srow[ix]
                    }
                }
                dst[oy * ow + ox] = acc
            }
        }
    }

    /// The plan of the input gradient (the adjoint map `outHeight × outWidth → height × width`):
    /// flipped filter, `up`/`down` swapped, padding from `upfirdn2dBackwardPadding`.
    public func backwardPlan(filter: Tensor, flipFilter: Bool = false, gain: Float = 1) -> Upfirdn2dPlan {
        let pb = upfirdn2dBackwardPadding(inputHeight: height, inputWidth: width, outputHeight: outHeight,
                                          outputWidth: outWidth, filter: filter, up: up, down: down, padding: padding)
        let plan = Upfirdn2dPlan(height: outHeight, width: outWidth, filter: filter, up: down, down: up, padding: pb,
                                 flipFilter: !flipFilter, gain: gain)
        precondition(plan.outHeight == height && plan.outWidth == width, "upfirdn2d backward plan size mismatch")
        return plan
    }
}

/// One axis of a separable `upfirdn2d`: output `o` reads the upsampled, padded position
/// `o·down + k − pad` with weight `taps[k]`, a real sample `x[i]` only where that position is
/// `i·up` with `0 ≤ i < inputCount`. Entries `start[o] ..< start[o + 1]` of `index`/`weight`.
struct ResampleTaps: Sendable {
    let start: [Int], index: [Int], weight: [Float]

    init(taps: [Float], inputCount: Int, outputCount: Int, up: Int, down: Int, pad: Int) {
        var start = [0], index = [Int](), weight = [Float]()
        for o in 0..<outputCount {
            for (k, t) in taps.enumerated() {
                let u = o * down + k - pad
                guard u >= 0, u % up == 0, u / up < inputCount else { continue }
                index.append(u / up); weight.append(t)
            }
            start.append(index.count)
        }
        self.start = start; self.index = index; self.weight = weight
    }
}

/// Pads, upsamples, filters and downsamples a batch of images (NVIDIA `upfirdn2d`).
///
/// - Parameters:
///   - x: `[N, C, H, W]` (any leading dimensions; the last two are filtered).
///   - filter: `[fh, fw]` or separable `[k]`, e.g. `setupFilter([1, 3, 3, 1])`.
///   - up: integer upsampling factor (zeros inserted), default 1.
///   - down: integer downsampling factor, default 1.
///   - padding: `(x0, x1, y0, y1)` relative to the upsampled image; negative crops. Default 0.
///   - flipFilter: false = convolution (reference default), true = correlation.
///   - gain: overall signal scale, default 1 (`upsample2d` passes `up²`).
/// - Returns: `[N, C, (H·up + y0 + y1 − fh)/down + 1, (W·up + x0 + x1 − fw)/down + 1]`.
public func upfirdn2d(_ x: Tensor, filter: Tensor, up: Int = 1, down: Int = 1,
                      padding: Upfirdn2dPadding = (0, 0, 0, 0), flipFilter: Bool = false, gain: Float = 1) -> Tensor {
    precondition(x.rank >= 2, "upfirdn2d: input must be [..., H, W], got \(x.shape)")
    precondition(up >= 1 && down >= 1, "upfirdn2d: up (\(up)) and down (\(down)) must be >= 1")
    let h = x.dim(-2), w = x.dim(-1)
    let plan = Upfirdn2dPlan(height: h, width: w, filter: filter, up: up, down: down, padding: padding,
                             flipFilter: flipFilter, gain: gain)
    let planes = x.count / max(h * w, 1)
    var out = Tensor.zeros(Array(x.shape.dropLast(2)) + [plan.outHeight, plan.outWidth])
    if planes == 0 || out.count == 0 { return out }
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in plan.run(px.baseAddress!, planes: planes, po.baseAddress!) }
    }
    return out
}

/// Padding of the adjoint `upfirdn2d`, as the reference's autograd (`_upfirdn2d_cuda.backward`):
/// the input-gradient of `upfirdn2d(x: ih × iw → oh × ow)` is `upfirdn2d(dy, f, up: down,
/// down: up, padding: this, flipFilter: !flipFilter, gain)`.
public func upfirdn2dBackwardPadding(inputHeight ih: Int, inputWidth iw: Int, outputHeight oh: Int, outputWidth ow: Int,
                                     filter: Tensor, up: Int, down: Int, padding p: Upfirdn2dPadding) -> Upfirdn2dPadding {
    let (fw, fh) = upfirdn2dFilterSize(filter)
    return (x0: fw - p.x0 - 1,
            x1: iw * up - ow * down + p.x0 - up + 1,
            y0: fh - p.y0 - 1,
            y1: ih * up - oh * down + p.y0 - up + 1)
}

/// Gradient of `upfirdn2d` with respect to its input: itself an `upfirdn2d` with the filter
/// flipped, `up`/`down` swapped and the padding recomputed (exactly the adjoint linear map).
///
/// - Parameters:
///   - gradOutput: `[N, C, oh, ow]`, the gradient of the forward output.
///   - inputHeight, inputWidth: `H`, `W` of the forward input.
///   - the other arguments: those of the forward call.
/// - Returns: `[N, C, H, W]`.
public func upfirdn2dBackward(gradOutput: Tensor, inputHeight: Int, inputWidth: Int, filter: Tensor,
                              up: Int = 1, down: Int = 1, padding: Upfirdn2dPadding = (0, 0, 0, 0),
                              flipFilter: Bool = false, gain: Float = 1) -> Tensor {
    let oh = gradOutput.dim(-2), ow = gradOutput.dim(-1)
    let expected = upfirdn2dOutputSize(height: inputHeight, width: inputWidth, filter: filter, up: up, down: down, padding: padding)
    precondition(expected == (oh, ow),
                 "upfirdn2dBackward: gradOutput is \(oh)x\(ow) but the forward maps \(inputHeight)x\(inputWidth) to \(expected.height)x\(expected.width)")
    let p = upfirdn2dBackwardPadding(inputHeight: inputHeight, inputWidth: inputWidth, outputHeight: oh, outputWidth: ow,
                                     filter: filter, up: up, down: down, padding: padding)
    let g = upfirdn2d(gradOutput, filter: filter, up: down, down: up, padding: p, flipFilter: !flipFilter, gain: gain)
    precondition(g.dim(-2) == inputHeight && g.dim(-1) == inputWidth,
                 "upfirdn2dBackward: internal size mismatch \(g.shape) vs \(inputHeight)x\(inputWidth)")
    return g
}

/// Naive reference of `upfirdn2d` following `_upfirdn2d_ref` literally (zero-insert, pad/crop,
/// convolve with the flipped filter, subsample), accumulating in Double. Slow; for tests.
public func upfirdn2dReference(_ x: Tensor, filter: Tensor, up: Int = 1, down: Int = 1,
                               padding p: Upfirdn2dPadding = (0, 0, 0, 0), flipFilter: Bool = false, gain: Float = 1) -> Tensor {
    let out = upfirdn2dReferenceDouble(x.doubles, shape: x.shape, filter: filter, up: up, down: down,
                                       padding: p, flipFilter: flipFilter, gain: gain)
    let (oh, ow) = upfirdn2dOutputSize(height: x.dim(-2), width: x.dim(-1), filter: filter, up: up, down: down, padding: p)
    return Tensor(shape: Array(x.shape.dropLast(2)) + [oh, ow], data: out.map { Float($0) })
}

/// `upfirdn2dReference` entirely in double precision on flat values of `shape` `[..., H, W]`
/// (for finite-difference checks). Returns the flat output of `[..., oh, ow]`.
public func upfirdn2dReferenceDouble(_ x: [Double], shape: [Int], filter: Tensor, up: Int = 1, down: Int = 1,
                                     padding p: Upfirdn2dPadding = (0, 0, 0, 0), flipFilter: Bool = false,
                                     gain: Float = 1) -> [Double] {
    precondition(shape.count >= 2 && shape.reduce(1, *) == x.count, "upfirdn2dReferenceDouble: bad shape \(shape)")
    let h = shape[shape.count - 2], w = shape[shape.count - 1]
    let planes = x.count / max(h * w, 1)
    let (fw, fh) = upfirdn2dFilterSize(filter)
    // Filter scaled by gain^(ndim/2) per the reference, then made 2-D.
    var f2 = [Double](repeating: 0, count: fh * fw)
    let g1 = Double(gain).squareRoot()
    for ky in 0..<fh {
        for kx in 0..<fw {
            f2[ky * fw + kx] = filter.rank == 1
                ? Double(filter.storage[ky]) * g1 * Double(filter.storage[kx]) * g1
                : Double(filter.storage[ky * fw + kx]) * Double(gain)
        }
    }
    // Upsample by zero insertion.
    let uh = h * up, uw = w * up
    // Pad (positive) then crop (negative), as torch pad + slicing.
    let ph = uh + max(p.y0, 0) + max(p.y1, 0), pw = uw + max(p.x0, 0) + max(p.x1, 0)
    let ch = ph - max(-p.y0, 0) - max(-p.y1, 0), cw = pw - max(-p.x0, 0) - max(-p.x1, 0)
    precondition(ch >= fh && cw >= fw, "upfirdn2dReference: padded image smaller than the filter")
    let oh = (ch - fh) / down + 1, ow = (cw - fw) / down + 1
    var out = [Double](repeating: 0, count: planes * oh * ow)
    for pl in 0..<planes {
        // Value of the padded, cropped, upsampled image at (Y, X).
        func at(_ Y: Int, _ X: Int) -> Double {
            let py = Y + max(-p.y0, 0), px = X + max(-p.x0, 0)   // index into padded
            let uy = py - max(p.y0, 0), ux = px - max(p.x0, 0)    // index into upsampled
            guard uy >= 0, uy < uh, ux >= 0, ux < uw, uy % up == 0, ux % up == 0 else { return 0 }
            return x[pl * h * w + (uy / up) * w + ux / up]
        }
        for oy in 0..<oh {
            for ox in 0..<ow {
                var acc = 0.0
                for ky in 0..<fh {
                    for kx in 0..<fw {
                        // conv2d (correlation) with the flipped filter unless flipFilter.
                        let fy = flipFilter ? ky : fh - 1 - ky
                        let fx = flipFilter ? kx : fw - 1 - kx
                        acc += f2[fy * fw + fx] * at(oy * down + ky, ox * down + kx)
                    }
                }
                out[(pl * oh + oy) * ow + ox] = acc
            }
        }
    }
    return out
}
