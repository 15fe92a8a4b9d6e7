import Foundation

// Squeeze-and-excitation (Hu et al. 2018) as the IR-SE backbones of pSp/e4e build it (`SEModule`
// in `models/encoders/helpers.py`): s = sigmoid(fc2 · relu(fc1 · mean_hw(x))), y = x · s per
// channel, where fc1 `[C/r, C, 1, 1]` and fc2 `[C, C/r, 1, 1]` are bias-free 1×1 convolutions.

/// Squeeze-and-excitation forward.
/// - Parameters:
///   - x: `[N, C, H, W]`.
///   - fc1: `[R, C, 1, 1]` (or `[R, C]`); fc2: `[C, R, 1, 1]` (or `[C, R]`).
/// - Returns: `[N, C, H, W]`, each channel scaled by its gate in (0, 1).
public func squeezeExcitation(_ x: Tensor, fc1: Tensor, fc2: Tensor) -> Tensor {
    let gates = squeezeExcitationGates(x, fc1: fc1, fc2: fc2)
    let c = x.shape[1], plane = x.shape[2] * x.shape[3]
    var y = Tensor.zeros(x.shape)
    if y.count == 0 { return y }
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
        let xp = px.baseAddress!, yp = py.baseAddress!
        Parallel.forEach(x.shape[0] * c, minChunk: max(1, 16384 / max(plane, 1))) { p in
            let s = gates[p], xs = xp + p * plane, ys = yp + p * plane
            for i in 0..<plane { ys[i] = xs[i] * s }
        }
    } }
    return y
}

/// The per-(sample, channel) gates `[N·C]` of `squeezeExcitation`.
public func squeezeExcitationGates(_ x: Tensor, fc1: Tensor, fc2: Tensor) -> [Float] {
    precondition(x.rank == 4, "squeezeExcitation: input must be [N, C, H, W], got \(x.shape)")
    let n = x.shape[0], c = x.shape[1], plane = x.shape[2] * x.shape[3]
    let r = fc1.shape[0]
    precondition(fc1.count == r * c && fc1.shape[1] == c, "squeezeExcitation: fc1 \(fc1.shape) must be [R, \(c), 1, 1]")
    precondition(fc2.count == c * r && fc2.shape[0] == c && fc2.shape[1] == r, "squeezeExcitation: fc2 \(fc2.shape) must be [\(c), \(r), 1, 1]")
    var pooled = Tensor.zeros([n, c])
    x.withUnsafeBufferPointer { px in
        for p in 0..<(n * c) {
            var acc: Float = 0
            let xs = px.baseAddress! + p * plane
            for i in 0..<plane { acc += xs[i] }
            pooled.storage[p] = acc / Float(plane)
        }
    }
    var hidden = linear(pooled, weight: fc1.reshaped([r, c]))
    for i in 0..<hidden.count { hidden.storage[i] = max(hidden.storage[i], 0) }
    let logits = linear(hidden, weight: fc2.reshaped([c, r]))
    return logits.storage.map { 1 / (1 + Foundation.exp(-$0)) }
}

/// Naive reference for `squeezeExcitation` in Double.
public func squeezeExcitationReference(_ x: Tensor, fc1: Tensor, fc2: Tensor) -> Tensor {
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], r = fc1.shape[0]
    var y = x
    for b in 0..<n {
        var mean = [Double](repeating: 0, count: c)
        for ch in 0..<c { for i in 0..<h { for j in 0..<w { mean[ch] += Double(x[b, ch, i, j]) } }; mean[ch] /= Double(h * w) }
        var hid = [Double](repeating: 0, count: r)
        for k in 0..<r { for ch in 0..<c { hid[k] += Double(fc1[flat: k * c + ch]) * mean[ch] }; hid[k] = max(hid[k], 0) }
        for ch in 0..<c {
            var z = 0.0
            for k in 0..<r { z += Double(fc2[flat: ch * r + k]) * hid[k] }
            let s = 1 / (1 + Foundation.exp(-z))
            for i in 0..<h { for j in 0..<w { y[b, ch, i, j] = Float(Double(x[b, ch, i, j]) * s) } }
        }
    }
    return y
}
