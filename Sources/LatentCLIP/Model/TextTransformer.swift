import LatentTensor

/// CLIP's text tower (`clip/model.py` `CLIP.encode_text`): token embeddings plus
/// `positional_embedding`, the causal transformer, `ln_final`, the row of the end-of-text token
/// (`text.argmax(dim=-1)`: the highest id in each sequence) `@ text_projection`.
///
/// Because attention is causal, positions after the last end-of-text token of the batch cannot
/// influence any pooled row; sequences are cut there before the transformer (77 -> typically
/// ~10 positions), which changes no pooled value.
struct TextTransformer: Sendable {
    var tokenEmbedding: Tensor       // [V, W]
    var positionalEmbedding: Tensor  // [L, W]
    var transformer: CLIPTransformer
    var lnFinalWeight: Tensor, lnFinalBias: Tensor
    var textProjection: Tensor       // [W, E]

    var width: Int { tokenEmbedding.shape[1] }
    var contextLength: Int { positionalEmbedding.shape[0] }

    struct Cache: Sendable {
        var batch: Int, length: Int, usedLength: Int
        var eotIndices: [Int]
        var blocks: [ResidualAttentionBlock.Cache]
        var pooledInput: Tensor   // transformer output at the end-of-text rows [N, W]
        var pooled: Tensor        // ln_final of those rows [N, W]
    }

    init(weights: [String: Tensor], config: CLIPConfig) {
        tokenEmbedding = weights["token_embedding.weight"]!
        positionalEmbedding = weights["positional_embedding"]!
        transformer = CLIPTransformer(weights: weights, prefix: "transformer.resblocks.",
                                      layers: config.transformerLayers, heads: config.transformerHeads, causal: true)
        lnFinalWeight = weights["ln_final.weight"]!; lnFinalBias = weights["ln_final.bias"]!
        textProjection = weights["text_projection"]!
    }

    /// `token_embedding(text)`: `[N][L]` ids -> `[N, L, W]`.
    func embed(_ tokens: [[Int32]]) -> Tensor {
        let n = tokens.count, l = tokens.first?.count ?? 0, w = width
        var out = Tensor.zeros([n, l, w])
        tokenEmbedding.withUnsafeBufferPointer { pe in out.withUnsafeMutableBufferPointer { po in
            for (b, row) in tokens.enumerated() {
                for (t, id) in row.enumerated() {
                    (po.baseAddress! + (b * l + t) * w).update(from: pe.baseAddress! + Int(id) * w, count: w)
                }
            }
        } }
        return out
    }

    /// - Parameters:
    ///   - embeddings: `[N, L, W]` token embeddings (before positions), `L ≤ contextLength`.
    ///   - eotIndices: the pooled position of each sequence.
    /// - Returns: `[N, E]`.
    func forward(embeddings: Tensor, eotIndices: [Int], keep: Bool) -> (Tensor, Cache?) {
        let n = embeddings.shape[0], l = embeddings.shape[1], w = width
        let used = (eotIndices.max() ?? 0) + 1
        var x = Tensor.zeros([n, used, w])
        embeddings.withUnsafeBufferPointer { pe in positionalEmbedding.withUnsafeBufferPointer { pp in
            x.withUnsafeMutableBufferPointer { px in
                for b in 0..<n {
                    for t in 0..<used {
                        let src = pe.baseAddress! + (b * l + t) * w, pos = pp.baseAddress! + t * w
                        let dst = px.baseAddress! + (b * used + t) * w
                        for i in 0..<w { dst[i] = src[i] + pos[i] }
                    }
                }
            }
        } }
        let (h, blocks) = transformer.forward(x, keep: keep)
        var pooledInput = Tensor.zeros([n, w])
        h.withUnsafeBufferPointer { ph in pooledInput.withUnsafeMutableBufferPointer { pp in
            for b in 0..<n {
                (pp.baseAddress! + b * w).update(from: ph.baseAddress! + (b * used + eotIndices[b]) * w, count: w)
            }
        } }
        let pooled = layerNorm(pooledInput, weight: lnFinalWeight, bias: lnFinalBias)
        let features = matmul(pooled, textProjection)
        guard keep else { return (features, nil) }
        return (features, Cache(batch: n, length: l, usedLength: used, eotIndices: eotIndices,
                                blocks: blocks, pooledInput: pooledInput, pooled: pooled))
    }

    /// Gradient w.r.t. the token embeddings `[N, L, W]` (zero past the cut).
    func backward(_ gradFeatures: Tensor, cache c: Cache) -> Tensor {
        let n = c.batch, w = width, used = c.usedLength
        let gPooled = matmul(gradFeatures, textProjection, transB: true)
        let gRows = layerNormBackward(gradOutput: gPooled, x: c.pooledInput, weight: lnFinalWeight).gradInput
        var gH = Tensor.zeros([n, used, w])
        gRows.withUnsafeBufferPointer { pr in gH.withUnsafeMutableBufferPointer { ph in
            for b in 0..<n {
                (ph.baseAddress! + (b * used + c.eotIndices[b]) * w).update(from: pr.baseAddress! + b * w, count: w)
            }
        } }
        let gX = transformer.backward(gH, caches: c.blocks)
        var gEmb = Tensor.zeros([n, c.length, w])
        gX.withUnsafeBufferPointer { px in gEmb.withUnsafeMutableBufferPointer { pe in
            for b in 0..<n {
                (pe.baseAddress! + b * c.length * w).update(from: px.baseAddress! + b * used * w, count: used * w)
            }
        } }
        return gEmb
    }
}
