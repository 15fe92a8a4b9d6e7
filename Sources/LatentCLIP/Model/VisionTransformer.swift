import LatentTensor

/// CLIP's ViT image tower (`clip/model.py` `VisionTransformer`):
/// patchify with `conv1` (kernel = stride = patch, no bias), prepend `class_embedding`, add
/// `positional_embedding`, `ln_pre`, the transformer, `ln_post` of the class token, `@ proj`.
///
/// The strided convolution has non-overlapping windows, so it is computed as a GEMM of the
/// flattened patches (`[N·G², 3·P·P]`) with the weight viewed as `[width, 3·P·P]`.
struct VisionTransformer: Sendable {
    var conv1Weight: Tensor          // [W, 3·P·P] (flattened [W, 3, P, P])
    var classEmbedding: Tensor       // [W]
    var positionalEmbedding: Tensor  // [G²+1, W]
    var lnPreWeight: Tensor, lnPreBias: Tensor
    var transformer: CLIPTransformer
    var lnPostWeight: Tensor, lnPostBias: Tensor
    var proj: Tensor                 // [W, E]
    var resolution: Int, patchSize: Int

    var width: Int { classEmbedding.count }
    var grid: Int { resolution / patchSize }

    struct Cache: Sendable {
        var batch: Int
        var embedded: Tensor                        // tokens + positions, input of ln_pre [N, G²+1, W]
        var blocks: [ResidualAttentionBlock.Cache]
        var classToken: Tensor                      // transformer output of the class token [N, W]
        var pooled: Tensor                          // ln_post output [N, W]
    }

    init(weights: [String: Tensor], config: CLIPConfig) {
        let p = config.visionPatchSize
        conv1Weight = weights["visual.conv1.weight"]!.reshaped([config.visionWidth, 3 * p * p])
        classEmbedding = weights["visual.class_embedding"]!
        positionalEmbedding = weights["visual.positional_embedding"]!
        lnPreWeight = weights["visual.ln_pre.weight"]!; lnPreBias = weights["visual.ln_pre.bias"]!
        transformer = CLIPTransformer(weights: weights, prefix: "visual.transformer.resblocks.",
                                      layers: config.visionLayers, heads: config.visionHeads, causal: false)
        lnPostWeight = weights["visual.ln_post.weight"]!; lnPostBias = weights["visual.ln_post.bias"]!
        proj = weights["visual.proj"]!
        resolution = config.imageResolution
        patchSize = p
    }

    /// - Parameter images: `[N, 3, R, R]`, normalised. - Returns: `[N, E]`.
    func forward(_ images: Tensor, keep: Bool) -> (Tensor, Cache?) {
        let n = images.shape[0], g = grid, w = width, tokens = g * g + 1
        let patchEmbeddings = linear(patchify(images), weight: conv1Weight)       // [N·G², W]
        var x = Tensor.zeros([n, tokens, w])
        patchEmbeddings.withUnsafeBufferPointer { pe in classEmbedding.withUnsafeBufferPointer { ce in
            positionalEmbedding.withUnsafeBufferPointer { pp in x.withUnsafeMutableBufferPointer { px in
                let e = pe.baseAddress!, c = ce.baseAddress!, pos = pp.baseAddress!, o = px.baseAddress!
                for b in 0..<n {
                    let seq = o + b * tokens * w
                    for i in 0..<w { seq[i] = c[i] + pos[i] }
                    for t in 1..<tokens {
                        let src = e + (b * g * g + t - 1) * w, dst = seq + t * w, pt = pos + t * w
                        for i in 0..<w { dst[i] = src[i] + pt[i] }
                    }
                }
            } }
        } }
        let (h, blocks) = transformer.forward(layerNorm(x, weight: lnPreWeight, bias: lnPreBias), keep: keep)
        let classToken = h.reshaped([n, tokens * w]).columns(0..<w)
        let pooled = layerNorm(classToken, weight: lnPostWeight, bias: lnPostBias)
        let features = matmul(pooled, proj)
        return (features, keep ? Cache(batch: n, embedded: x, blocks: blocks, classToken: classToken, pooled: pooled) : nil)
    }

    /// Gradient w.r.t. the (normalised) input images `[N, 3, R, R]`.
    func backward(_ gradFeatures: Tensor, cache c: Cache) -> Tensor {
        let n = c.batch, g = grid, w = width, tokens = g * g + 1
        let gPooled = matmul(gradFeatures, proj, transB: true)
        let gClass = layerNormBackward(gradOutput: gPooled, x: c.classToken, weight: lnPostWeight).gradInput
        var gH = Tensor.zeros([n, tokens, w])
        gClass.withUnsafeBufferPointer { pc in gH.withUnsafeMutableBufferPointer { ph in
            for b in 0..<n { (ph.baseAddress! + b * tokens * w).update(from: pc.baseAddress! + b * w, count: w) }
        } }
        let gLnPre = transformer.backward(gH, caches: c.blocks)
        let gX = layerNormBackward(gradOutput: gLnPre, x: c.embedded, weight: lnPreWeight).gradInput
        // Patch tokens are rows 1... of each sequence; the class token has no input dependence.
        var gPatches = Tensor.zeros([n * g * g, w])
        gX.withUnsafeBufferPointer { px in gPatches.withUnsafeMutableBufferPointer { pp in
            for b in 0..<n {
                (pp.baseAddress! + b * g * g * w).update(from: px.baseAddress! + (b * tokens + 1) * w, count: g * g * w)
            }
        } }
        let gCols = matmul(gPatches, conv1Weight)                                  // [N·G², 3·P·P]
        return unpatchify(gCols, batch: n)
    }

    /// `[N, 3, R, R]` -> `[N·G², 3·P·P]`, rows in raster order of patches, columns in the
    /// `(channel, ky, kx)` order of the conv weight.
    func patchify(_ images: Tensor) -> Tensor {
        let n = images.shape[0], r = resolution, p = patchSize, g = grid
        var out = Tensor.zeros([n * g * g, 3 * p * p])
        images.withUnsafeBufferPointer { pi in out.withUnsafeMutableBufferPointer { po in
            let src = pi.baseAddress!, dst = po.baseAddress!
            for b in 0..<n {
                for gy in 0..<g {
                    for gx in 0..<g {
                        let row = dst + ((b * g + gy) * g + gx) * 3 * p * p
                        for c in 0..<3 {
                            for ky in 0..<p {
                                let from = src + ((b * 3 + c) * r + gy * p + ky) * r + gx * p
                                (row + (c * p + ky) * p).update(from: from, count: p)
                            }
                        }
                    }
                }
            }
        } }
        return out
    }

    /// Adjoint of `patchify` (the windows do not overlap, so it is a scatter).
    func unpatchify(_ cols: Tensor, batch n: Int) -> Tensor {
        let r = resolution, p = patchSize, g = grid
        var out = Tensor.zeros([n, 3, r, r])
        cols.withUnsafeBufferPointer { pc in out.withUnsafeMutableBufferPointer { po in
            let src = pc.baseAddress!, dst = po.baseAddress!
            for b in 0..<n {
                for gy in 0..<g {
                    for gx in 0..<g {
                        let row = src + ((b * g + gy) * g + gx) * 3 * p * p
                        for c in 0..<3 {
                            for ky in 0..<p {
                                (dst + ((b * 3 + c) * r + gy * p + ky) * r + gx * p).update(from: row + (c * p + ky) * p, count: p)
                            }
                        }
                    }
                }
            }
        } }
        return out
    }
}

extension Tensor {
    /// Columns `range` of a 2-D tensor `[rows, cols]`, copied: `[rows, range.count]`.
    func columns(_ range: Range<Int>) -> Tensor {
        precondition(rank == 2 && range.lowerBound >= 0 && range.upperBound <= shape[1], "columns \(range) of \(shape)")
        let rows = shape[0], cols = shape[1]
        var out = Tensor.zeros([rows, range.count])
        withUnsafeBufferPointer { ps in out.withUnsafeMutableBufferPointer { po in
            for r in 0..<rows {
                (po.baseAddress! + r * range.count).update(from: ps.baseAddress! + r * cols + range.lowerBound, count: range.count)
            }
        } }
        return out
    }
}
