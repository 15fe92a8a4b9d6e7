import LatentTensor

/// The noise mode by name, as `--noise-mode` takes it (`random` is seeded per image).
public enum NoiseModeName: String, Sendable, CaseIterable {
    case const, random, none
}

extension StyleGAN2Generator {
    /// The noise maps `mode` gives one image, `[1, H, W]` per layer: the `noise_const` buffers,
    /// zeros, or standard normals drawn from `seed` (numpy's `RandomState`, layers in forward
    /// order), so an image rendered with them can be stored with its latent and rendered again.
    public func noiseMaps(mode: NoiseModeName, seed: UInt64) -> NoiseMaps {
        var rng = NumpyRandomState(seed: UInt32(truncatingIfNeeded: seed ^ (seed >> 32)))
        var out = NoiseMaps()
        for name in noiseLayerNames {
            let shape = [1] + noiseShape(layer: name)!
            switch mode {
            case .const: out[name] = constNoise[name]!.reshaped(shape)
            case .none: out[name] = Tensor.zeros(shape)
            case .random: out[name] = Tensor(shape: shape, data: rng.randn(count: shape.reduce(1, *)).map { Float($0) })
            }
        }
        return out
    }

    /// Synthesis of many latents in chunks (a long seed list never holds every activation at
    /// once). Each image's noise is its own: stored maps (`noise`, `[N, H, W]` per layer, e.g.
    /// from an inverted latent file) where given, else `noiseMaps(mode:seed:)` with
    /// `noiseSeeds[i]` (so an image does not depend on its neighbours or on the chunk size).
    /// - Parameters:
    ///   - ws: `[N, numWs, wDim]`.
    ///   - noiseSeeds: one per latent (used by `random` only).
    ///   - progress: images finished so far.
    /// - Returns: one `[C, R, R]` image per latent, and the noise maps each was rendered with
    ///   (`[1, H, W]` per layer; nil for `const` without stored maps, which needs none stored).
    public func synthesizeImages(ws: Tensor, noiseMode: NoiseModeName = .const, noiseSeeds: [UInt64],
                                 noise: NoiseMaps? = nil, progress: ((Int) -> Void)? = nil) -> (images: [Tensor], noise: [NoiseMaps?]) {
        let n = ws.shape[0]
        precondition(noiseSeeds.count == n, "synthesizeImages: one noise seed per latent")
        // Random noise renders one image at a time, as a seed alone would (same GEMM shapes, same bits).
        let chunk = noiseMode == .random ? 1 : 8
        var images: [Tensor] = [], used: [NoiseMaps?] = []
        images.reserveCapacity(n)
        var i = 0
        while i < n {
            let j = min(i + chunk, n)
            var perImage: [NoiseMaps?] = (i..<j).map { k in
                // Seed 0 and index 0 would collide with a plain counter; the golden-ratio offset keeps
                // image noise streams apart from other seeded uses.
                noiseMode == .const ? nil : noiseMaps(mode: noiseMode, seed: noiseSeeds[k] &+ 0x9E37_79B9_7F4A_7C15)
            }
            if let noise {
                perImage = (i..<j).map { k in
                    var m = perImage[k - i] ?? constNoise
                    for (name, t) in noise.maps { m[name] = t.slice(k ..< k + 1) }
                    return m
                }
            }
            let img = synthesis(ws: ws.slice(i ..< j), noiseMode: .const, noise: stackedNoise(perImage))
            for k in 0..<(j - i) { images.append(img.row(k)) }
            used += perImage
            i = j
            progress?(i)
        }
        return (images, used)
    }
}
