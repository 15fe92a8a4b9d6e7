import LatentTensor

/// NVlabs `FullyConnectedLayer` with its equalized-learning-rate gains applied once at load:
/// `y = act(x · (weight · weight_gain)ᵀ + bias · lr_multiplier)`,
/// `weight_gain = lr_multiplier / √in_features`.
struct FullyConnectedLayer: Sendable {
    let inFeatures: Int, outFeatures: Int
    /// `[out, in]`, already multiplied by `weightGain`.
    let weight: Tensor
    /// `[out]`, already multiplied by `biasGain`.
    let bias: Tensor
    let weightGain: Float
    let biasGain: Float
    let activation: Activation

    /// - Parameters: `weight` `[out, in]` and `bias` `[out]` raw, as stored in the checkpoint.
    init(weight raw: Tensor, bias rawBias: Tensor, lrMultiplier: Float = 1, activation: Activation = .linear) {
        inFeatures = raw.shape[1]; outFeatures = raw.shape[0]
        // The reference computes `lr_multiplier / np.sqrt(in_features)` in double, then multiplies
        // a float32 tensor by it.
        let wg = Float(Double(lrMultiplier) / Double(raw.shape[1]).squareRoot())
        let bg = lrMultiplier
        weightGain = wg; biasGain = bg
        var w = raw
        w.storage = raw.storage.map { $0 * wg }
        weight = w
        var b = rawBias
        if bg != 1 { b.storage = rawBias.storage.map { $0 * bg } }
        bias = b
        self.activation = activation
    }

    /// `x` `[N, in]` → `[N, out]`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == inFeatures, "FullyConnectedLayer: input must be [N, \(inFeatures)], got \(x.shape)")
        let y = matmul(x, weight, transB: true)
        return biasAct(y, bias: bias, activation: activation)
    }

    /// Backward of a linear layer (`activation == .linear`), given `∂L/∂y` `[N, out]` and the input.
    /// - Returns: `∂x` `[N, in]`; when `needParameters`, `∂weight`, `∂bias` of the *raw* stored
    ///   parameters (chain rule through the gains).
    func linearBackward(gradOut: Tensor, x: Tensor, needParameters: Bool) -> (gradX: Tensor, gradWeight: Tensor?, gradBias: Tensor?) {
        precondition(activation == .linear, "linearBackward needs a linear layer")
        let gx = matmul(gradOut, weight)
        guard needParameters else { return (gx, nil, nil) }
        var gw = matmul(gradOut, x, transA: true)
        gw.storage = gw.storage.map { $0 * weightGain }
        var gb = [Double](repeating: 0, count: outFeatures)
        for n in 0..<gradOut.shape[0] { for o in 0..<outFeatures { gb[o] += Double(gradOut.storage[n * outFeatures + o]) } }
        return (gx, gw, Tensor(shape: [outFeatures], data: gb.map { Float($0) * biasGain }))
    }
}
