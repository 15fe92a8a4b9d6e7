// Fully connected layer, PyTorch `torch.nn.functional.linear` semantics: y = x · Wᵀ + b.
// Used by CLIP's transformer (q/k/v projections, MLP) and the StyleGAN2 mapping network
// (which applies its equalized-learning-rate gain to the weight before calling this).

/// `y = x · weightᵀ + bias`.
///
/// - Parameters:
///   - x: `[..., in]` (any number of leading dimensions, flattened to rows).
///   - weight: `[out, in]` (PyTorch layout).
///   - bias: `[out]` or nil.
/// - Returns: `[..., out]`.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    let (rows, inF, outF) = linearShapes(x, weight, "linear")
    if let bias { precondition(bias.shape == [outF], "linear: bias shape \(bias.shape) != [\(outF)]") }
    var y = Tensor.zeros(Array(x.shape.dropLast()) + [outF])
    if rows == 0 || outF == 0 { return y }
    y.withUnsafeMutableBufferPointer { py in
        let yp = py.baseAddress!
        if let bias {
            // Seed every row with the bias and let the GEMM accumulate onto it (beta = 1).
            bias.withUnsafeBufferPointer { pb in
                for r in 0..<rows { (yp + r * outF).update(from: pb.baseAddress!, count: outF) }
            }
        }
        x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in
            sgemm(transB: true, m: rows, n: outF, k: inF,
                  a: px.baseAddress!, b: pw.baseAddress!, beta: bias == nil ? 0 : 1, c: yp)
        } }
    }
    return y
}

/// Gradients of `linear`.
///
/// - Parameters:
///   - gradOutput: `[..., out]`, the gradient of the loss w.r.t. `y`.
///   - x: `[..., in]`, the forward input.
///   - weight: `[out, in]`.
///   - needInput / needWeight: skip the GEMMs whose results are not wanted.
/// - Returns: `gradInput [..., in]`, `gradWeight [out, in]` (each nil when not requested) and
///   `gradBias [out]` (always computed; it is a cheap column sum).
public func linearBackward(gradOutput: Tensor, x: Tensor, weight: Tensor,
                           needInput: Bool = true, needWeight: Bool = true)
    -> (gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?) {
    let (rows, inF, outF) = linearShapes(x, weight, "linearBackward")
    precondition(gradOutput.shape == Array(x.shape.dropLast()) + [outF],
                 "linearBackward: gradOutput shape \(gradOutput.shape) != \(Array(x.shape.dropLast()) + [outF])")
    var gradInput: Tensor? = nil, gradWeight: Tensor? = nil
    gradOutput.withUnsafeBufferPointer { pg in
        let g = pg.baseAddress!
        if needInput {
            // dx[rows, in] = dy[rows, out] · W[out, in]
            var gx = Tensor.zeros(x.shape)
            if rows > 0 && inF > 0 {
                weight.withUnsafeBufferPointer { pw in gx.withUnsafeMutableBufferPointer { pgx in
                    sgemm(m: rows, n: inF, k: outF, a: g, b: pw.baseAddress!, c: pgx.baseAddress!)
                } }
            }
            gradInput = gx
        }
        if needWeight {
            // dW[out, in] = dyᵀ[out, rows] · x[rows, in]
            var gw = Tensor.zeros(weight.shape)
            if outF > 0 && inF > 0 {
                x.withUnsafeBufferPointer { px in gw.withUnsafeMutableBufferPointer { pgw in
                    sgemm(transA: true, m: outF, n: inF, k: rows, a: g, b: px.baseAddress!, c: pgw.baseAddress!)
                } }
            }
            gradWeight = gw
        }
    }
    let gradBias = gradOutput.reshaped([rows, outF]).sum(axis: 0)
    return (gradInput, gradWeight, gradBias)
}

/// Naive reference for `linear` (Double accumulation, plain loops).
public func linearReference(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    let (rows, inF, outF) = linearShapes(x, weight, "linearReference")
    var y = Tensor.zeros(Array(x.shape.dropLast()) + [outF])
    for r in 0..<rows {
        for o in 0..<outF {
            var s = Double(bias?[flat: o] ?? 0)
            for i in 0..<inF { s += Double(x[flat: r * inF + i]) * Double(weight[flat: o * inF + i]) }
            y[flat: r * outF + o] = Float(s)
        }
    }
    return y
}

/// (rows, in, out) after checking `x [..., in]` against `weight [out, in]`.
func linearShapes(_ x: Tensor, _ weight: Tensor, _ name: String) -> (Int, Int, Int) {
    precondition(weight.rank == 2, "\(name): weight must be [out, in], got \(weight.shape)")
    precondition(x.rank >= 1 && x.shape.last == weight.shape[1],
                 "\(name): input \(x.shape) must end in in_features = \(weight.shape[1]) (weight \(weight.shape))")
    let inF = weight.shape[1], outF = weight.shape[0]
    return (x.shape.dropLast().reduce(1, *), inF, outF)
}
