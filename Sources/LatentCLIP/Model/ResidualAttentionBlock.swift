import LatentTensor

/// CLIP's pre-norm transformer block (`clip/model.py` `ResidualAttentionBlock`):
/// `x = x + attn(ln_1(x))`, then `x = x + c_proj(QuickGELU(c_fc(ln_2(x))))`, with LayerNorm
/// eps 1e-5 in float32 and QuickGELU `x·σ(1.702x)`.
struct ResidualAttentionBlock: Sendable {
    var ln1Weight: Tensor, ln1Bias: Tensor        // [D]
    var attn: MultiheadAttention
    var ln2Weight: Tensor, ln2Bias: Tensor        // [D]
    var cFcWeight: Tensor, cFcBias: Tensor        // [4D, D], [4D]
    var cProjWeight: Tensor, cProjBias: Tensor    // [D, 4D], [D]

    struct Cache: Sendable {
        var x: Tensor             // block input [N, L, D]
        var attn: MultiheadAttention.Cache
        var x1: Tensor            // after the attention residual
        var ln2Out: Tensor        // input of c_fc
        var hidden: Tensor        // c_fc output, input of QuickGELU [N, L, 4D]
        var activated: Tensor     // QuickGELU output, input of c_proj, [N, L, 4D]
    }

    /// Loads block `prefix` (e.g. `visual.transformer.resblocks.3.`) from `weights`.
    init(weights: [String: Tensor], prefix: String, heads: Int) {
        func w(_ name: String) -> Tensor { weights[prefix + name]! }
        ln1Weight = w("ln_1.weight"); ln1Bias = w("ln_1.bias")
        attn = MultiheadAttention(inProjWeight: w("attn.in_proj_weight"), inProjBias: w("attn.in_proj_bias"),
                                  outProjWeight: w("attn.out_proj.weight"), outProjBias: w("attn.out_proj.bias"),
                                  heads: heads)
        ln2Weight = w("ln_2.weight"); ln2Bias = w("ln_2.bias")
        cFcWeight = w("mlp.c_fc.weight"); cFcBias = w("mlp.c_fc.bias")
        cProjWeight = w("mlp.c_proj.weight"); cProjBias = w("mlp.c_proj.bias")
    }

    /// - Parameter x: `[N, L, D]`. - Returns: `[N, L, D]`, and the cache when `keep` is true.
    func forward(_ x: Tensor, causal: Bool, keep: Bool) -> (Tensor, Cache?) {
        let (a, attnCache) = attn.forward(layerNorm(x, weight: ln1Weight, bias: ln1Bias), causal: causal, keep: keep)
        let x1 = x + a
        let ln2Out = layerNorm(x1, weight: ln2Weight, bias: ln2Bias)
        let hidden = linear(ln2Out, weight: cFcWeight, bias: cFcBias)
        let activated = CLIPQuickGELU.forward(hidden)
        let out = x1 + linear(activated, weight: cProjWeight, bias: cProjBias)
        guard keep else { return (out, nil) }
        return (out, Cache(x: x, attn: attnCache!, x1: x1, ln2Out: ln2Out, hidden: hidden, activated: activated))
    }

    /// Gradient w.r.t. the block input, given the gradient w.r.t. its output.
    func backward(_ gradOut: Tensor, cache c: Cache) -> Tensor {
        let gActivated = linearBackward(gradOutput: gradOut, x: c.activated, weight: cProjWeight, needWeight: false).gradInput!
        let gHidden = CLIPQuickGELU.backward(gActivated, x: c.hidden)
        let gLn2 = linearBackward(gradOutput: gHidden, x: c.ln2Out, weight: cFcWeight, needWeight: false).gradInput!
        var gX1 = gradOut
        gX1 += layerNormBackward(gradOutput: gLn2, x: c.x1, weight: ln2Weight).gradInput
        let gLn1 = attn.backward(gX1, cache: c.attn)
        var gX = gX1
        gX += layerNormBackward(gradOutput: gLn1, x: c.x, weight: ln1Weight).gradInput
        return gX
    }
}

/// A stack of residual attention blocks (`clip/model.py` `Transformer`).
struct CLIPTransformer: Sendable {
    var blocks: [ResidualAttentionBlock]
    var causal: Bool

    init(weights: [String: Tensor], prefix: String, layers: Int, heads: Int, causal: Bool) {
        blocks = (0..<layers).map { ResidualAttentionBlock(weights: weights, prefix: "\(prefix)\($0).", heads: heads) }
        self.causal = causal
    }

    func forward(_ x: Tensor, keep: Bool) -> (Tensor, [ResidualAttentionBlock.Cache]) {
        var h = x
        var caches: [ResidualAttentionBlock.Cache] = []
        for block in blocks {
            let (y, c) = block.forward(h, causal: causal, keep: keep)
            h = y
            if let c { caches.append(c) }
        }
        return (h, caches)
    }

    func backward(_ gradOut: Tensor, caches: [ResidualAttentionBlock.Cache]) -> Tensor {
        precondition(caches.count == blocks.count, "CLIPTransformer.backward: tape holds \(caches.count) of \(blocks.count) blocks")
        var g = gradOut
        for (block, cache) in zip(blocks, caches).reversed() { g = block.backward(g, cache: cache) }
        return g
    }
}
