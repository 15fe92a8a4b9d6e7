import LatentTensor

/// NVlabs `modulated_conv2d(x, weight, styles, noise, up, padding, resample_filter, demodulate)`
/// on NCHW tensors (with `flip_weight = (up == 1)` as `SynthesisLayer`/`ToRGBLayer` call it).
///
/// - Parameters:
///   - x: `[N, I, H, W]`.
///   - weight: `[O, I, k, k]` (k odd).
///   - styles: `[N, I]`.
///   - noise: added after demodulation: `[N, 1, H', W']`, `[H', W']` or nil.
///   - up: 1 or 2 (2 needs `resampleFilter`).
///   - padding: default `k / 2`.
///   - resampleFilter: e.g. `setupFilter([1, 3, 3, 1])`.
///   - demodulate: default true.
///   - algorithm: how same-size 3×3 convolutions are computed (default: by size).
/// - Returns: `[N, O, H', W']` (`H' = H` for up 1, `2H` for up 2 with k = 3).
public func modulatedConv2d(_ x: Tensor, weight: Tensor, styles: Tensor, noise: Tensor? = nil, up: Int = 1,
                            padding: Int? = nil, resampleFilter: Tensor? = nil, demodulate: Bool = true,
                            algorithm: ConvolutionAlgorithm = .automatic) -> Tensor {
    let op = ModulatedConv2d(weight: weight, up: up, demodulate: demodulate, padding: padding, resampleFilter: resampleFilter,
                             algorithm: algorithm)
    precondition(x.rank == 4 && x.shape[1] == op.inChannels, "modulatedConv2d: x must be [N, \(op.inChannels), H, W], got \(x.shape)")
    let n = x.shape[0]
    var c = swapBatchAndChannels(op.convolve(x: FeatureMap(nchw: x), styles: styles).nchw)   // [O, N, H', W']
    let hw = c.shape[2] * c.shape[3], o = op.outChannels
    if demodulate {
        let d = op.demodulationCoefficients(styles: styles)
        for oc in 0..<o { for s in 0..<n {
            let dc = d.storage[s * o + oc], base = (oc * n + s) * hw
            for q in 0..<hw { c.storage[base + q] *= dc }
        } }
    }
    if let noise {
        let perSample = noise.count == n * hw
        precondition(noise.count == hw || perSample, "modulatedConv2d: noise \(noise.shape) does not match the output \(c.shape)")
        for oc in 0..<o { for s in 0..<n {
            let base = (oc * n + s) * hw, nb = perSample ? s * hw : 0
            for q in 0..<hw { c.storage[base + q] += noise.storage[nb + q] }
        } }
    }
    return swapBatchAndChannels(c)
}

/// Gradients of `modulatedConv2d` (noise enters additively, so its gradient is `gradOutput`).
/// - Returns: `gradInput` `[N, I, H, W]`, `gradStyles` `[N, I]`, `gradWeight` `[O, I, k, k]`.
public func modulatedConv2dBackward(gradOutput: Tensor, x: Tensor, weight: Tensor, styles: Tensor, up: Int = 1,
                                    padding: Int? = nil, resampleFilter: Tensor? = nil, demodulate: Bool = true,
                                    algorithm: ConvolutionAlgorithm = .automatic)
    -> (gradInput: Tensor, gradStyles: Tensor, gradWeight: Tensor) {
    let op = ModulatedConv2d(weight: weight, up: up, demodulate: demodulate, padding: padding, resampleFilter: resampleFilter,
                             algorithm: algorithm)
    let n = x.shape[0], o = op.outChannels
    let xc = FeatureMap(nchw: x)
    var g = swapBatchAndChannels(gradOutput)    // [O, N, H', W']
    let hw = g.shape[2] * g.shape[3]
    var gradDcoefs = Tensor.zeros([n, o])
    var dcoefs = Tensor.zeros([n, o])
    if demodulate {
        dcoefs = op.demodulationCoefficients(styles: styles)
        let c = op.convolve(x: xc, styles: styles)
        for oc in 0..<o { for s in 0..<n {
            let base = (oc * n + s) * hw, dc = dcoefs.storage[s * o + oc]
            var acc: Float = 0
            for q in 0..<hw { acc += g.storage[base + q] * c.pointer[base + q]; g.storage[base + q] *= dc }
            gradDcoefs.storage[s * o + oc] = acc
        } }
    }
    let back = op.convolveBackward(gradOut: FeatureMap(nchw: swapBatchAndChannels(g)), x: xc, styles: styles, needWeight: true)
    var gs = back.gradStyles
    var gw = back.gradWeight
    if demodulate {
        op.demodulationBackward(styles: styles, dcoefs: dcoefs, gradDcoefs: gradDcoefs, gradStyles: &gs, gradWeight: &gw)
    }
    return (back.gradX.nchw, gs, gw!)
}

/// Naive double-precision reference of `modulated_conv2d` in the *fused* formulation, literally:
/// per-sample weights `w[n] = weight · styles[n]` (demodulated by `(Σ w[n]² + 1e-8)^(-1/2)`), then
/// `up == 1`: correlation with zero padding; `up == 2`: stride-2 transposed convolution followed by
/// `upfirdn2d` with the `conv2d_resample` padding and gain 4; then `+ noise`. Slow; for tests.
///
/// Flat row-major inputs: `x` `[N, I, H, W]`, `weight` `[O, I, k, k]`, `styles` `[N, I]`, `noise`
/// `[N·H'·W']` or `[H'·W']`. Returns the flat `[N, O, H', W']` output.
public func modulatedConv2dReference(x: [Double], shape: [Int], weight: [Double], weightShape: [Int], styles: [Double],
                                     noise: [Double]? = nil, up: Int = 1, padding: Int? = nil,
                                     resampleFilter: Tensor? = nil, demodulate: Bool = true) -> [Double] {
    let (n, ci, h, w) = (shape[0], shape[1], shape[2], shape[3])
    let (co, k) = (weightShape[0], weightShape[2])
    precondition(weightShape[1] == ci && weightShape[3] == k && styles.count == n * ci, "modulatedConv2dReference: shapes")
    let p = padding ?? k / 2
    var result = [Double]()
    for s in 0..<n {
        // Per-sample modulated (and demodulated) weight.
        var wn = [Double](repeating: 0, count: co * ci * k * k)
        for o in 0..<co {
            var ss = 0.0
            for i in 0..<ci { for t in 0..<(k * k) {
                let v = weight[(o * ci + i) * k * k + t] * styles[s * ci + i]
                wn[(o * ci + i) * k * k + t] = v
                ss += v * v
            } }
            if demodulate {
                let d = 1 / (ss + 1e-8).squareRoot()
                for t in 0..<(ci * k * k) { wn[o * ci * k * k + t] *= d }
            }
        }
        var out: [Double]
        var oh: Int, ow: Int
        if up == 1 {
            oh = h + 2 * p - k + 1; ow = w + 2 * p - k + 1
            out = [Double](repeating: 0, count: co * oh * ow)
            for o in 0..<co { for y in 0..<oh { for xx in 0..<ow {
                var acc = 0.0
                for i in 0..<ci { for ky in 0..<k { for kx in 0..<k {
                    let iy = y + ky - p, ix = xx + kx - p
                    if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                    acc += wn[((o * ci + i) * k + ky) * k + kx] * x[((s * ci + i) * h + iy) * w + ix]
                } } }
                out[(o * oh + y) * ow + xx] = acc
            } } }
        } else {
            guard let f = resampleFilter else { preconditionFailure("up = 2 needs a resample filter") }
            // conv2d_resample(up=2): transposed convolution (stride 2, weight not flipped) ...
            let th = (h - 1) * 2 + k, tw = (w - 1) * 2 + k
            var t = [Double](repeating: 0, count: co * th * tw)
            for o in 0..<co { for i in 0..<ci { for iy in 0..<h { for ix in 0..<w {
                let xv = x[((s * ci + i) * h + iy) * w + ix]
                for ky in 0..<k { for kx in 0..<k {
                    t[(o * th + 2 * iy + ky) * tw + 2 * ix + kx] += xv * wn[((o * ci + i) * k + ky) * k + kx]
                } }
            } } } }
            // ... then the FIR filter with the padding conv2d_resample computes.
            let fw = f.rank == 1 ? f.shape[0] : f.shape[1], fh = f.shape[0]
            let px0 = p + (fw + up - 1) / 2 - (k - 1), px1 = p + (fw - up) / 2 - (k - up)
            let py0 = p + (fh + up - 1) / 2 - (k - 1), py1 = p + (fh - up) / 2 - (k - up)
            out = upfirdn2dReferenceDouble(t, shape: [co, th, tw], filter: f, padding: (px0, px1, py0, py1), gain: Float(up * up))
            let size = upfirdn2dOutputSize(height: th, width: tw, filter: f, padding: (px0, px1, py0, py1))
            oh = size.height; ow = size.width
        }
        if let noise {
            let perSample = noise.count == n * oh * ow
            for o in 0..<co { for q in 0..<(oh * ow) { out[o * oh * ow + q] += noise[(perSample ? s * oh * ow : 0) + q] } }
        }
        result += out
    }
    return result
}
