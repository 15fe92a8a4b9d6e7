// Batch normalisation in inference mode (`torch.nn.BatchNorm2d` after `.eval()`): each channel is
// normalised with its running statistics, y = (x − mean) / sqrt(var + eps) · weight + bias.
//
// Like PyTorch's CPU kernel, the fast path folds the four vectors into one scale and shift per
// channel (alpha = weight / sqrt(var + eps), beta = bias − mean · alpha, y = x · alpha + beta), so
// the inner loop is one fused multiply-add. Training-mode statistics are not needed: the encoders
// that use it are run frozen (pSp/e4e evaluate with `net.eval()`).

/// Inference-mode 2-D batch normalisation with running statistics.
///
/// - Parameters:
///   - x: `[N, C, H, W]`.
///   - weight, bias, runningMean, runningVar: `[C]` (PyTorch's `weight`, `bias`, `running_mean`,
///     `running_var`).
///   - eps: added to the variance (PyTorch default 1e-5).
/// - Returns: `[N, C, H, W]`.
public func batchNorm2dEval(_ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
                            eps: Float = 1e-5) -> Tensor {
    let (scale, shift) = batchNorm2dEvalCoefficients(weight: weight, bias: bias, runningMean: runningMean,
                                                     runningVar: runningVar, eps: eps, channels: x.shape[1])
    return channelAffine(x, scale: scale, shift: shift)
}

/// The per-channel `(scale, shift)` that `batchNorm2dEval` applies: scale = weight / sqrt(var + eps),
/// shift = bias − mean · scale (PyTorch's `batch_norm_cpu_inference` coefficients).
public func batchNorm2dEvalCoefficients(weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
                                        eps: Float = 1e-5, channels c: Int) -> (scale: [Float], shift: [Float]) {
    for (name, t) in [("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVar", runningVar)] {
        precondition(t.shape == [c], "batchNorm2dEval: \(name) shape \(t.shape) != [\(c)]")
    }
    var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
    for i in 0..<c {
        let invStd = 1 / (runningVar.storage[i] + eps).squareRoot()
        scale[i] = weight.storage[i] * invStd
        shift[i] = bias.storage[i] - runningMean.storage[i] * scale[i]
    }
    return (scale, shift)
}

/// y[n, c] = x[n, c] · scale[c] + shift[c] for `x` `[N, C, …]`.
public func channelAffine(_ x: Tensor, scale: [Float], shift: [Float]) -> Tensor {
    precondition(x.rank >= 2, "channelAffine: input must be [N, C, …], got \(x.shape)")
    let n = x.shape[0], c = x.shape[1], plane = x.count / max(n * c, 1)
    precondition(scale.count == c && shift.count == c, "channelAffine: \(scale.count)/\(shift.count) coefficients for \(c) channels")
    var y = Tensor.zeros(x.shape)
    if y.count == 0 { return y }
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
        let xp = px.baseAddress!, yp = py.baseAddress!
        Parallel.forEach(n * c, minChunk: max(1, 16384 / max(plane, 1))) { p in
            let a = scale[p % c], b = shift[p % c]
            let xs = xp + p * plane, ys = yp + p * plane
            for i in 0..<plane { ys[i] = xs[i] * a + b }
        }
    } }
    return y
}

/// Naive reference for `batchNorm2dEval`: the textbook formula in Double.
public func batchNorm2dEvalReference(_ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
                                     eps: Float = 1e-5) -> Tensor {
    let n = x.shape[0], c = x.shape[1], plane = x.count / max(n * c, 1)
    var y = Tensor.zeros(x.shape)
    for i in 0..<x.count {
        let ch = (i / plane) % c
        let v = (Double(x[flat: i]) - Double(runningMean[flat: ch])) / (Double(runningVar[flat: ch]) + Double(eps)).squareRoot()
        y.storage[i] = Float(v * Double(weight[flat: ch]) + Double(bias[flat: ch]))
    }
    return y
}
