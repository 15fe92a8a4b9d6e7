import LatentTensor

/// NVlabs `SynthesisNetwork`: the blocks `b4 … bR`, each reading its rows of `ws`
/// (block `b` uses `num_conv + num_torgb` consecutive rows, advancing by `num_conv`).
struct SynthesisNetwork: Sendable {
    let blocks: [SynthesisBlock]
    let numWs: Int
    let wDim: Int
    let imgChannels: Int
    let resolution: Int

    /// Every noise-carrying layer in forward order.
    var layers: [SynthesisLayer] { blocks.flatMap { [$0.conv0, $0.conv1].compactMap { $0 } } }

    /// `ws[:, index, :]` as `[N, wDim]`.
    static func wRow(_ ws: Tensor, _ index: Int) -> Tensor {
        let n = ws.shape[0], numWs = ws.shape[1], d = ws.shape[2]
        var r = Tensor.zeros([n, d])
        for s in 0..<n { for j in 0..<d { r.storage[s * d + j] = ws.storage[(s * numWs + index) * d + j] } }
        return r
    }

    /// The output image `[imgChannels, N, R, R]` (CNHW), keeping no tape: each block's buffers
    /// go back to the pool as soon as the next block has read them.
    func forwardImage(ws: Tensor, noise: [String: ResolvedNoise], styleEdit: StyleSpaceEdit? = nil) -> FeatureMap {
        let n = ws.shape[0]
        let rows = (0..<numWs).map { Self.wRow(ws, $0) }
        var x: FeatureMap? = nil, img: FeatureMap? = nil
        for block in blocks {
            let c = block.forward(x: x, img: img, batch: n, w: { rows[$0] }, noise: { noise[$0.name] ?? .none }, styleEdit: styleEdit)
            x = c.x; img = c.img
        }
        return img!
    }

    /// The differentiable forward: per block its input and, unless `checkpointing` selects the
    /// block, its whole cache (see `TapeBlock`).
    /// - Returns: the tape's blocks and the output image `[imgChannels, N, R, R]`.
    func forward(ws: Tensor, noise: [String: ResolvedNoise], checkpointing: SynthesisCheckpointing)
        -> (blocks: [TapeBlock], image: FeatureMap) {
        let n = ws.shape[0]
        let rows = (0..<numWs).map { Self.wRow(ws, $0) }
        var tape = [TapeBlock]()
        var x: FeatureMap? = nil, img: FeatureMap? = nil
        let chosen = checkpointing.checkpointed(blocks: blocks, batch: n)
        for (index, block) in blocks.enumerated() {
            let checkpoint = chosen.contains(index)
            let c = block.forward(x: x, img: img, batch: n, w: { rows[$0] }, noise: { noise[$0.name] ?? .none })
            // Every block keeps what it read (the previous block's outputs, which the previous
            // block's cache holds anyway while it is on the tape); a checkpointed one nothing else.
            tape.append(TapeBlock(x: x, img: img, slot: checkpoint ? nil : CacheSlot(c)))
            x = c.x; img = c.img
        }
        return (tape, img!)
    }

    struct Gradients {
        var ws: Tensor
        var noise: [String: [Float]]
        var parameters: [String: Tensor]
    }

    /// - Parameters:
    ///   - tape: from `forward(ws:noise:checkpointing:)` with the same `ws` and `noise`.
    ///   - gradImage: `∂L/∂img` in CNHW `[3, N, R, R]`.
    func backward(ws: Tensor, tape: [TapeBlock], noise: [String: ResolvedNoise], gradImage: FeatureMap,
                  needNoise: Bool, needWeights: Bool) -> Gradients {
        let n = ws.shape[0]
        let rows = (0..<numWs).map { Self.wRow(ws, $0) }
        var gws = Tensor.zeros(ws.shape)
        var noiseGrads = [String: [Float]]()
        var params = [String: Tensor]()
        var gx: FeatureMap? = nil
        var gimg = gradImage
        for (block, entry) in zip(blocks, tape).reversed() {
            // A checkpointed block (or one whose cache an earlier backward of this tape took) is
            // recomputed: the same computation as in the forward, on the same input.
            let cache = entry.slot?.take()
                ?? block.forward(x: entry.x, img: entry.img, batch: n, w: { rows[$0] }, noise: { noise[$0.name] ?? .none })
            // Handed over: released layer by layer as the block's backward consumes it.
            let g = block.backward(gradX: gx.take(), gradImg: gimg, cache: consume cache, batch: n, w: { rows[$0] },
                                   needNoise: needNoise, needWeights: needWeights)
            for (index, gw) in g.w {
                for s in 0..<n { for j in 0..<wDim { gws.storage[(s * numWs + index) * wDim + j] += gw.storage[s * wDim + j] } }
            }
            noiseGrads.merge(g.noise) { a, _ in a }
            params.merge(g.parameters) { a, _ in a }
            gx = g.x
            if let gi = g.img { gimg = gi }
        }
        return Gradients(ws: gws, noise: noiseGrads, parameters: params)
    }
}

/// `[N, C, H, W]` ↔ `[C, N, H, W]` (the same permutation both ways).
func swapBatchAndChannels(_ t: Tensor) -> Tensor {
    precondition(t.rank == 4, "expected a 4-D tensor, got \(t.shape)")
    let a = t.shape[0], b = t.shape[1], hw = t.shape[2] * t.shape[3]
    if a == 1 || b == 1 { return t.reshaped([b, a, t.shape[2], t.shape[3]]) }
    var out = Tensor.zeros([b, a, t.shape[2], t.shape[3]])
    t.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for i in 0..<a { for j in 0..<b {
                (dst.baseAddress! + (j * a + i) * hw).update(from: src.baseAddress! + (i * b + j) * hw, count: hw)
            } }
        }
    }
    return out
}

/// Gradients of a scalar loss through the synthesis network.
public struct SynthesisGradients: Sendable {
    /// `[N, numWs, wDim]`.
    public var ws: Tensor
    /// Per noise layer, in the layout the forward received: `[H, W]` for shared maps (and for the
    /// `noise_const` buffers under `.const`), `[N, H, W]` for per-sample maps and `.random`.
    /// Nil when not requested; layers without noise (`.none`) are absent.
    public var noise: NoiseMaps?
    /// Gradients of the synthesis parameters under their official names (`synthesis.b8.conv0.weight`,
    /// `…affine.weight`, `…noise_strength`, `synthesis.b4.const`, …), for the raw stored values.
    public var weights: [String: Tensor]?
}
