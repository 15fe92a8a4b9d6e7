// Parametric ReLU with one slope per channel (`torch.nn.PReLU(num_parameters = C)`):
// y = x for x > 0, a[c] · x otherwise. Used by the IR/IR-SE backbones of pSp and e4e.

/// PReLU forward.
/// - Parameters: x: `[N, C, …]`; weight: `[C]` slopes (or `[1]`, shared by every channel).
/// - Returns: shaped like `x`.
public func prelu(_ x: Tensor, weight: Tensor) -> Tensor {
    let (n, c, plane) = preluShape(x, weight, "prelu")
    var y = Tensor.zeros(x.shape)
    if y.count == 0 { return y }
    x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in y.withUnsafeMutableBufferPointer { py in
        let xp = px.baseAddress!, wp = pw.baseAddress!, yp = py.baseAddress!
        let shared = weight.count == 1
        Parallel.forEach(n * c, minChunk: max(1, 16384 / max(plane, 1))) { p in
            let a = wp[shared ? 0 : p % c]
            let xs = xp + p * plane, ys = yp + p * plane
            for i in 0..<plane { let v = xs[i]; ys[i] = v > 0 ? v : a * v }
        }
    } } }
    return y
}

/// Gradients of `prelu`: gradInput = g where x > 0 else a · g; gradWeight[c] = Σ g · x over the
/// elements of channel c with x ≤ 0 (summed over all channels when the slope is shared).
/// - Returns: `gradInput` shaped like `x`, `gradWeight` shaped like `weight`.
public func preluBackward(gradOutput: Tensor, x: Tensor, weight: Tensor) -> (gradInput: Tensor, gradWeight: Tensor) {
    let (n, c, plane) = preluShape(x, weight, "preluBackward")
    precondition(gradOutput.shape == x.shape, "preluBackward: gradOutput \(gradOutput.shape) != input \(x.shape)")
    var gx = Tensor.zeros(x.shape)
    var perPlane = [Double](repeating: 0, count: n * c)
    let shared = weight.count == 1
    if x.count > 0 {
        x.withUnsafeBufferPointer { px in gradOutput.withUnsafeBufferPointer { pg in gx.withUnsafeMutableBufferPointer { pgx in
            perPlane.withUnsafeMutableBufferPointer { pp in
                let xp = px.baseAddress!, gp = pg.baseAddress!, gxp = pgx.baseAddress!, ppp = pp.baseAddress!
                Parallel.forEach(n * c, minChunk: max(1, 16384 / max(plane, 1))) { p in
                    let a = weight.storage[shared ? 0 : p % c]
                    let xs = xp + p * plane, gs = gp + p * plane, out = gxp + p * plane
                    var acc = 0.0
                    for i in 0..<plane {
                        let v = xs[i], g = gs[i]
                        if v > 0 { out[i] = g } else { out[i] = a * g; acc += Double(g * v) }
                    }
                    ppp[p] = acc
                }
            }
        } } }
    }
    var gw = Tensor.zeros(weight.shape)
    for p in 0..<(n * c) { gw.storage[shared ? 0 : p % c] += Float(perPlane[p]) }
    return (gx, gw)
}

/// Naive reference for `prelu` (elementwise definition).
public func preluReference(_ x: Tensor, weight: Tensor) -> Tensor {
    let (_, c, plane) = preluShape(x, weight, "preluReference")
    var y = x
    for i in 0..<x.count where x[flat: i] <= 0 {
        y.storage[i] = weight[flat: weight.count == 1 ? 0 : (i / plane) % c] * x[flat: i]
    }
    return y
}

private func preluShape(_ x: Tensor, _ w: Tensor, _ name: String) -> (Int, Int, Int) {
    precondition(x.rank >= 2, "\(name): input must be [N, C, …], got \(x.shape)")
    let n = x.shape[0], c = x.shape[1]
    precondition(w.rank == 1 && (w.count == c || w.count == 1), "\(name): weight \(w.shape) must be [\(c)] or [1]")
    return (n, c, x.count / max(n * c, 1))
}
