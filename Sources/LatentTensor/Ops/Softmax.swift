import Foundation

// Softmax along one axis, PyTorch `torch.softmax(x, dim)` semantics. The row maximum is subtracted
// before exponentiation (exact in real arithmetic, avoids overflow), so additive masks of -inf
// (CLIP's causal attention mask) give exact zeros. A row that is entirely -inf gives NaN, as in
// PyTorch.

/// Softmax along `axis` (default: the last).
///
/// - Parameters:
///   - x: any shape; `axis` may be negative (counted from the end).
/// - Returns: the same shape, each slice along `axis` non-negative and summing to 1.
public func softmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    let (outer, len, inner) = softmaxShapes(x.shape, axis, "softmax")
    var y = Tensor.zeros(x.shape)
    if x.count == 0 { return y }
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
        let xp = px.baseAddress!, yp = py.baseAddress!
        // One task per (outer, inner) line; lines along the last axis are contiguous.
        Parallel.forEach(outer * inner, minChunk: max(1, 8192 / max(len, 1))) { line in
            let o = line / inner, i = line % inner
            let base = o * len * inner + i
            var m = -Float.infinity
            for l in 0..<len { m = max(m, xp[base + l * inner]) }
            var s: Double = 0
            for l in 0..<len {
                let e = expf(xp[base + l * inner] - m)
                yp[base + l * inner] = e
                s += Double(e)
            }
            let r = Float(1 / s)
            for l in 0..<len { yp[base + l * inner] *= r }
        }
    } }
    return y
}

/// Gradient of `softmax` given its output y: dx = y ⊙ (dy − Σ_axis dy ⊙ y).
///
/// - Parameters: `gradOutput` and `output` of the same shape; `axis` as in the forward.
/// - Returns: `gradInput`, same shape.
public func softmaxBackward(gradOutput: Tensor, output: Tensor, axis: Int = -1) -> Tensor {
    precondition(gradOutput.shape == output.shape,
                 "softmaxBackward: gradOutput \(gradOutput.shape) != output \(output.shape)")
    let (outer, len, inner) = softmaxShapes(output.shape, axis, "softmaxBackward")
    var gx = Tensor.zeros(output.shape)
    if output.count == 0 { return gx }
    output.withUnsafeBufferPointer { py in gradOutput.withUnsafeBufferPointer { pg in gx.withUnsafeMutableBufferPointer { pgx in
        let yp = py.baseAddress!, gp = pg.baseAddress!, dp = pgx.baseAddress!
        Parallel.forEach(outer * inner, minChunk: max(1, 8192 / max(len, 1))) { line in
            let o = line / inner, i = line % inner
            let base = o * len * inner + i
            var s: Double = 0
            for l in 0..<len { s += Double(gp[base + l * inner]) * Double(yp[base + l * inner]) }
            let sf = Float(s)
            for l in 0..<len {
                let k = base + l * inner
                dp[k] = yp[k] * (gp[k] - sf)
            }
        }
    } } }
    return gx
}

/// Naive reference for `softmax` (Double).
public func softmaxReference(_ x: Tensor, axis: Int = -1) -> Tensor {
    let (outer, len, inner) = softmaxShapes(x.shape, axis, "softmaxReference")
    var y = Tensor.zeros(x.shape)
    for o in 0..<outer {
        for i in 0..<inner {
            let idx = (0..<len).map { o * len * inner + $0 * inner + i }
            let m = idx.map { Double(x[flat: $0]) }.max() ?? 0
            let e = idx.map { Foundation.exp(Double(x[flat: $0]) - m) }
            let s = e.reduce(0, +)
            for (k, j) in idx.enumerated() { y[flat: j] = Float(e[k] / s) }
        }
    }
    return y
}

/// (outer, length of axis, inner) for a softmax along `axis` of `shape`.
private func softmaxShapes(_ shape: [Int], _ axis: Int, _ name: String) -> (Int, Int, Int) {
    let ax = axis < 0 ? shape.count + axis : axis
    precondition(ax >= 0 && ax < shape.count, "\(name): axis \(axis) out of range for shape \(shape)")
    return (shape[..<ax].reduce(1, *), shape[ax], shape[(ax + 1)...].reduce(1, *))
}
