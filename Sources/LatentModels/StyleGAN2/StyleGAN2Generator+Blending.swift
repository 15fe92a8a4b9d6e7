import LatentTensor

/// Region-confined synthesis (Chunkmogrify / StyleMapGAN-style feature blending): an edited
/// latent is rendered side by side with the original one, and from block `blendResolution` on,
/// every block's output features and skip image are replaced by
/// `mask · edited + (1 − mask) · original`, with the mask box-averaged to that block's resolution.
///
/// Why every block ≥ `blendResolution` and not only the first: the later blocks read the edited
/// ws, so a global edit (a colour) would leak outside the mask through their modulation if only
/// one block were blended. Blending again at each later block keeps the outside on the original
/// path (exactly the original image where the full-resolution mask is 0), while inside and near
/// the boundary the later convolutions already see the mixed features, so the seam is generated
/// rather than pasted. All-white mask: the edited synthesis; all-black: the original.
extension StyleGAN2Generator {
    /// The block resolutions a blend may start at (`4 … resolution`).
    public var blendResolutions: [Int] { config.blockResolutions }

    /// The mask `[N or 1, 1, R, R]` box-averaged to `[N or 1, 1, r, r]` (`r` divides `R`; a power
    /// of two for the synthesis blocks). Area averaging keeps a soft mask's mean, so a seam at a
    /// coarse block is as wide as one of its pixels.
    public static func downsampleMask(_ mask: Tensor, to r: Int) -> Tensor {
        precondition(mask.rank == 4 && mask.shape[1] == 1 && mask.shape[2] == mask.shape[3],
                     "downsampleMask: mask must be [N, 1, R, R], got \(mask.shape)")
        let big = mask.shape[2], n = mask.shape[0]
        precondition(r >= 1 && big % r == 0, "downsampleMask: \(r) does not divide \(big)")
        if r == big { return mask }
        let f = big / r, scale = 1 / Float(f * f)
        var out = Tensor.zeros([n, 1, r, r])
        for s in 0..<n { for y in 0..<r { for x in 0..<r {
            var acc: Float = 0
            for dy in 0..<f { for dx in 0..<f { acc += mask.storage[(s * big + y * f + dy) * big + x * f + dx] } }
            out.storage[(s * r + y) * r + x] = acc * scale
        } } }
        return out
    }

    /// The edited latent's image with the edit confined to `mask` by feature blending.
    /// - Parameters:
    ///   - editedWs: `[N, numWs, wDim]`, the latent whose content goes inside the mask.
    ///   - originalWs: `[N, numWs, wDim]` (or `[1, …]`, broadcast): what stays outside.
    ///   - mask: `[N or 1, 1, R, R]` in [0, 1], white (1) = take the edit.
    ///   - blendResolution: the first block blended (one of `blendResolutions`); lower blocks run
    ///     the edited latent alone.
    ///   - noiseMode, noise: as `synthesis`; both paths get the same maps.
    ///   - onlyAtBlendResolution: blend at that one block and let the later blocks run the edited
    ///     latent on the blended features (the variant the every-block choice is measured
    ///     against in `Bench/mask-exemplar.md`: a global edit then leaks outside the mask).
    /// - Returns: `[N, imgChannels, R, R]`.
    public func blendedSynthesis(editedWs: Tensor, originalWs: Tensor, mask: Tensor, blendResolution: Int,
                                 noiseMode: NoiseMode = .const, noise: NoiseMaps? = nil,
                                 onlyAtBlendResolution: Bool = false) -> Tensor {
        require { try validate(ws: editedWs, requireFinite: false) }
        require { try validate(ws: originalWs, requireFinite: false) }
        let n = editedWs.shape[0]
        precondition(originalWs.shape[0] == n || originalWs.shape[0] == 1,
                     "blendedSynthesis: originalWs batch \(originalWs.shape[0]) vs editedWs \(n)")
        precondition(mask.rank == 4 && mask.shape[1] == 1 && mask.shape[2] == resolution && mask.shape[3] == resolution
                     && (mask.shape[0] == n || mask.shape[0] == 1),
                     "blendedSynthesis: mask must be [\(n) or 1, 1, \(resolution), \(resolution)], got \(mask.shape)")
        precondition(blendResolutions.contains(blendResolution),
                     "blendedSynthesis: blendResolution \(blendResolution) is not one of \(blendResolutions)")
        if let noise { require { try validate(noise: noise, batch: n, requireFinite: false) } }
        let orig = originalWs.shape[0] == n ? originalWs : Tensor(shape: editedWs.shape, data: (0..<n).flatMap { _ in originalWs.storage })
        // One resolution of the noise for both paths (a `.random` mode must not draw twice).
        let (resolved, _) = resolveNoise(batch: n, mode: noiseMode, explicit: noise)
        return Parallel.withSingleThreadedBLAS {
            let net = synthesisNetwork
            var rowsE = [Int: Tensor](), rowsO = [Int: Tensor]()
            for i in 0..<numWs { rowsE[i] = SynthesisNetwork.wRow(editedWs, i); rowsO[i] = SynthesisNetwork.wRow(orig, i) }
            var xe: FeatureMap? = nil, ie: FeatureMap? = nil, xo: FeatureMap? = nil, io: FeatureMap? = nil
            for block in net.blocks {
                let ce = block.forward(x: xe, img: ie, batch: n, w: { rowsE[$0]! }, noise: { resolved[$0.name] ?? .none })
                if block.resolution < blendResolution || (onlyAtBlendResolution && block.resolution > blendResolution) {
                    // The original path is only needed from the first blended block on, but its
                    // input there is its own lower blocks' output.
                    let co = block.forward(x: xo, img: io, batch: n, w: { rowsO[$0]! }, noise: { resolved[$0.name] ?? .none })
                    xe = ce.x; ie = ce.img; xo = co.x; io = co.img
                    continue
                }
                let co = block.forward(x: xo, img: io, batch: n, w: { rowsO[$0]! }, noise: { resolved[$0.name] ?? .none })
                let m = Self.downsampleMask(mask, to: block.resolution)
                xe = blendFeatures(ce.x, co.x, mask: m)
                ie = blendFeatures(ce.img, co.img, mask: m)
                xo = co.x; io = co.img
            }
            return ie!.nchw
        }
    }
}

/// `m · a + (1 − m) · b` for CNHW maps `[C, N, r, r]` and a mask `[N or 1, 1, r, r]`.
func blendFeatures(_ a: FeatureMap, _ b: FeatureMap, mask m: Tensor) -> FeatureMap {
    precondition(a.shape == b.shape, "blendFeatures: \(a.shape) vs \(b.shape)")
    let c = a.channels, n = a.batch, hw = a.height * a.width
    precondition(m.shape[2] * m.shape[3] == hw, "blendFeatures: mask \(m.shape) vs maps \(a.shape)")
    let out = FeatureMap(shape: a.shape)
    let pa = a.pointer, pb = b.pointer, po = out.pointer
    let perSample = m.shape[0] != 1
    m.withUnsafeBufferPointer { mp in
        Parallel.forRanges(c * n, minChunk: max(1, (1 << 14) / max(hw, 1))) { planes in
            for plane in planes {
                let s = plane % n, base = plane * hw, mb = (perSample ? s : 0) * hw
                for q in 0..<hw {
                    let w = mp[mb + q]
                    po[base + q] = w * pa[base + q] + (1 - w) * pb[base + q]
                }
            }
        }
    }
    return out
}
