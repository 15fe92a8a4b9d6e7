import Foundation

/// Activation functions of NVIDIA's `bias_act` table (`torch_utils/ops/bias_act.py`), plus the
/// erf-form GELU and OpenAI CLIP's QuickGELU.
///
/// Defaults follow the reference table: `lrelu` has α = 0.2 and gain √2, `relu` gain √2, every
/// other activation gain 1.
public enum Activation: String, Sendable, CaseIterable {
    case linear, relu, lrelu, tanh, sigmoid
    /// `0.5·x·(1 + erf(x/√2))` (the exact GELU, `torch.nn.functional.gelu` default).
    case gelu
    /// `x·σ(1.702·x)` (OpenAI CLIP `QuickGELU`).
    case quickGELU

    /// `def_alpha` of the reference table (only `lrelu` uses α).
    public var defaultAlpha: Float { self == .lrelu ? 0.2 : 0 }

    /// `def_gain` of the reference table: √2 for `relu`/`lrelu`, 1 otherwise.
    public var defaultGain: Float { (self == .relu || self == .lrelu) ? Float(2).squareRoot() : 1 }

    /// f(v) in float32.
    @inlinable
    public func apply(_ v: Float, alpha: Float) -> Float {
        switch self {
        case .linear: return v
        case .relu: return v > 0 ? v : 0
        case .lrelu: return v > 0 ? v : v * alpha
        case .tanh: return Foundation.tanh(v)
        case .sigmoid: return 1 / (1 + Foundation.exp(-v))
        case .gelu: return 0.5 * v * (1 + Foundation.erf(v * 0.70710678118654752))
        case .quickGELU: return v / (1 + Foundation.exp(-1.702 * v))
        }
    }

    /// f'(v) in float32. At the kinks of relu/lrelu the derivative of the right side is not
    /// taken: v = 0 gets the left slope, like the reference (`y > 0 ? 1 : α`).
    @inlinable
    public func derivative(_ v: Float, alpha: Float) -> Float {
        switch self {
        case .linear: return 1
        case .relu: return v > 0 ? 1 : 0
        case .lrelu: return v > 0 ? 1 : alpha
        case .tanh: let t = Foundation.tanh(v); return 1 - t * t
        case .sigmoid: let s = 1 / (1 + Foundation.exp(-v)); return s * (1 - s)
        case .gelu:
            let cdf = 0.5 * (1 + Foundation.erf(v * 0.70710678118654752))
            return cdf + v * 0.39894228040143268 * Foundation.exp(-0.5 * v * v)
        case .quickGELU:
            let s = 1 / (1 + Foundation.exp(-1.702 * v))
            return s + 1.702 * v * s * (1 - s)
        }
    }

    /// f(v) in double precision, for reference implementations and gradient checks.
    public func applyDouble(_ v: Double, alpha: Double) -> Double {
        switch self {
        case .linear: return v
        case .relu: return v > 0 ? v : 0
        case .lrelu: return v > 0 ? v : v * alpha
        case .tanh: return Foundation.tanh(v)
        case .sigmoid: return 1 / (1 + Foundation.exp(-v))
        case .gelu: return 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
        case .quickGELU: return v / (1 + Foundation.exp(-1.702 * v))
        }
    }
}

/// Splits `shape` around `dim` into `(outer, channels, inner)` so that element
/// `[o, c, i]` is at flat index `(o * channels + c) * inner + i`.
@inlinable
func biasActLayout(_ shape: [Int], dim: Int, bias: Tensor?) -> (outer: Int, channels: Int, inner: Int) {
    precondition(!shape.isEmpty || bias == nil, "biasAct: a bias needs a tensor of rank >= 1")
    guard let bias else {
        return (1, 1, shape.reduce(1, *))
    }
    precondition(dim >= 0 && dim < shape.count, "biasAct: dim \(dim) out of range for shape \(shape)")
    precondition(bias.rank == 1 && bias.count == shape[dim],
                 "biasAct: bias of shape \(bias.shape) does not match dimension \(dim) of \(shape)")
    let outer = shape[..<dim].reduce(1, *)
    let inner = shape[(dim + 1)...].reduce(1, *)
    return (outer, shape[dim], inner)
}

/// Fused bias + activation + gain + clamp, as NVIDIA's `bias_act(x, b, dim, act, alpha, gain, clamp)`:
/// `y = clamp(f(x + b) · gain, −clamp, +clamp)`.
///
/// - Parameters:
///   - x: any shape, e.g. `[N, C, H, W]` or `[tokens, C]`.
///   - bias: `[C]` added along dimension `dim` (default 1), or nil.
///   - activation: default `.linear`.
///   - alpha: α of `lrelu` (default `activation.defaultAlpha`).
///   - gain: output scale (default `activation.defaultGain`: √2 for relu/lrelu, else 1).
///   - clamp: clamp magnitude (≥ 0) or nil for none.
/// - Returns: a tensor shaped like `x`.
public func biasAct(_ x: Tensor, bias: Tensor? = nil, activation: Activation = .linear,
                    alpha: Float? = nil, gain: Float? = nil, clamp: Float? = nil, dim: Int = 1) -> Tensor {
    precondition(clamp == nil || clamp! >= 0, "biasAct: clamp must be >= 0, got \(clamp!)")
    let (outer, channels, inner) = biasActLayout(x.shape, dim: dim, bias: bias)
    let a = alpha ?? activation.defaultAlpha
    let g = gain ?? activation.defaultGain
    let c = clamp ?? .infinity
    var y = x
    let zeroBias = [Float](repeating: 0, count: channels)
    let b = bias?.storage ?? zeroBias
    y.withUnsafeMutableBufferPointer { py in
        let p = py.baseAddress!
        b.withUnsafeBufferPointer { pb in
            let bp = pb.baseAddress!
            Parallel.forRanges(outer * channels, minChunk: max(1, 16384 / max(inner, 1))) { rows in
                for r in rows {
                    let base = p + r * inner
                    if inner == 1 {
                        // Bias varies along the contiguous axis.
                        let v = base[0] + bp[r % channels]
                        base[0] = Swift.min(Swift.max(activation.apply(v, alpha: a) * g, -c), c)
                    } else {
                        let bv = bp[r % channels]
                        for i in 0..<inner {
                            base[i] = Swift.min(Swift.max(activation.apply(base[i] + bv, alpha: a) * g, -c), c)
                        }
                    }
                }
            }
        }
    }
    return y
}

/// Backward of `biasAct`: gradients with respect to `x` and `bias`, recomputed from `x`.
///
/// Where the clamp is active (`|f(x + b)·gain| > clamp`) the gradient is zero, as for
/// `torch.clamp`. Arguments must be those of the forward call.
/// - Returns: `gradInput` shaped like `x`; `gradBias` `[C]` (nil when `bias` is nil).
public func biasActBackward(gradOutput: Tensor, x: Tensor, bias: Tensor? = nil, activation: Activation = .linear,
                            alpha: Float? = nil, gain: Float? = nil, clamp: Float? = nil,
                            dim: Int = 1) -> (gradInput: Tensor, gradBias: Tensor?) {
    precondition(gradOutput.shape == x.shape, "biasActBackward: gradOutput \(gradOutput.shape) != x \(x.shape)")
    let (outer, channels, inner) = biasActLayout(x.shape, dim: dim, bias: bias)
    let a = alpha ?? activation.defaultAlpha
    let g = gain ?? activation.defaultGain
    let c = clamp ?? .infinity
    var gx = gradOutput
    let zeroBias = [Float](repeating: 0, count: channels)
    let b = bias?.storage ?? zeroBias
    gx.withUnsafeMutableBufferPointer { pgx in
        let gp = pgx.baseAddress!
        x.withUnsafeBufferPointer { px in
            let xp = px.baseAddress!
            b.withUnsafeBufferPointer { pb in
                let bp = pb.baseAddress!
                Parallel.forRanges(outer * channels, minChunk: max(1, 16384 / max(inner, 1))) { rows in
                    for r in rows {
                        let bv = bp[r % channels]
                        let off = r * inner
                        for i in 0..<inner {
                            let v = xp[off + i] + bv
                            var d = activation.derivative(v, alpha: a) * g
                            if c.isFinite && Swift.abs(activation.apply(v, alpha: a) * g) > c { d = 0 }
                            gp[off + i] *= d
                        }
                    }
                }
            }
        }
    }
    guard bias != nil else { return (gx, nil) }
    // Bias gradient: sum over every axis except `dim`, accumulated in Double for stability.
    var acc = [Double](repeating: 0, count: channels)
    gx.withUnsafeBufferPointer { pg in
        for o in 0..<outer {
            for ch in 0..<channels {
                let base = pg.baseAddress! + (o * channels + ch) * inner
                var s: Float = 0
                for i in 0..<inner { s += base[i] }
                acc[ch] += Double(s)
            }
        }
    }
    return (gx, Tensor(shape: [channels], data: acc.map { Float($0) }))
}

/// Naive double-precision reference of `biasAct` following `_bias_act_ref`: add bias, activate,
/// scale by gain, clamp. Slow; for tests.
public func biasActReference(_ x: Tensor, bias: Tensor? = nil, activation: Activation = .linear,
                             alpha: Float? = nil, gain: Float? = nil, clamp: Float? = nil, dim: Int = 1) -> Tensor {
    let (_, channels, inner) = biasActLayout(x.shape, dim: dim, bias: bias)
    let a = Double(alpha ?? activation.defaultAlpha)
    let g = Double(gain ?? activation.defaultGain)
    var out = [Float](repeating: 0, count: x.count)
    for i in 0..<x.count {
        let ch = (i / inner) % channels
        var v = Double(x[flat: i]) + (bias.map { Double($0[flat: ch]) } ?? 0)
        v = activation.applyDouble(v, alpha: a) * g
        if let c = clamp { v = Swift.min(Swift.max(v, -Double(c)), Double(c)) }
        out[i] = Float(v)
    }
    return Tensor(shape: x.shape, data: out)
}
