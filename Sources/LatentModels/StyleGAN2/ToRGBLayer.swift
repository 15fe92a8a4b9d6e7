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
        var x: FeatureMap      // [I, N, H, W]
        var styles: Tensor     // [N, I], after weight_gain
        var conv: FeatureMap   // [C, N, H, W], before bias
    }

    /// - Parameters: `x` `[I, N, H, W]`; `w` `[N, wDim]`. - Returns: `[C, N, H, W]`.
    func forward(x: FeatureMap, w: Tensor, styleEdit: StyleSpaceEdit? = nil) -> (FeatureMap, Cache) {
        var styles = affine(w)
        styleEdit?.apply(to: &styles, layer: name)
        styles.storage = styles.storage.map { $0 * weightGain }
        let c = conv.convolve(x: x, styles: styles)
        let y = FeatureMap(shape: c.shape)
        let plane = c.batch * c.height * c.width, clamp = convClamp ?? .infinity
        for ch in 0..<c.channels {
            let b = bias.storage[ch], src = c.pointer + ch * plane, dst = y.pointer + ch * plane
            for q in 0..<plane { dst[q] = Swift.min(Swift.max(src[q] + b, -clamp), clamp) }
        }
        return (y, Cache(x: x, styles: styles, conv: c))
    }

    struct Gradients {
        var x: FeatureMap
        var w: Tensor
        var parameters: [String: Tensor]?
    }

    /// Backward given `∂L/∂y` (not modified).
    func backward(gradOut: FeatureMap, cache: Cache, w: Tensor, needWeights: Bool) -> Gradients {
        let c = cache.conv, plane = c.batch * c.height * c.width
        var g = gradOut
        if let clamp = convClamp {
            // Zero where the clamp was active (a copy: the caller still needs ∂L/∂y for the skip path).
            g = FeatureMap(shape: gradOut.shape)
            for ch in 0..<c.channels {
                let b = bias.storage[ch], off = ch * plane
                for q in 0..<plane {
                    g.pointer[off + q] = Swift.abs(c.pointer[off + q] + b) > clamp ? 0 : gradOut.pointer[off + q]
                }
            }
        }
        let back = conv.convolveBackward(gradOut: g, x: cache.x, styles: cache.styles, needWeight: needWeights)
        var gs = back.gradStyles
        gs.storage = gs.storage.map { $0 * weightGain }
        let (gw, gA, gAb) = affine.linearBackward(gradOut: gs, x: w, needParameters: needWeights)
        var params: [String: Tensor]? = nil
        if needWeights {
            let prefix = "synthesis." + name
            let gb = (0..<c.channels).map { vSum(g.pointer + $0 * plane, plane) }
            params = [prefix + ".weight": back.gradWeight!, prefix + ".bias": Tensor(shape: [c.channels], data: gb),
                      prefix + ".affine.weight": gA!, prefix + ".affine.bias": gAb!]
        }
        return Gradients(x: back.gradX, w: gw, parameters: params)
    }
}
