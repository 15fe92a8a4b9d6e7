import LatentTensor
import LatentFormats

/// Replacing synthesis parameters without reloading the whole generator: what generator tuning
/// (PTI) does after every optimiser step and what loading a weight delta does once.
extension StyleGAN2Generator {
    /// Short names of the modulated 3×3 convolutions in forward order (`"b4.conv1"`, `"b8.conv0"`, …);
    /// their parameters are `"synthesis." + name + ".weight"` `[O, I, 3, 3]` and `".bias"` `[O]`.
    public var convolutionLayerNames: [String] { synthesisNetwork.layers.map(\.name) }

    /// The parameter names `replacingParameters` accepts: the weight and bias of every 3×3 convolution.
    public var replaceableParameterNames: [String] {
        convolutionLayerNames.flatMap { ["synthesis.\($0).weight", "synthesis.\($0).bias"] }
    }

    /// This generator with some convolution weights / biases replaced (mapping, affines, noise,
    /// ToRGB and the const input shared with `self`).
    /// - Parameters:
    ///   - updates: official name → tensor of the same shape (names from `replaceableParameterNames`).
    ///   - computeFingerprint: hash the new weights (default). False during an optimisation, where
    ///     the intermediate generator never leaves the caller: its fingerprint is then
    ///     `"<base fingerprint>+unhashed"`, which matches no real checkpoint.
    /// - Throws: `FormatError` (source `"parameter update"`) for an unknown name, a wrong shape or
    ///   non-finite values.
    public func replacingParameters(_ updates: [String: Tensor], computeFingerprint: Bool = true) throws -> StyleGAN2Generator {
        let allowed = Set(replaceableParameterNames)
        var params = parameters
        for (name, t) in updates.sorted(by: { $0.key < $1.key }) {
            guard allowed.contains(name), let old = parameters[name] else {
                throw FormatError("parameter update", "'\(name)' is not a convolution weight or bias of this generator")
            }
            guard t.shape == old.shape else {
                throw FormatError("parameter update", "'\(name)' has shape \(t.shape), the generator's \(old.shape)")
            }
            guard t.isFinite else { throw FormatError("parameter update", "'\(name)' has NaN or infinite values") }
            params[name] = t
        }
        func rebuilt(_ l: SynthesisLayer?) -> SynthesisLayer? {
            guard let l else { return nil }
            let prefix = "synthesis." + l.name
            let w = updates[prefix + ".weight"], b = updates[prefix + ".bias"]
            if w == nil && b == nil { return l }
            let conv = w.map {
                ModulatedConv2d(weight: $0, up: l.conv.up, demodulate: l.conv.demodulate, padding: l.conv.padding,
                                resampleFilter: l.conv.filter)
            } ?? l.conv
            return SynthesisLayer(name: l.name, resolution: l.resolution, wIndex: l.wIndex, affine: l.affine, conv: conv,
                                  bias: b ?? l.bias, noiseConst: l.noiseConst, noiseStrength: l.noiseStrength,
                                  convClamp: l.convClamp)
        }
        let blocks = synthesisNetwork.blocks.map { b in
            SynthesisBlock(resolution: b.resolution, const: b.const, conv0: rebuilt(b.conv0), conv1: rebuilt(b.conv1)!,
                           torgb: b.torgb, resampleFilter: b.resampleFilter)
        }
        let s = synthesisNetwork
        let synthesis = SynthesisNetwork(blocks: blocks, numWs: s.numWs, wDim: s.wDim, imgChannels: s.imgChannels, resolution: s.resolution)
        return StyleGAN2Generator(config: config, parameters: params,
                                  fingerprint: computeFingerprint ? Self.fingerprint(of: params) : fingerprint + "+unhashed",
                                  mappingNetwork: mappingNetwork, synthesisNetwork: synthesis)
    }
}
