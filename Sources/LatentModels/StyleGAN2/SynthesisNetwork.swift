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

    /// - Parameter keepCaches: keep every block's cache for the backward (a tape); false keeps
    ///   only the last block's, releasing each block's buffers to the pool as soon as possible.
    func forward(ws: Tensor, noise: [String: ResolvedNoise], keepCaches: Bool = true) -> [SynthesisBlock.Cache] {
        let n = ws.shape[0]
        var rows = [Int: Tensor]()
        for i in 0..<numWs { rows[i] = Self.wRow(ws, i) }
        var caches = [SynthesisBlock.Cache]()
        var x: FeatureMap? = nil, img: FeatureMap? = nil
        for block in blocks {
            let c = block.forward(x: x, img: img, batch: n, w: { rows[$0]! }, noise: { noise[$0.name] ?? .none })
            x = c.x; img = c.img
            if !keepCaches { caches.removeAll() }
            caches.append(c)
        }
        return caches
    }

    struct Gradients {
        var ws: Tensor
        var noise: [String: [Float]]
        var parameters: [String: Tensor]
    }

    /// - Parameter gradImage: `∂L/∂img` in CNHW `[3, N, R, R]`.
    func backward(ws: Tensor, caches: [SynthesisBlock.Cache], gradImage: FeatureMap, needNoise: Bool, needWeights: Bool) -> Gradients {
        let n = ws.shape[0]
        var rows = [Int: Tensor]()
        for i in 0..<numWs { rows[i] = Self.wRow(ws, i) }
        var gws = Tensor.zeros(ws.shape)
        var noise = [String: [Float]]()
        var params = [String: Tensor]()
        var gx: FeatureMap? = nil
        var gimg = gradImage
        for (block, cache) in zip(blocks, caches).reversed() {
            let g = block.backward(gradX: gx, gradImg: gimg, cache: cache, batch: n, w: { rows[$0]! },
                                   needNoise: needNoise, needWeights: needWeights)
            for (index, gw) in g.w {
                for s in 0..<n { for j in 0..<wDim { gws.storage[(s * numWs + index) * wDim + j] += gw.storage[s * wDim + j] } }
            }
            noise.merge(g.noise) { a, _ in a }
            params.merge(g.parameters) { a, _ in a }
            gx = g.x
            if let gi = g.img { gimg = gi }
        }
        return Gradients(ws: gws, noise: noise, parameters: params)
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

/// Everything `synthesisBackward` needs from one `synthesisForward` call.
public struct SynthesisTape: Sendable {
    /// `[N, numWs, wDim]`.
    public let ws: Tensor
    /// The generated image `[N, imgChannels, R, R]`.
    public let image: Tensor
    let caches: [SynthesisBlock.Cache]
    /// How each layer's noise was given, so gradients come back in the same layout.
    let noiseLayout: [String: NoiseLayout]

    enum NoiseLayout: Sendable { case shared, perSample }

    public var batch: Int { ws.shape[0] }

    /// Block outputs as in the reference forward, NCHW: `"act.b{res}.x"` `[N, C, res, res]` and
    /// `"act.b{res}.img"` `[N, imgChannels, res, res]`.
    public var blockActivations: [String: Tensor] {
        var d = [String: Tensor]()
        for c in caches {
            let res = c.x.height
            d["act.b\(res).x"] = c.x.nchw
            d["act.b\(res).img"] = c.img.nchw
        }
        return d
    }
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
