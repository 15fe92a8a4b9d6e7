import LatentTensor

/// The noise mode by name, as `--noise-mode` takes it (`random` is seeded per image).
public enum NoiseModeName: String, Sendable, CaseIterable {
    case const, random, none
}

extension StyleGAN2Generator {
    /// Synthesis of many latents in chunks (a long seed list never holds every activation at
    /// once). `random` noise is drawn per image from `noiseSeeds[i]`, so an image does not depend
    /// on its neighbours or on the chunk size. Stored noise maps (`noise`, `[N, H, W]` per layer,
    /// e.g. from an inverted latent file) replace the mode's noise on their layers.
    /// - Parameters:
    ///   - ws: `[N, numWs, wDim]`.
    ///   - noiseSeeds: one per latent (used by `random` only).
    ///   - progress: images finished so far.
    /// - Returns: one `[C, R, R]` image per latent.
    public func synthesizeImages(ws: Tensor, noiseMode: NoiseModeName = .const, noiseSeeds: [UInt64],
                                 noise: NoiseMaps? = nil, progress: ((Int) -> Void)? = nil) -> [Tensor] {
        let n = ws.shape[0]
        precondition(noiseSeeds.count == n, "synthesizeImages: one noise seed per latent")
        let chunk = noiseMode == .random ? 1 : 8
        var images: [Tensor] = []
        images.reserveCapacity(n)
        var i = 0
        while i < n {
            let j = min(i + chunk, n)
            let mode: NoiseMode
            switch noiseMode {
            // Seed 0 and index 0 would collide with a plain counter; the golden-ratio offset keeps
            // image noise streams apart from other seeded uses.
            case .random: mode = .random(seed: noiseSeeds[i] &+ 0x9E37_79B9_7F4A_7C15)
            case .none: mode = .none
            case .const: mode = .const
            }
            let maps = noise.map { NoiseMaps($0.maps.mapValues { $0.slice(i ..< j) }) }
            let img = synthesis(ws: ws.slice(i ..< j), noiseMode: mode, noise: maps)
            for k in 0..<(j - i) { images.append(img.row(k)) }
            i = j
            progress?(i)
        }
        return images
    }
}
