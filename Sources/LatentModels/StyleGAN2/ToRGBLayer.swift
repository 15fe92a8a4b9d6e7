import LatentTensor

/// NVlabs `ToRGBLayer`: `styles = affine(w) · weight_gain` (`weight_gain = 1/√in_channels`), a 1×1
/// modulated convolution without demodulation, then `bias_act(linear, clamp conv_clamp)`.
/// Activations are CNHW `[C, N, H, W]`.
struct ToRGBLayer: Sendable {
    /// Official short name, e.g. `"b8.torgb"`.
    let name: String
    let wIndex: Int
    let affine: FullyConnectedLayer
    let conv: ModulatedConv2d
    /// `[imgChannels]`.
    let bias: Tensor
    let weightGain: Float
    let convClamp: Float?

    struct Cache: Sendable {
        var x: Tensor          // [I, N, H, W]
        var styles: Tensor     // [N, I], after weight_gain
        var conv: Tensor       // [C, N, H, W], before bias
    }

    /// The affine output before `weight_gain` (what the reference's `self.affine(w)` returns).
    func rawStyles(w: Tensor) -> Tensor { affine(w) }

    /// - Parameters: `x` `[I, N, H, W]`; `w` `[N, wDim]`. - Returns: `[C, N, H, W]`.
    func forward(x: Tensor, w: Tensor) -> (Tensor, Cache) {
        var styles = affine(w)
        styles.storage = styles.storage.map { $0 * weightGain }
        let c = conv.convolve(x: x, styles: styles)
        let y = biasAct(c, bias: bias, activation: .linear, clamp: convClamp, dim: 0)
        return (y, Cache(x: x, styles: styles, conv: c))
    }

    struct Gradients {
        var x: Tensor
        var w: Tensor
        var parameters: [String: Tensor]?
    }

    func backward(gradOut: Tensor, cache: Cache, w: Tensor, needWeights: Bool) -> Gradients {
        let (gc, gb) = biasActBackward(gradOutput: gradOut, x: cache.conv, bias: bias, activation: .linear,
                                       clamp: convClamp, dim: 0)
        let back = conv.convolveBackward(gradOut: gc, x: cache.x, styles: cache.styles, needWeight: needWeights)
        var gs = back.gradStyles
        gs.storage = gs.storage.map { $0 * weightGain }
        let (gw, gA, gAb) = affine.linearBackward(gradOut: gs, x: w, needParameters: needWeights)
        var params: [String: Tensor]? = nil
        if needWeights {
            let prefix = "synthesis." + name
            params = [prefix + ".weight": back.gradWeight!, prefix + ".bias": gb!,
                      prefix + ".affine.weight": gA!, prefix + ".affine.bias": gAb!]
        }
        return Gradients(x: back.gradX, w: gw, parameters: params)
    }
}
