import LatentTensor

/// NVlabs `SynthesisLayer`: `styles = affine(w)`, modulated 3×3 convolution (optionally with 2×
/// upsampling), `+ noise · noise_strength`, then `bias_act(lrelu, gain √2, clamp conv_clamp)`.
/// Activations are CNHW `[C, N, H, W]`.
struct SynthesisLayer: Sendable {
    /// Official short name, e.g. `"b8.conv0"`; parameters live under `"synthesis." + name`.
    let name: String
    let resolution: Int
    /// Row of `ws` this layer reads.
    let wIndex: Int
    let affine: FullyConnectedLayer
    let conv: ModulatedConv2d
    /// `[O]`.
    let bias: Tensor
    /// `[R, R]`.
    let noiseConst: Tensor
    let noiseStrength: Float
    let convClamp: Float?
    let alpha: Float = 0.2
    let actGain: Float = Float(2).squareRoot()

    /// What the backward needs. The convolution's output is not kept: the backward recovers the
    /// pre-activation value from `out` (the leaky ReLU is invertible, and where the clamp bites
    /// the gradient is zero anyway), so the tape holds one map per layer, shared with the next
    /// layer's input, instead of two.
    struct Cache: Sendable {
        var x: FeatureMap      // [I, N, H, W]
        var styles: Tensor     // [N, I]
        var dcoefs: Tensor     // [N, O]
        var out: FeatureMap    // [O, N, R, R], the layer's output
        var noise: ResolvedNoise
    }

    /// - Parameters: `x` `[I, N, H, W]`; `w` `[N, wDim]` (this layer's row of ws).
    /// - Returns: `[O, N, R, R]` and the cache.
    func forward(x: FeatureMap, w: Tensor, noise: ResolvedNoise, styleEdit: StyleSpaceEdit? = nil) -> (FeatureMap, Cache) {
        var styles = affine(w)
        styleEdit?.apply(to: &styles, layer: name)
        let dcoefs = conv.demodulationCoefficients(styles: styles)
        let c = conv.convolve(x: x, styles: styles)
        let o = conv.outChannels, n = x.batch, hw = resolution * resolution
        let strength = noiseStrength, clamp = convClamp ?? .infinity, alpha = self.alpha, gain = actGain
        // out = clamp(lrelu((c·dcoefs + noise·strength) + bias)·gain), in the reference's order,
        // written over c (no longer needed).
        let out = c
        dcoefs.withUnsafeBufferPointer { pd in
            bias.withUnsafeBufferPointer { pb in
                noise.withUnsafePointer { pz in
                    let cp = c.pointer, op = out.pointer, dp = pd.baseAddress!, bp = pb.baseAddress!
                    Parallel.forEach(o * n, minChunk: max(1, 16384 / hw)) { on in
                        let oc = on / n, nn = on % n
                        let dc = dp[nn * o + oc], b = bp[oc]
                        let crow = cp + on * hw, orow = op + on * hw
                        let z = pz.map { $0 + noise.pointerOffset(sample: nn, pixels: hw) }
                        Self.activate(crow, z, dcoef: dc, strength: strength, bias: b, alpha: alpha, gain: gain, clamp: clamp,
                                      orow, count: hw)
                    }
                }
            }
        }
        return (out, Cache(x: x, styles: styles, dcoefs: dcoefs, out: out, noise: noise))
    }

    /// `out[q] = clamp(lrelu((c[q]·dcoef + z[q]·strength) + bias)·gain)` (`z` nil: no noise term),
    /// 8 wide; `out` may be `c`. The same operations in the same order as the scalar tail.
    @inline(__always)
    static func activate(_ c: UnsafePointer<Float>, _ z: UnsafePointer<Float>?, dcoef dc: Float, strength: Float, bias b: Float,
                         alpha: Float, gain: Float, clamp: Float, _ out: UnsafeMutablePointer<Float>, count: Int) {
        let rc = UnsafeRawPointer(c), ro = UnsafeMutableRawPointer(out)
        let lo = SIMD8<Float>(repeating: -clamp), hi = SIMD8<Float>(repeating: clamp)
        var q = 0
        while q + 8 <= count {
            var v = rc.loadUnaligned(fromByteOffset: 4 * q, as: SIMD8<Float>.self) * dc
            if let z { v += UnsafeRawPointer(z).loadUnaligned(fromByteOffset: 4 * q, as: SIMD8<Float>.self) * strength }
            v += b
            var a = v * alpha
            a.replace(with: v, where: v .> 0)
            a *= gain
            // max(·, −clamp) then min(·, clamp), as the scalar tail (pointwiseMin/Max are not
            // specialised and cost more than the rest of the loop).
            if clamp < .infinity {
                a.replace(with: lo, where: a .< lo)
                a.replace(with: hi, where: a .> hi)
            }
            ro.storeBytes(of: a, toByteOffset: 4 * q, as: SIMD8<Float>.self)
            q += 8
        }
        while q < count {
            let v = z.map { (c[q] * dc + $0[q] * strength) + b } ?? c[q] * dc + b
            out[q] = Swift.min(Swift.max((v > 0 ? v : v * alpha) * gain, -clamp), clamp)
            q += 1
        }
    }

    /// From the layer output `y`: `g[q] ← g[q]·lrelu'·gain` (0 where `|y| ≥ clamp`) in place and
    /// `conv[q] = y[q]·(1/slope) − bias − z[q]·strength` (the demodulated convolution), 8 wide;
    /// the scalar tail does the same operations in the same order.
    @inline(__always)
    static func activationGradient(_ g: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, _ z: UnsafePointer<Float>?,
                                   strength: Float, bias b: Float, gain: Float, slopeNeg: Float, invPos: Float, invNeg: Float,
                                   clamp: Float, conv cd: UnsafeMutablePointer<Float>, count: Int) {
        let rg = UnsafeMutableRawPointer(g), ry = UnsafeRawPointer(y), rc = UnsafeMutableRawPointer(cd)
        let zero = SIMD8<Float>(), gainV = SIMD8<Float>(repeating: gain), invPosV = SIMD8<Float>(repeating: invPos)
        var q = 0
        while q + 8 <= count {
            let yv = ry.loadUnaligned(fromByteOffset: 4 * q, as: SIMD8<Float>.self)
            let pos = yv .> 0
            var slope = SIMD8<Float>(repeating: slopeNeg), inv = SIMD8<Float>(repeating: invNeg)
            slope.replace(with: gainV, where: pos)
            inv.replace(with: invPosV, where: pos)
            var gq = rg.loadUnaligned(fromByteOffset: 4 * q, as: SIMD8<Float>.self) * slope
            if clamp < .infinity { gq.replace(with: zero, where: (yv .>= clamp) .| (yv .<= -clamp)) }
            rg.storeBytes(of: gq, toByteOffset: 4 * q, as: SIMD8<Float>.self)
            var c = yv * inv - b
            if let z { c -= UnsafeRawPointer(z).loadUnaligned(fromByteOffset: 4 * q, as: SIMD8<Float>.self) * strength }
            rc.storeBytes(of: c, toByteOffset: 4 * q, as: SIMD8<Float>.self)
            q += 8
        }
        while q < count {
            let yq = y[q], pos = yq > 0
            let gq = g[q] * (pos ? gain : slopeNeg)
            g[q] = Swift.abs(yq) >= clamp ? 0 : gq
            var c = yq * (pos ? invPos : invNeg) - b
            if let z { c -= z[q] * strength }
            cd[q] = c
            q += 1
        }
    }

    struct Gradients {
        var x: FeatureMap          // [I, N, H, W]
        var w: Tensor              // [N, wDim]
        /// `[N·R·R]` per sample (nil without noise or when not needed).
        var noise: [Float]?
        var parameters: [String: Tensor]?
    }

    /// Backward given `∂L/∂out` `[O, N, R, R]`, which it consumes (overwrites). The cache is
    /// handed over: its output map is dropped once the activation gradient has read it, before
    /// the convolution's backward allocates `∂x` (if nobody else holds it, a map fewer at the peak).
    func backward(gradOut g: FeatureMap, cache: consuming Cache, w: Tensor, needNoise: Bool, needWeights: Bool) -> Gradients {
        let x = cache.x, styles = cache.styles, dcoefs = cache.dcoefs, layerNoise = cache.noise
        var y: FeatureMap? = cache.out
        _ = consume cache
        let o = conv.outChannels, n = g.batch, hw = resolution * resolution
        let strength = noiseStrength, clamp = convClamp ?? .infinity, alpha = self.alpha, gain = actGain
        var gradBias = [Float](repeating: 0, count: o)
        var gradDcoefs = Tensor.zeros([n, o])
        let hasNoise = !layerNoise.isNone
        let wantNoiseSums = hasNoise && (needNoise || needWeights)
        var noiseSums = [Float](repeating: 0, count: wantNoiseSums ? n * hw : 1)   // Σ_o ∂v
        dcoefs.withUnsafeBufferPointer { pd in
            bias.withUnsafeBufferPointer { pb in
                gradDcoefs.withUnsafeMutableBufferPointer { pgd in
                    gradBias.withUnsafeMutableBufferPointer { pgb in
                        layerNoise.withUnsafePointer { pz in
                            let gp = g.pointer, yp = y!.pointer, dp = pd.baseAddress!
                            let bp = pb.baseAddress!, gdp = pgd.baseAddress!, gbp = pgb.baseAddress!
                            // ∂v = ∂out · gain · lrelu'(v) (0 where clamped); per (o, n):
                            // Σ ∂v → ∂bias, Σ ∂v·conv → ∂dcoefs, with v recovered from the output
                            // y (v = y/gain for y > 0, y/(gain·α) otherwise) and
                            // conv·dcoefs = (v − bias) − noise·strength.
                            Parallel.forEach(o, minChunk: max(1, 16384 / (n * hw))) { oc in
                                var sb: Float = 0
                                let b = bp[oc], slopeNeg = gain * alpha
                                let invPos = 1 / gain, invNeg = 1 / slopeNeg
                                withScratch(hw) { cd in
                                    for nn in 0..<n {
                                        let off = (oc * n + nn) * hw
                                        let grow = gp + off, yrow = yp + off
                                        let z = pz.map { $0 + layerNoise.pointerOffset(sample: nn, pixels: hw) }
                                        Self.activationGradient(grow, y: yrow, z, strength: strength, bias: b, gain: gain,
                                                                slopeNeg: slopeNeg, invPos: invPos, invNeg: invNeg, clamp: clamp,
                                                                conv: cd, count: hw)
                                        sb += vSum(grow, hw)
                                        gdp[nn * o + oc] = vDot(grow, cd, hw) / dp[nn * o + oc]
                                    }
                                }
                                gbp[oc] = sb
                            }
                            // Σ_o ∂v per pixel (noise gradient), then ∂conv = ∂v · dcoefs, in place.
                            noiseSums.withUnsafeMutableBufferPointer { pns in
                                let nsp = pns.baseAddress!
                                Parallel.forRanges(n * hw, minChunk: 256) { range in
                                    for oc in 0..<o {
                                        let base = gp + oc * n * hw
                                        if wantNoiseSums {
                                            for q in range { nsp[q] += base[q] }
                                        }
                                        var q = range.lowerBound
                                        while q < range.upperBound {
                                            let nn = q / hw, end = Swift.min(range.upperBound, (nn + 1) * hw)
                                            vScale(base + q, dp[nn * o + oc], base + q, end - q)
                                            q = end
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        y = nil
        let back = conv.convolveBackward(gradOut: g, x: x, styles: styles, needWeight: needWeights)
        var gs = back.gradStyles, gw = back.gradWeight
        conv.demodulationBackward(styles: styles, dcoefs: dcoefs, gradDcoefs: gradDcoefs,
                                  gradStyles: &gs, gradWeight: &gw)
        let (gwIn, gA, gAb) = affine.linearBackward(gradOut: gs, x: w, needParameters: needWeights)
        var params: [String: Tensor]? = nil
        if needWeights {
            var p = [String: Tensor]()
            let prefix = "synthesis." + name
            p[prefix + ".weight"] = gw!
            p[prefix + ".bias"] = Tensor(shape: [o], data: gradBias)
            p[prefix + ".affine.weight"] = gA!
            p[prefix + ".affine.bias"] = gAb!
            var gStrength: Double = 0
            if hasNoise {
                layerNoise.withUnsafePointer { pz in
                    for q in 0..<(n * hw) {
                        gStrength += Double(noiseSums[q]) * Double(pz![layerNoise.pointerOffset(sample: q / hw, pixels: hw) + q % hw])
                    }
                }
            }
            p[prefix + ".noise_strength"] = Tensor(shape: [], data: [Float(gStrength)])
            params = p
        }
        let gNoise: [Float]? = needNoise && hasNoise ? noiseSums.map { $0 * strength } : nil
        return Gradients(x: back.gradX, w: gwIn, noise: gNoise, parameters: params)
    }
}
