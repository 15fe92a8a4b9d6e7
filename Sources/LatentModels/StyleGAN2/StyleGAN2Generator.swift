import Foundation
import LatentTensor
import LatentFormats

/// NVIDIA's StyleGAN2 generator (`training/networks_stylegan2.py` `Generator`, default `'skip'`
/// architecture, unconditional) on the CPU in fp32, with a differentiable synthesis network.
///
/// Build it from a checkpoint whose tensor names are the reference `state_dict()` keys
/// (`StyleGAN2Generator(path:)`, `loadDefault()`), then
/// `mapping(z:)` → `ws [N, numWs, wDim]` → `synthesis(ws:)` → images `[N, imgChannels, R, R]` in
/// roughly [-1, 1]. `synthesisForward`/`synthesisBackward` give gradients w.r.t. ws, noise maps
/// and weights (what NVIDIA's projector optimises).
public struct StyleGAN2Generator: Sendable {
    public let config: StyleGAN2Config
    /// Every tensor of the checkpoint under its official name, raw (gains not applied).
    public let parameters: [String: Tensor]
    /// A stable hash of all weights (FNV-1a 64 over names, shapes and float32 values), for provenance.
    public let fingerprint: String
    let mappingNetwork: MappingNetwork
    let synthesisNetwork: SynthesisNetwork

    public var numWs: Int { config.numWs }
    public var wDim: Int { config.wDim }
    public var zDim: Int { config.zDim }
    public var resolution: Int { config.imgResolution }
    public var imgChannels: Int { config.imgChannels }
    /// `mapping.w_avg` `[wDim]`: the truncation centre.
    public var wAvg: Tensor { mappingNetwork.wAvg }

    // MARK: Mapping

    /// The mapping network with truncation (reference `G.mapping(z, None, truncation_psi, truncation_cutoff)`).
    /// - Parameters:
    ///   - z: `[N, zDim]`.
    ///   - truncationPsi: default 1 (none): `w = w_avg + ψ (w − w_avg)`.
    ///   - truncationCutoff: truncate only the first `cutoff` rows of ws (nil = all).
    /// - Returns: `[N, numWs, wDim]`.
    ///
    /// Shapes are preconditions (use `validate(z:)` on outside data to get a thrown error instead).
    public func mapping(z: Tensor, truncationPsi: Float = 1, truncationCutoff: Int? = nil) -> Tensor {
        require { try validate(z: z, requireFinite: false) }
        return mappingNetwork(z: z, truncationPsi: truncationPsi, truncationCutoff: truncationCutoff)
    }

    /// `mapping` then `synthesis` (reference `G(z, None, truncation_psi, noise_mode)`).
    /// - Returns: `[N, imgChannels, R, R]`.
    public func generate(z: Tensor, truncationPsi: Float = 1, truncationCutoff: Int? = nil,
                         noiseMode: NoiseMode = .const) -> Tensor {
        synthesis(ws: mapping(z: z, truncationPsi: truncationPsi, truncationCutoff: truncationCutoff), noiseMode: noiseMode)
    }

    /// Style mixing: `ws` with rows `layers` replaced by those of `mixWs` (both `[N, numWs, wDim]`;
    /// `mixWs` may also have a batch of 1, broadcast).
    public func mixStyles(ws: Tensor, mixWs: Tensor, layers: Range<Int>) -> Tensor {
        precondition(ws.rank == 3 && ws.shape[1] == numWs && ws.shape[2] == wDim,
                     "mixStyles: ws must be [N, \(numWs), \(wDim)], got \(ws.shape)")
        precondition(mixWs.rank == 3 && mixWs.shape[1...] == ws.shape[1...] && (mixWs.shape[0] == ws.shape[0] || mixWs.shape[0] == 1),
                     "mixStyles: mixWs \(mixWs.shape) does not match ws \(ws.shape)")
        precondition(layers.lowerBound >= 0 && layers.upperBound <= numWs, "mixStyles: layers \(layers) outside 0..<\(numWs)")
        var out = ws
        for s in 0..<ws.shape[0] {
            let ms = mixWs.shape[0] == 1 ? 0 : s
            for l in layers { for j in 0..<wDim {
                out.storage[(s * numWs + l) * wDim + j] = mixWs.storage[(ms * numWs + l) * wDim + j]
            } }
        }
        return out
    }

    // MARK: Synthesis

    /// The image for `ws` (reference `G.synthesis(ws, noise_mode=…)`).
    /// - Parameters:
    ///   - ws: `[N, numWs, wDim]`.
    ///   - noiseMode: default `.const`.
    ///   - noise: explicit maps overriding the mode per layer (`[H, W]` or `[N, H, W]`).
    ///   - styleEdit: channel-level changes of the modulation styles (StyleSpace), nil = none.
    /// - Returns: `[N, imgChannels, R, R]`.
    public func synthesis(ws: Tensor, noiseMode: NoiseMode = .const, noise: NoiseMaps? = nil,
                          styleEdit: StyleSpaceEdit? = nil) -> Tensor {
        require { try validate(ws: ws, requireFinite: false) }
        if let noise { require { try validate(noise: noise, batch: ws.shape[0], requireFinite: false) } }
        let (resolved, _) = resolveNoise(batch: ws.shape[0], mode: noiseMode, explicit: noise)
        return Parallel.withSingleThreadedBLAS { synthesisNetwork.forwardImage(ws: ws, noise: resolved, styleEdit: styleEdit) }.nchw
    }

    /// The differentiable forward: the image and a tape of what the backward needs.
    ///
    /// - Parameter checkpointing: which blocks keep only their input on the tape and are
    ///   recomputed in the backward (default `.automatic`: nothing while the tape's caches fit in
    ///   768 MB, e.g. any generator up to 1024² at batch 1; beyond it the largest caches below the
    ///   top, the 512² and 256² blocks of a 1024² generator at batch 2). Gradients are the same
    ///   computation either way.
    ///
    /// Shapes are preconditions (use `validate(ws:)` / `validate(noise:batch:)` on outside data to
    /// get a thrown error instead).
    public func synthesisForward(ws: Tensor, noiseMode: NoiseMode = .const, noise: NoiseMaps? = nil,
                                 checkpointing: SynthesisCheckpointing = .automatic) -> (image: Tensor, tape: SynthesisTape) {
        require { try validate(ws: ws, requireFinite: false) }
        let n = ws.shape[0]
        if let noise { require { try validate(noise: noise, batch: n, requireFinite: false) } }
        let (resolved, layout) = resolveNoise(batch: n, mode: noiseMode, explicit: noise)
        // Every GEMM here runs inside our own parallel loops: keep OpenBLAS's pool out of the way.
        let (blocks, img) = Parallel.withSingleThreadedBLAS {
            synthesisNetwork.forward(ws: ws, noise: resolved, checkpointing: checkpointing)
        }
        let image = img.nchw
        return (image, SynthesisTape(ws: ws, image: image, blocks: blocks, noise: resolved, network: synthesisNetwork,
                                     noiseLayout: layout))
    }

    /// Backward of a scalar loss `L(image)` through the synthesis network.
    ///
    /// The first backward of a tape takes its block caches and releases them block by block as it
    /// goes down, recomputing checkpointed blocks just before their backward; a later backward of
    /// the same tape (or a copy) recomputes every block from its kept input: the same gradients,
    /// one more forward.
    /// - Parameters:
    ///   - tape: from `synthesisForward`.
    ///   - gradImage: `∂L/∂image` `[N, imgChannels, R, R]`.
    ///   - needNoise: return noise-map gradients (default true).
    ///   - needWeights: return parameter gradients (default false; costs one more GEMM per layer).
    public func synthesisBackward(tape: SynthesisTape, gradImage: Tensor, needNoise: Bool = true,
                                  needWeights: Bool = false) -> SynthesisGradients {
        require { try validate(gradImage: gradImage, tape: tape) }
        let g = Parallel.withSingleThreadedBLAS {
            synthesisNetwork.backward(ws: tape.ws, tape: tape.blocks, noise: tape.noise, gradImage: FeatureMap(nchw: gradImage),
                                      needNoise: needNoise, needWeights: needWeights)
        }
        var noise: NoiseMaps? = nil
        if needNoise {
            var maps = NoiseMaps()
            let n = tape.batch
            for (name, flat) in g.noise {
                let r = flat.count / n
                let side = Int(Double(r).squareRoot())
                switch tape.noiseLayout[name] ?? .shared {
                case .perSample: maps[name] = Tensor(shape: [n, side, side], data: flat)
                case .shared:
                    var sum = [Float](repeating: 0, count: r)
                    for s in 0..<n { for q in 0..<r { sum[q] += flat[s * r + q] } }
                    maps[name] = Tensor(shape: [side, side], data: sum)
                }
            }
            noise = maps
        }
        return SynthesisGradients(ws: g.ws, noise: noise, weights: needWeights ? g.parameters : nil)
    }

    /// Returns the idle scratch and feature-map buffers that synthesis keeps for reuse (up to
    /// 512 MB) to the system. Buffers still held by live tapes are returned when those are dropped.
    public static func releaseCachedMemory() { ScratchPool.shared.drain() }

    /// Bytes of idle buffers currently kept for reuse.
    public static var cachedMemoryBytes: Int { ScratchPool.shared.idleBytes }

    // MARK: Noise

    /// Official names of the noise-carrying layers in forward order (`"b4.conv1"`, `"b8.conv0"`, …).
    public var noiseLayerNames: [String] { synthesisNetwork.layers.map(\.name) }

    /// `[H, W]` of a layer's noise map, or nil for an unknown name.
    public func noiseShape(layer: String) -> [Int]? {
        synthesisNetwork.layers.first { $0.name == layer }.map { [$0.resolution, $0.resolution] }
    }

    /// The generator's own `noise_const` buffers, `[H, W]` each.
    public var constNoise: NoiseMaps {
        NoiseMaps(Dictionary(uniqueKeysWithValues: synthesisNetwork.layers.map { ($0.name, $0.noiseConst) }))
    }

    func resolveNoise(batch n: Int, mode: NoiseMode, explicit: NoiseMaps?)
        -> ([String: ResolvedNoise], [String: SynthesisTape.NoiseLayout]) {
        var rng: NumpyRandomState? = nil
        if case .random(let seed) = mode { rng = NumpyRandomState(seed: UInt32(truncatingIfNeeded: seed ^ (seed >> 32))) }
        var resolved = [String: ResolvedNoise](), layout = [String: SynthesisTape.NoiseLayout]()
        for layer in synthesisNetwork.layers {
            let r = layer.resolution
            if let m = explicit?[layer.name] {
                if m.shape == [r, r] {
                    resolved[layer.name] = .shared(m.storage); layout[layer.name] = .shared
                } else {
                    precondition(m.shape == [n, r, r], "synthesis: noise '\(layer.name)' must be [\(r), \(r)] or [\(n), \(r), \(r)], got \(m.shape)")
                    resolved[layer.name] = .perSample(m.storage); layout[layer.name] = .perSample
                }
                continue
            }
            switch mode {
            case .const:
                resolved[layer.name] = .shared(layer.noiseConst.storage); layout[layer.name] = .shared
            case .random:
                resolved[layer.name] = .perSample(rng!.randn(count: n * r * r).map { Float($0) })
                layout[layer.name] = .perSample
            case .none:
                resolved[layer.name] = ResolvedNoise.none
            }
        }
        return (resolved, layout)
    }

    // MARK: Introspection for exactness tests

    /// The affine outputs (modulation styles before ToRGB's `weight_gain`) of every layer, keyed
    /// `"b8.conv0"`, `"b8.torgb"`, …, each `[N, channels]`.
    public func styles(ws: Tensor) -> [String: Tensor] {
        precondition(ws.rank == 3 && ws.shape[1] == numWs && ws.shape[2] == wDim,
                     "styles: ws must be [N, \(numWs), \(wDim)], got \(ws.shape)")
        return Dictionary(uniqueKeysWithValues: styleAffines.map { ($0.name, $0.affine(SynthesisNetwork.wRow(ws, $0.wIndex))) })
    }
}
