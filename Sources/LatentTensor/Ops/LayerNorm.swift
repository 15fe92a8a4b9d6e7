import Foundation

// Layer normalisation over the last dimension, PyTorch `torch.nn.LayerNorm(D, eps)` semantics:
// y = (x − mean) / sqrt(var + eps) · weight + bias, with the biased variance (divide by D).
// Statistics are computed in Double (two passes), which matches PyTorch's float kernel to
// float rounding and is robust to large means (CLIP's residual stream).

/// Layer normalisation over the last dimension.
///
/// - Parameters:
///   - x: `[..., D]`.
///   - weight: `[D]` (γ). bias: `[D]` (β).
///   - eps: added to the variance; default 1e-5 (PyTorch's default, used by CLIP).
/// - Returns: `[..., D]`.
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
    let (rows, d) = layerNormShapes(x, weight, "layerNorm")
    precondition(bias.shape == [d], "layerNorm: bias shape \(bias.shape) != [\(d)]")
    var y = Tensor.zeros(x.shape)
    if rows == 0 || d == 0 { return y }
    x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
        y.withUnsafeMutableBufferPointer { py in
            let xp = px.baseAddress!, wp = pw.baseAddress!, bp = pb.baseAddress!, yp = py.baseAddress!
            Parallel.forEach(rows, minChunk: max(1, 4096 / d)) { r in
                let xr = xp + r * d, yr = yp + r * d
                let (mean, rstd) = rowMoments(xr, d, eps)
                for i in 0..<d {
                    yr[i] = Float((Double(xr[i]) - mean) * rstd) * wp[i] + bp[i]
                }
            }
        }
    } } }
    return y
}

/// Gradients of `layerNorm` (statistics are recomputed from `x`).
///
/// With x̂ = (x − mean)·rstd and g = dy·γ: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)),
/// dγ = Σ_rows dy·x̂, dβ = Σ_rows dy.
/// - Returns: `gradInput [..., D]`, `gradWeight [D]`, `gradBias [D]`.
public func layerNormBackward(gradOutput: Tensor, x: Tensor, weight: Tensor, eps: Float = 1e-5)
    -> (gradInput: Tensor, gradWeight: Tensor, gradBias: Tensor) {
    let (rows, d) = layerNormShapes(x, weight, "layerNormBackward")
    precondition(gradOutput.shape == x.shape, "layerNormBackward: gradOutput \(gradOutput.shape) != x \(x.shape)")
    var gx = Tensor.zeros(x.shape)
    var stats = [Double](repeating: 0, count: 2 * rows)   // (mean, rstd) per row, reused for dγ
    if rows > 0 && d > 0 {
        x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in gradOutput.withUnsafeBufferPointer { pg in
            gx.withUnsafeMutableBufferPointer { pgx in stats.withUnsafeMutableBufferPointer { ps in
                let xp = px.baseAddress!, wp = pw.baseAddress!, gp = pg.baseAddress!, dxp = pgx.baseAddress!
                let sp = ps.baseAddress!
                Parallel.forEach(rows, minChunk: max(1, 4096 / d)) { r in
                    let xr = xp + r * d, gr = gp + r * d, dr = dxp + r * d
                    let (mean, rstd) = rowMoments(xr, d, eps)
                    sp[2 * r] = mean; sp[2 * r + 1] = rstd
                    var sumG = 0.0, sumGX = 0.0
                    for i in 0..<d {
                        let g = Double(gr[i]) * Double(wp[i])
                        sumG += g
                        sumGX += g * (Double(xr[i]) - mean) * rstd
                    }
                    let mg = sumG / Double(d), mgx = sumGX / Double(d)
                    for i in 0..<d {
                        let xhat = (Double(xr[i]) - mean) * rstd
                        dr[i] = Float(rstd * (Double(gr[i]) * Double(wp[i]) - mg - xhat * mgx))
                    }
                }
            } }
        } } }
    }
    var gw = [Double](repeating: 0, count: d), gb = [Double](repeating: 0, count: d)
    x.withUnsafeBufferPointer { px in gradOutput.withUnsafeBufferPointer { pg in
        for r in 0..<rows {
            let mean = stats[2 * r], rstd = stats[2 * r + 1]
            for i in 0..<d {
                let g = Double(pg[r * d + i])
                gw[i] += g * (Double(px[r * d + i]) - mean) * rstd
                gb[i] += g
            }
        }
    } }
    return (gx, Tensor(shape: [d], data: gw.map(Float.init)), Tensor(shape: [d], data: gb.map(Float.init)))
}

/// Naive reference for `layerNorm` (everything in Double).
public func layerNormReference(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
    let (rows, d) = layerNormShapes(x, weight, "layerNormReference")
    var y = Tensor.zeros(x.shape)
    for r in 0..<rows {
        let v = (0..<d).map { Double(x[flat: r * d + $0]) }
        let mean = v.reduce(0, +) / Double(d)
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
        for i in 0..<d {
            y[flat: r * d + i] = Float((v[i] - mean) / (variance + Double(eps)).squareRoot()
                                       * Double(weight[flat: i]) + Double(bias[flat: i]))
        }
    }
    return y
}

/// Mean and 1/sqrt(var + eps) of one row, two passes in Double.
@inline(__always)
private func rowMoments(_ x: UnsafePointer<Float>, _ d: Int, _ eps: Float) -> (Double, Double) {
    var s = 0.0
    for i in 0..<d { s += Double(x[i]) }
    let mean = s / Double(d)
    var v = 0.0
    for i in 0..<d { let c = Double(x[i]) - mean; v += c * c }
    return (mean, 1 / (v / Double(d) + Double(eps)).squareRoot())
}

private func layerNormShapes(_ x: Tensor, _ weight: Tensor, _ name: String) -> (Int, Int) {
    precondition(x.rank >= 1, "\(name): input must be [..., D], got a scalar")
    let d = x.shape[x.rank - 1]
    precondition(weight.shape == [d], "\(name): weight shape \(weight.shape) != [\(d)] (input \(x.shape))")
    return (x.shape.dropLast().reduce(1, *), d)
}
