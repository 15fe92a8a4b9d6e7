import LatentTensor

/// Several region-confined latents in one synthesis (SEAN-style per-region styles): the
/// generalisation of `blendedSynthesis` from one edited latent to K, each with its own mask.
///
/// The base latent runs its own path unblended (so wherever every mask is 0 the image is exactly
/// the base synthesis). From block `blendResolution` on, each block's output features and skip
/// image are composed by chaining the two-way blend of `blendedSynthesis` over the regions in
/// order: `c₀ = base`, `cₖ = mₖ · regionₖ + (1 − mₖ) · cₖ₋₁`, every mask box-averaged to that
/// block's resolution. Expanded, region k weighs `mₖ · Π_{j>k} (1 − mⱼ)`: where masks overlap the
/// later region wins, and the weights with the base's `Π (1 − mⱼ)` always sum to 1. Every region
/// path continues from the composite (its later convolutions see the neighbours' features, so
/// the seams are generated, not pasted). With one region this is `blendedSynthesis`.
extension StyleGAN2Generator {
    /// - Parameters:
    ///   - baseWs: `[N, numWs, wDim]`: what stays outside every mask.
    ///   - regionWs: K latents `[N, numWs, wDim]`, region k's content.
    ///   - masks: K masks `[N or 1, 1, R, R]` in [0, 1] (1 = region k), in priority order (later wins).
    ///   - blendResolution: the first block blended (one of `blendResolutions`); lower blocks run
    ///     each latent alone.
    ///   - noiseMode, noise: as `synthesis`; every path gets the same maps.
    /// - Returns: `[N, imgChannels, R, R]`; the base synthesis when K = 0.
    public func regionBlendedSynthesis(baseWs: Tensor, regionWs: [Tensor], masks: [Tensor], blendResolution: Int,
                                       noiseMode: NoiseMode = .const, noise: NoiseMaps? = nil) -> Tensor {
        require { try validate(ws: baseWs, requireFinite: false) }
        let n = baseWs.shape[0]
        precondition(regionWs.count == masks.count, "regionBlendedSynthesis: \(regionWs.count) latents vs \(masks.count) masks")
        for ws in regionWs {
            require { try validate(ws: ws, requireFinite: false) }
            precondition(ws.shape == baseWs.shape, "regionBlendedSynthesis: region latent \(ws.shape) vs base \(baseWs.shape)")
        }
        for mask in masks {
            precondition(mask.rank == 4 && mask.shape[1] == 1 && mask.shape[2] == resolution && mask.shape[3] == resolution
                         && (mask.shape[0] == n || mask.shape[0] == 1),
                         "regionBlendedSynthesis: masks must be [\(n) or 1, 1, \(resolution), \(resolution)], got \(mask.shape)")
        }
        precondition(blendResolutions.contains(blendResolution),
                     "regionBlendedSynthesis: blendResolution \(blendResolution) is not one of \(blendResolutions)")
        if let noise { require { try validate(noise: noise, batch: n, requireFinite: false) } }
        let (resolved, _) = resolveNoise(batch: n, mode: noiseMode, explicit: noise)
        let paths = [baseWs] + regionWs
        return Parallel.withSingleThreadedBLAS {
            let rows = paths.map { ws in (0..<numWs).map { SynthesisNetwork.wRow(ws, $0) } }
            var x = [FeatureMap?](repeating: nil, count: paths.count), img = x
            var composite: FeatureMap? = nil
            for block in synthesisNetwork.blocks {
                let outs = paths.indices.map { p in
                    block.forward(x: x[p], img: img[p], batch: n, w: { rows[p][$0] }, noise: { resolved[$0.name] ?? .none })
                }
                x = outs.map { $0.x }; img = outs.map { $0.img }
                guard block.resolution >= blendResolution, !masks.isEmpty else { continue }
                var cx = outs[0].x, ci = outs[0].img
                for (k, mask) in masks.enumerated() {
                    let m = Self.downsampleMask(mask, to: block.resolution)
                    cx = blendFeatures(outs[k + 1].x, cx, mask: m)
                    ci = blendFeatures(outs[k + 1].img, ci, mask: m)
                }
                // The base keeps its own path; every region continues from the composite.
                for p in 1..<paths.count { x[p] = cx; img[p] = ci }
                composite = ci
            }
            // The last block is always blended (blendResolution ≤ R): its composite is the image.
            return (composite ?? img[0]!).nchw
        }
    }
}
