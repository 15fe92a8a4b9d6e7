import LatentTensor

/// How the synthesis layers get their per-pixel noise (reference `noise_mode`).
public enum NoiseMode: Sendable, Equatable {
    /// The generator's fixed `noise_const` buffers (reproducible images; NVIDIA's default for
    /// `gen_images.py` and the projector).
    case const
    /// Fresh standard normal noise per sample and layer, drawn from `seed` (deterministic here;
    /// not the same numbers as torch's `randn`).
    case random(seed: UInt64)
    /// No noise.
    case none
}

/// Explicit noise maps keyed by official layer names (`"b8.conv0"`, `"b8.conv1"`, …), each
/// `[H, W]` (shared by the batch) or `[N, H, W]` (one per sample). They replace `noise_const` and
/// are multiplied by the layer's `noise_strength`, as NVIDIA's projector does when it optimises
/// the noise buffers. Layers without an entry fall back to the `NoiseMode`.
public struct NoiseMaps: Sendable, Equatable {
    public var maps: [String: Tensor]

    public init(_ maps: [String: Tensor] = [:]) { self.maps = maps }

    public subscript(layer: String) -> Tensor? {
        get { maps[layer] }
        set { maps[layer] = newValue }
    }

    /// Layer names present, sorted by resolution then name.
    public var layerNames: [String] { maps.keys.sorted(by: noiseLayerOrder) }

    /// True when some map is per-sample `[N, H, W]`.
    public var isPerSample: Bool { maps.values.contains { $0.rank == 3 } }
}

/// Orders "b4.conv1" < "b8.conv0" < "b8.conv1" < "b16.conv0" (numeric resolution first).
func noiseLayerOrder(_ a: String, _ b: String) -> Bool {
    func key(_ s: String) -> (Int, String) {
        let parts = s.split(separator: ".", maxSplits: 1)
        let res = Int(parts.first?.dropFirst() ?? "") ?? Int.max
        return (res, parts.count > 1 ? String(parts[1]) : "")
    }
    let ka = key(a), kb = key(b)
    return ka.0 != kb.0 ? ka.0 < kb.0 : ka.1 < kb.1
}

/// The noise a layer adds, resolved for one forward call (values before `noise_strength`).
enum ResolvedNoise {
    case none
    /// `[H·W]` shared by every sample.
    case shared([Float])
    /// `[N·H·W]`.
    case perSample([Float])

    /// Value at sample `n`, pixel `p` (0 for `.none`).
    @inline(__always) func pointerOffset(sample n: Int, pixels hw: Int) -> Int {
        if case .perSample = self { return n * hw }
        return 0
    }

    var isNone: Bool { if case .none = self { return true }; return false }

    func withUnsafePointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case .shared(let a), .perSample(let a): return a.withUnsafeBufferPointer { body($0.baseAddress!) }
        }
    }
}

extension StyleGAN2Generator {
    /// The noise maps of several latents as one batch: per layer `[N, H, W]`, a latent without a
    /// map (or without any maps, `nil`) taking the generator's `noise_const` buffer; nil when no
    /// latent has maps (so the batch renders with const noise as each would alone).
    /// - Parameter maps: per latent, maps `[H, W]` or `[1, H, W]` by layer.
    public func stackedNoise(_ maps: [NoiseMaps?]) -> NoiseMaps? {
        guard maps.contains(where: { $0 != nil }) else { return nil }
        var out = NoiseMaps()
        for name in noiseLayerNames {
            let shape = noiseShape(layer: name)!
            out[name] = Tensor.concatenate(maps.map { ($0?[name] ?? constNoise[name]!).reshaped([1] + shape) })
        }
        return out
    }
}
