// Bilinear interpolation to a given size, PyTorch `F.interpolate(x, size=(H, W), mode='bilinear',
// align_corners=…)` semantics. pSp/e4e's feature pyramid (`_upsample_add`) uses align_corners=True:
// the corner pixels of input and output coincide and source = dst · (in − 1) / (out − 1).
// With align_corners=False (half-pixel centres) source = (dst + 0.5) · in / out − 0.5, clamped at 0.
//
// The op is linear in x; its backward is the adjoint (each output's gradient scattered to the four
// input pixels with the same weights), checked by an adjoint test.

/// One output coordinate's two source indices and weights along an axis.
struct LinearTap { var i0: Int; var i1: Int; var w0: Float; var w1: Float }

/// Source taps for resizing `inputSize` to `outputSize` along one axis (PyTorch's
/// `area_pixel_compute_source_index` in float, then `i0 = floor`, `i1 = min(i0 + 1, in − 1)`).
func bilinearTaps(inputSize: Int, outputSize: Int, alignCorners: Bool) -> [LinearTap] {
    (0..<outputSize).map { o in
        let src: Float
        if alignCorners {
            let scale: Float = outputSize > 1 ? Float(inputSize - 1) / Float(outputSize - 1) : 0
            src = scale * Float(o)
        } else {
            let scale = Float(inputSize) / Float(outputSize)
            src = max(scale * (Float(o) + 0.5) - 0.5, 0)
        }
        let i0 = min(Int(src), inputSize - 1)
        let i1 = min(i0 + 1, inputSize - 1)
        let l1 = src - Float(i0)
        return LinearTap(i0: i0, i1: i1, w0: 1 - l1, w1: l1)
    }
}

/// Bilinear resize.
/// - Parameters:
///   - x: `[N, C, H, W]`.
///   - height, width: the output size.
///   - alignCorners: PyTorch's `align_corners` (pSp's FPN: true).
/// - Returns: `[N, C, height, width]`.
public func upsampleBilinear2d(_ x: Tensor, height: Int, width: Int, alignCorners: Bool) -> Tensor {
    precondition(x.rank == 4, "upsampleBilinear2d: input must be [N, C, H, W], got \(x.shape)")
    precondition(height > 0 && width > 0 && x.shape[2] > 0 && x.shape[3] > 0, "upsampleBilinear2d: empty size")
    let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
    let th = bilinearTaps(inputSize: h, outputSize: height, alignCorners: alignCorners)
    let tw = bilinearTaps(inputSize: w, outputSize: width, alignCorners: alignCorners)
    var y = Tensor.zeros([x.shape[0], x.shape[1], height, width])
    if y.count == 0 { return y }
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
        let xp = px.baseAddress!, yp = py.baseAddress!
        Parallel.forEach(planes, minChunk: max(1, 16384 / (height * width))) { p in
            let xs = xp + p * h * w, ys = yp + p * height * width
            for oy in 0..<height {
                let a = th[oy], r0 = xs + a.i0 * w, r1 = xs + a.i1 * w, out = ys + oy * width
                for ox in 0..<width {
                    let b = tw[ox]
                    out[ox] = a.w0 * (b.w0 * r0[b.i0] + b.w1 * r0[b.i1]) + a.w1 * (b.w0 * r1[b.i0] + b.w1 * r1[b.i1])
                }
            }
        }
    } }
    return y
}

/// Gradient of `upsampleBilinear2d` with respect to its input (the adjoint).
/// - Parameters: gradOutput: `[N, C, height, width]`; inputHeight/inputWidth: the forward input size.
/// - Returns: `[N, C, inputHeight, inputWidth]`.
public func upsampleBilinear2dBackward(gradOutput: Tensor, inputHeight h: Int, inputWidth w: Int,
                                       alignCorners: Bool) -> Tensor {
    precondition(gradOutput.rank == 4, "upsampleBilinear2dBackward: gradOutput must be [N, C, H, W]")
    let planes = gradOutput.shape[0] * gradOutput.shape[1], height = gradOutput.shape[2], width = gradOutput.shape[3]
    let th = bilinearTaps(inputSize: h, outputSize: height, alignCorners: alignCorners)
    let tw = bilinearTaps(inputSize: w, outputSize: width, alignCorners: alignCorners)
    var gx = Tensor.zeros([gradOutput.shape[0], gradOutput.shape[1], h, w])
    if gx.count == 0 || gradOutput.count == 0 { return gx }
    gradOutput.withUnsafeBufferPointer { pg in gx.withUnsafeMutableBufferPointer { pgx in
        let gp = pg.baseAddress!, gxp = pgx.baseAddress!
        // Planes are independent, so the scatter needs no synchronisation.
        Parallel.forEach(planes, minChunk: max(1, 16384 / (height * width))) { p in
            let gs = gp + p * height * width, out = gxp + p * h * w
            for oy in 0..<height {
                let a = th[oy], r0 = out + a.i0 * w, r1 = out + a.i1 * w, row = gs + oy * width
                for ox in 0..<width {
                    let b = tw[ox], g = row[ox]
                    r0[b.i0] += a.w0 * b.w0 * g; r0[b.i1] += a.w0 * b.w1 * g
                    r1[b.i0] += a.w1 * b.w0 * g; r1[b.i1] += a.w1 * b.w1 * g
                }
            }
        }
    } }
    return gx
}

/// Naive reference for `upsampleBilinear2d`: source coordinates and weights from the definition,
/// computed per output pixel in Double.
public func upsampleBilinear2dReference(_ x: Tensor, height: Int, width: Int, alignCorners: Bool) -> Tensor {
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    func source(_ o: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Double) {
        var s: Double
        if alignCorners { s = outSize > 1 ? Double(o) * Double(inSize - 1) / Double(outSize - 1) : 0 }
        else { s = max((Double(o) + 0.5) * Double(inSize) / Double(outSize) - 0.5, 0) }
        let i0 = min(Int(s.rounded(.down)), inSize - 1)
        return (i0, min(i0 + 1, inSize - 1), s - Double(i0))
    }
    var y = Tensor.zeros([n, c, height, width])
    for b in 0..<n { for ch in 0..<c { for oy in 0..<height { for ox in 0..<width {
        let (y0, y1, ly) = source(oy, h, height), (x0, x1, lx) = source(ox, w, width)
        func v(_ iy: Int, _ ix: Int) -> Double { Double(x[b, ch, iy, ix]) }
        let top = (1 - lx) * v(y0, x0) + lx * v(y0, x1), bottom = (1 - lx) * v(y1, x0) + lx * v(y1, x1)
        y[b, ch, oy, ox] = Float((1 - ly) * top + ly * bottom)
    } } } }
    return y
}
