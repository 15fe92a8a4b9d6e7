import LatentTensor

/// Self-attention with packed input projection, as PyTorch's `nn.MultiheadAttention(d, heads)`
/// called `attn(x, x, x, need_weights=False, attn_mask=mask)` in CLIP's `ResidualAttentionBlock`:
/// `qkv = x·in_proj_weightᵀ + in_proj_bias`, per head `softmax(q·kᵀ/√d_head + mask)·v`, heads
/// concatenated, then `out_proj`. The causal mask of the text tower (−∞ above the diagonal) is
/// applied by writing −∞ into the scores, which the max-subtracting softmax turns into exact zeros.
///
/// Sequences are batch-first here (`[N, L, D]`); the reference's `[L, N, D]` layout is only a
/// transposition of the same computation.
struct MultiheadAttention: Sendable {
    var inProjWeight: Tensor   // [3D, D]
    var inProjBias: Tensor     // [3D]
    var outProjWeight: Tensor  // [D, D]
    var outProjBias: Tensor    // [D]
    var heads: Int

    var width: Int { outProjWeight.shape[0] }

    /// What the backward pass needs from one forward call.
    struct Cache: Sendable {
        var input: Tensor   // [N, L, D]
        var q: Tensor       // [N·H, L, Dh], already multiplied by 1/√Dh
        var k: Tensor       // [N·H, L, Dh]
        var v: Tensor       // [N·H, L, Dh]
        var probs: Tensor   // [N·H, L, L]
        var merged: Tensor  // [N, L, D], input of out_proj
    }

    /// - Parameter x: `[N, L, D]`. - Returns: `[N, L, D]` (and the cache when `keep` is true).
    func forward(_ x: Tensor, causal: Bool, keep: Bool) -> (Tensor, Cache?) {
        let n = x.shape[0], l = x.shape[1], d = x.shape[2], h = heads, dh = d / h
        let qkv = linear(x, weight: inProjWeight, bias: inProjBias)             // [N, L, 3D]
        let scale = 1 / Float(dh).squareRoot()
        let q = splitHeads(qkv, part: 0, n: n, l: l, d: d, scale: scale)
        let k = splitHeads(qkv, part: 1, n: n, l: l, d: d, scale: 1)
        let v = splitHeads(qkv, part: 2, n: n, l: l, d: d, scale: 1)
        var scores = batchedMatmul(q, k, transB: true)                         // [N·H, L, L]
        if causal { applyCausalMask(&scores, batch: n * h, l: l) }
        let probs = softmax(scores, axis: -1)
        let context = batchedMatmul(probs, v)                                   // [N·H, L, Dh]
        let merged = mergeHeads(context, n: n, l: l, d: d)
        let out = linear(merged, weight: outProjWeight, bias: outProjBias)
        return (out, keep ? Cache(input: x, q: q, k: k, v: v, probs: probs, merged: merged) : nil)
    }

    /// Gradient w.r.t. the input `[N, L, D]` (weights are not differentiated).
    func backward(_ gradOut: Tensor, cache c: Cache) -> Tensor {
        let n = c.input.shape[0], l = c.input.shape[1], d = c.input.shape[2], h = heads, dh = d / h
        let gMerged = linearBackward(gradOutput: gradOut, x: c.merged, weight: outProjWeight, needWeight: false).gradInput!
        let gContext = splitHeads(gMerged, part: 0, n: n, l: l, d: d, scale: 1, packed: false)
        let (gProbs, gV) = batchedMatmulBackward(gradOutput: gContext, a: c.probs, b: c.v)
        // Masked entries have probability 0, so softmax's backward already gives them 0.
        let gScores = softmaxBackward(gradOutput: gProbs!, output: c.probs, axis: -1)
        let (gQ, gK) = batchedMatmulBackward(gradOutput: gScores, a: c.q, b: c.k, transB: true)
        var gQKV = Tensor.zeros([n, l, 3 * d])
        scatterHeads(gQ!, into: &gQKV, part: 0, n: n, l: l, d: d, scale: 1 / Float(dh).squareRoot())
        scatterHeads(gK!, into: &gQKV, part: 1, n: n, l: l, d: d, scale: 1)
        scatterHeads(gV!, into: &gQKV, part: 2, n: n, l: l, d: d, scale: 1)
        return linearBackward(gradOutput: gQKV, x: c.input, weight: inProjWeight, needWeight: false).gradInput!
    }

    /// `[N, L, 3D]` (or `[N, L, D]` when not `packed`) -> `[N·H, L, Dh]` for part 0/1/2 = q/k/v.
    private func splitHeads(_ src: Tensor, part: Int, n: Int, l: Int, d: Int, scale: Float, packed: Bool = true) -> Tensor {
        let h = heads, dh = d / h, rowStride = packed ? 3 * d : d
        var out = Tensor.zeros([n * h, l, dh])
        src.withUnsafeBufferPointer { ps in out.withUnsafeMutableBufferPointer { po in
            let s = ps.baseAddress!, o = po.baseAddress!
            for b in 0..<n {
                for t in 0..<l {
                    let row = s + (b * l + t) * rowStride + part * d
                    for hh in 0..<h {
                        let dst = o + ((b * h + hh) * l + t) * dh
                        let from = row + hh * dh
                        for e in 0..<dh { dst[e] = from[e] * scale }
                    }
                }
            }
        } }
        return out
    }

    /// Adds `[N·H, L, Dh]` (times `scale`) into part `part` of a packed `[N, L, 3D]` gradient.
    private func scatterHeads(_ src: Tensor, into dst: inout Tensor, part: Int, n: Int, l: Int, d: Int, scale: Float) {
        let h = heads, dh = d / h
        src.withUnsafeBufferPointer { ps in dst.withUnsafeMutableBufferPointer { pd in
            let s = ps.baseAddress!, o = pd.baseAddress!
            for b in 0..<n {
                for t in 0..<l {
                    let row = o + (b * l + t) * 3 * d + part * d
                    for hh in 0..<h {
                        let from = s + ((b * h + hh) * l + t) * dh
                        for e in 0..<dh { row[hh * dh + e] += from[e] * scale }
                    }
                }
            }
        } }
    }

    /// `[N·H, L, Dh]` -> `[N, L, D]` (heads concatenated along the feature axis).
    private func mergeHeads(_ src: Tensor, n: Int, l: Int, d: Int) -> Tensor {
        let h = heads, dh = d / h
        var out = Tensor.zeros([n, l, d])
        src.withUnsafeBufferPointer { ps in out.withUnsafeMutableBufferPointer { po in
            let s = ps.baseAddress!, o = po.baseAddress!
            for b in 0..<n {
                for hh in 0..<h {
                    for t in 0..<l {
                        (o + (b * l + t) * d + hh * dh).update(from: s + ((b * h + hh) * l + t) * dh, count: dh)
                    }
                }
            }
        } }
        return out
    }

    private func applyCausalMask(_ scores: inout Tensor, batch: Int, l: Int) {
        scores.withUnsafeMutableBufferPointer { p in
            let s = p.baseAddress!
            for b in 0..<batch {
                for i in 0..<l {
                    let row = s + (b * l + i) * l
                    for j in (i + 1)..<max(i + 1, l) { row[j] = -.infinity }
                }
            }
        }
    }
}
