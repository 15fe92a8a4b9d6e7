import LatentTensor

/// NVlabs `SynthesisBlock` with the default `'skip'` architecture:
/// `x = conv1(conv0(x))` (the 4×4 block starts from the learned `const` and has no conv0),
/// `img = upsample2d(img) + torgb(x)`. Activations are CNHW `[C, N, H, W]`.
struct SynthesisBlock: Sendable {
    let resolution: Int
    /// `[C, 4, 4]` for the first block.
    let const: Tensor?
    let conv0: SynthesisLayer?
    let conv1: SynthesisLayer
    let torgb: ToRGBLayer
    /// `[4, 4]`, for `upsample2d` of the skip image.
    let resampleFilter: Tensor

    struct Cache: Sendable {
        var conv0: SynthesisLayer.Cache?
        var conv1: SynthesisLayer.Cache
        var torgb: ToRGBLayer.Cache
        /// Block outputs, CNHW.
        var x: FeatureMap
        var img: FeatureMap
    }

    /// `upsample2d(img, f)` from the previous resolution: up 2, padding (2, 1, 2, 1), gain 4.
    var imgUpsample: Upfirdn2dPlan {
        Upfirdn2dPlan(height: resolution / 2, width: resolution / 2, filter: resampleFilter, up: 2,
                      padding: (2, 1, 2, 1), gain: 4)
    }

    /// - Parameters:
    ///   - x: `[Cin, N, R/2, R/2]` (nil for the first block); `img`: `[3, N, R/2, R/2]` or nil.
    ///   - w: rows of ws, each `[N, wDim]`, by index.
    func forward(x: FeatureMap?, img: FeatureMap?, batch n: Int, w: (Int) -> Tensor,
                 noise: (SynthesisLayer) -> ResolvedNoise, styleEdit: StyleSpaceEdit? = nil) -> Cache {
        var h: FeatureMap
        var c0: SynthesisLayer.Cache? = nil
        if let const {
            // const.unsqueeze(0).repeat([N, 1, 1, 1]): each channel plane repeated N times.
            let c = const.shape[0], hw = const.shape[1] * const.shape[2]
            h = FeatureMap(shape: [c, n, const.shape[1], const.shape[2]])
            const.withUnsafeBufferPointer { src in
                for ch in 0..<c { for s in 0..<n { (h.pointer + (ch * n + s) * hw).update(from: src.baseAddress! + ch * hw, count: hw) } }
            }
        } else {
            guard let x, let conv0 else { preconditionFailure("SynthesisBlock b\(resolution): missing input") }
            let r = conv0.forward(x: x, w: w(conv0.wIndex), noise: noise(conv0), styleEdit: styleEdit)
            h = r.0; c0 = r.1
        }
        let (h1, c1) = conv1.forward(x: h, w: w(conv1.wIndex), noise: noise(conv1), styleEdit: styleEdit)
        let (y, crgb) = torgb.forward(x: h1, w: w(torgb.wIndex), styleEdit: styleEdit)
        if let img {
            let up = FeatureMap(shape: y.shape)
            imgUpsample.run(img.pointer, planes: img.channels * n, up.pointer)
            up.add(y)
            return Cache(conv0: c0, conv1: c1, torgb: crgb, x: h1, img: up)
        }
        return Cache(conv0: c0, conv1: c1, torgb: crgb, x: h1, img: y)
    }

    struct Gradients {
        /// `∂L/∂x` of the block input (nil for the first block).
        var x: FeatureMap?
        /// `∂L/∂img` of the incoming skip image (nil for the first block).
        var img: FeatureMap?
        /// `(wIndex, ∂w [N, wDim])` per layer.
        var w: [(Int, Tensor)]
        /// Per-sample noise gradients `[N·R·R]` by layer name.
        var noise: [String: [Float]]
        var parameters: [String: Tensor]
    }

    /// - Parameters:
    ///   - gradX: `∂L/∂x` of the block output from the next block (nil for the last block), handed
    ///     over and dropped once added in.
    ///   - gradImg: `∂L/∂img` of the block's output image.
    ///   - cache: handed over (`consuming`): each layer's part is dropped as soon as that layer's
    ///     backward has used it, so a cache nobody else holds (a recomputed checkpoint) goes back
    ///     to the pool layer by layer instead of staying whole until the block is done.
    func backward(gradX: consuming FeatureMap?, gradImg: FeatureMap, cache: consuming Cache, batch n: Int, w: (Int) -> Tensor,
                  needNoise: Bool, needWeights: Bool) -> Gradients {
        var grads = Gradients(x: nil, img: nil, w: [], noise: [:], parameters: [:])
        // The block outputs (`x` is conv1's output, also held by the conv1 and ToRGB caches;
        // `img` is not needed at all) are dropped with the rest of `cache` here.
        var rgbCache: ToRGBLayer.Cache? = cache.torgb
        var layerCaches: [SynthesisLayer.Cache?] = [cache.conv1, cache.conv0]
        _ = consume cache
        let rgb = torgb.backward(gradOut: gradImg, cache: rgbCache.take()!, w: w(torgb.wIndex), needWeights: needWeights)
        grads.w.append((torgb.wIndex, rgb.w))
        let rgbParameters = rgb.parameters
        var gx = rgb.x
        _ = consume rgb     // else its ∂x would outlive gx's next value
        if let next = gradX { gx.add(next) }
        _ = consume gradX
        if const == nil {
            let plan = imgUpsample.backwardPlan(filter: resampleFilter, gain: 4)
            let gi = FeatureMap(shape: [gradImg.channels, n, resolution / 2, resolution / 2])
            plan.run(gradImg.pointer, planes: gradImg.channels * n, gi.pointer)
            grads.img = gi
        }
        for (k, layer) in [conv1, conv0].enumerated() {
            guard let layer, let lc = layerCaches[k].take() else { continue }
            let g = layer.backward(gradOut: gx, cache: consume lc, w: w(layer.wIndex), needNoise: needNoise, needWeights: needWeights)
            grads.w.append((layer.wIndex, g.w))
            if let gn = g.noise { grads.noise[layer.name] = gn }
            if let p = g.parameters { grads.parameters.merge(p) { a, _ in a } }
            gx = g.x
        }
        if let p = rgbParameters { grads.parameters.merge(p) { a, _ in a } }
        if let const, needWeights {
            // ∂const = Σ over the batch of ∂x of the repeated const.
            let c = const.shape[0], hw = const.shape[1] * const.shape[2]
            var gc = Tensor.zeros(const.shape)
            for ch in 0..<c { for s in 0..<n { for q in 0..<hw {
                gc.storage[ch * hw + q] += gx.pointer[(ch * n + s) * hw + q]
            } } }
            grads.parameters["synthesis.b\(resolution).const"] = gc
        }
        if const == nil { grads.x = gx }
        return grads
    }
}
