import Foundation
import LatentTensor

/// Unit-normalised LPIPS features of a batch of images (the five taps, each `[N, C_k, H_k, W_k]`),
/// for comparing many reconstructions against one fixed target without re-running its tower.
public struct LPIPSFeatures: Sendable, Equatable {
    public let net: LPIPSNet
    /// The images' shape `[N, 3, H, W]`.
    public let imageShape: [Int]
    /// `f / (‖f‖₂ + 1e-10)` over channels, per tap.
    public let normalized: [Tensor]
}

extension LPIPS {
    /// What the backward needs from one tower run: each conv's input, each ReLU's output, each
    /// max pool's argmax indices and input shape.
    struct Trace {
        var convInputs: [Int: Tensor] = [:]
        var reluOutputs: [Int: Tensor] = [:]
        var poolIndices: [Int: (indices: [Int32], inputShape: [Int])] = [:]
    }

    /// Checks `[N, 3, H, W]` and that every layer of the tower has a non-empty output.
    func validateInput(_ x: Tensor, name: String) throws {
        guard x.rank == 4, x.shape[1] == 3, x.shape[0] > 0 else {
            throw ImageInputError(name, "LPIPS needs RGB images [N, 3, H, W], got \(x.shape)")
        }
        guard x.isFinite else { throw ImageInputError(name, "contains NaN or infinity") }
        var (h, w) = (x.shape[2], x.shape[3])
        for op in Self.ops(net) {
            switch op {
            case let .conv(index, stride, padding):
                let k = convWeights[index]!.shape[2]
                guard h + 2 * padding >= k, w + 2 * padding >= k else {
                    throw ImageInputError(name, "\(x.shape[2])×\(x.shape[3]) images are too small for LPIPS-\(net.rawValue) (features.\(index))")
                }
                (h, w) = ((h + 2 * padding - k) / stride + 1, (w + 2 * padding - k) / stride + 1)
            case let .maxPool(kernel, stride):
                guard h >= kernel, w >= kernel else {
                    throw ImageInputError(name, "\(x.shape[2])×\(x.shape[3]) images are too small for LPIPS-\(net.rawValue) (a \(kernel)×\(kernel) max pool)")
                }
                (h, w) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1)
            case .relu, .tap: break
            }
        }
    }

    /// ScalingLayer: `(x − shift) / scale` per channel.
    func scaled(_ x: Tensor) -> Tensor {
        var y = x
        let plane = x.shape[2] * x.shape[3]
        y.withUnsafeMutableBufferPointer { p in
            for n in 0..<x.shape[0] { for c in 0..<3 {
                let base = (n * 3 + c) * plane, sh = Self.shift[c], sc = Self.scale[c]
                for i in 0..<plane { p[base + i] = (p[base + i] - sh) / sc }
            } }
        }
        return y
    }

    /// The raw ReLU taps of the tower for scaled input `x`, and the trace when `keepTrace`.
    func tower(_ x: Tensor, keepTrace: Bool) -> (taps: [Tensor], trace: Trace?) {
        var h = x
        var taps = [Tensor]()
        var trace = keepTrace ? Trace() : nil
        for (i, op) in Self.ops(net).enumerated() {
            switch op {
            case let .conv(index, stride, padding):
                trace?.convInputs[i] = h
                h = conv2d(h, weight: convWeights[index]!, bias: convBiases[index]!, stride: stride, padding: padding)
            case .relu:
                h.withUnsafeMutableBufferPointer { p in
                    let base = p.baseAddress!
                    Parallel.forRanges(p.count, minChunk: 65_536) { r in
                        for j in r where !(base[j] > 0) { base[j] = 0 }
                    }
                }
                trace?.reluOutputs[i] = h
            case let .maxPool(kernel, stride):
                let r = maxPool2d(h, kernel: kernel, stride: stride)
                trace?.poolIndices[i] = (r.indices, h.shape)
                h = r.output
            case .tap:
                taps.append(h)
            }
        }
        return (taps, trace)
    }

    /// Backward of `tower` from gradients at the taps to the gradient at its (scaled) input.
    func towerBackward(tapGradients: [Tensor], trace: Trace) -> Tensor {
        var g: Tensor? = nil
        var tap = tapGradients.count
        let ops = Self.ops(net)
        for i in stride(from: ops.count - 1, through: 0, by: -1) {
            switch ops[i] {
            case .tap:
                tap -= 1
                if var acc = g {
                    let t = tapGradients[tap]
                    acc.withUnsafeMutableBufferPointer { pa in t.withUnsafeBufferPointer { pt in
                        for j in 0..<pa.count { pa[j] += pt[j] }
                    } }
                    g = acc
                } else {
                    g = tapGradients[tap]
                }
            case .relu:
                let out = trace.reluOutputs[i]!
                g!.withUnsafeMutableBufferPointer { pg in out.withUnsafeBufferPointer { po in
                    let gp = pg.baseAddress!, op = po.baseAddress!
                    Parallel.forRanges(pg.count, minChunk: 65_536) { r in
                        for j in r where !(op[j] > 0) { gp[j] = 0 }
                    }
                } }
            case let .conv(index, stride, padding):
                g = conv2dBackward(gradOutput: g!, x: trace.convInputs[i]!, weight: convWeights[index]!,
                                   stride: stride, padding: padding, needInput: true, needWeight: false, needBias: false).gradInput!
            case .maxPool:
                let p = trace.poolIndices[i]!
                g = maxPool2dBackward(gradOutput: g!, indices: p.indices, inputShape: p.inputShape)
            }
        }
        return g!
    }

    /// `f / (‖f‖₂ + eps)` over the channels of a `[N, C, H, W]` tap.
    static func normalizeTap(_ f: Tensor) -> Tensor {
        let (n, c, plane) = (f.shape[0], f.shape[1], f.shape[2] * f.shape[3])
        var out = f
        f.withUnsafeBufferPointer { pf in out.withUnsafeMutableBufferPointer { po in
            let fp = pf.baseAddress!, op = po.baseAddress!
            Parallel.forEach(n) { img in
                var ss = [Double](repeating: 0, count: plane)
                let base = img * c * plane
                for ch in 0..<c { for p in 0..<plane { let v = Double(fp[base + ch * plane + p]); ss[p] += v * v } }
                let inv = ss.map { 1 / ($0.squareRoot() + LPIPS.eps) }
                for ch in 0..<c { for p in 0..<plane { op[base + ch * plane + p] = Float(Double(fp[base + ch * plane + p]) * inv[p]) } }
            }
        } }
        return out
    }

    /// Unit-normalised features of images `x` `[N, 3, H, W]` in [-1, 1].
    public func features(_ x: Tensor) throws -> LPIPSFeatures {
        try validateInput(x, name: "x")
        let taps = tower(scaled(x), keepTrace: false).taps
        return LPIPSFeatures(net: net, imageShape: x.shape, normalized: taps.map(Self.normalizeTap))
    }

    /// Per-image LPIPS distance between `x0` and `x1`, `[N, 3, H, W]` in [-1, 1]: `[N]`.
    public func distance(_ x0: Tensor, _ x1: Tensor) throws -> [Float] {
        try distance(x0, target: features(x1)).distance
    }

    /// Per-image distance and its gradient with respect to `x0` (of the summed distances).
    public func distanceAndGradient(_ x0: Tensor, _ x1: Tensor, mask: Tensor? = nil) throws -> (distance: [Float], gradX0: Tensor) {
        let r = try distance(x0, target: features(x1), mask: mask, wantGradient: true)
        return (r.distance, r.gradient!)
    }

    /// Distance of `x0` to precomputed target features; with `wantGradient`, also d(Σ distance)/d x0.
    ///
    /// - Parameter mask: optional `[N or 1, 1, H, W]` in [0, 1]: the spatial mean of every tap
    ///   becomes a mask-weighted mean, the mask resized to the tap's grid by adaptive average
    ///   pooling (PyTorch's bins). A mask of ones gives plain LPIPS. Features still see the whole
    ///   image (receptive fields cross the mask border).
    public func distance(_ x0: Tensor, target: LPIPSFeatures, mask: Tensor? = nil,
                         wantGradient: Bool = false) throws -> (distance: [Float], gradient: Tensor?) {
        try validateInput(x0, name: "x0")
        guard target.net == net, target.imageShape == x0.shape else {
            throw ImageInputError("target", "features of LPIPS-\(target.net.rawValue) \(target.imageShape) images do not match LPIPS-\(net.rawValue) \(x0.shape)")
        }
        let s = ImagePairShape(n: x0.shape[0], c: 3, h: x0.shape[2], w: x0.shape[3])
        let pixelMask = try mask.map { try PixelMask($0, shape: s) }
        let (taps, trace) = tower(scaled(x0), keepTrace: wantGradient)
        var dist = [Double](repeating: 0, count: s.n)
        var tapGrads = [Tensor]()
        for k in 0..<taps.count {
            let f = taps[k], f1 = target.normalized[k]
            let (c, th, tw) = (f.shape[1], f.shape[2], f.shape[3])
            let plane = th * tw
            let weights = pixelMask.map { adaptiveMaskWeights($0, images: s.n, h: s.h, w: s.w, outH: th, outW: tw) }
            let lin = linWeights[k].storage.map(Double.init)
            var g = wantGradient ? Tensor.zeros(f.shape) : Tensor.zeros([0])
            var perImage = [Double](repeating: 0, count: s.n)
            f.withUnsafeBufferPointer { pf in f1.withUnsafeBufferPointer { p1 in g.withUnsafeMutableBufferPointer { pg in
                // An empty array's base address need not be nil: gate on the flag, never on the pointer.
                let fp = pf.baseAddress!, tp = p1.baseAddress!, gp = wantGradient ? pg.baseAddress : nil
                perImage.withUnsafeMutableBufferPointer { pd in
                    let dp = pd.baseAddress!
                    Parallel.forEach(s.n) { img in
                        let base = img * c * plane
                        var ss = [Double](repeating: 0, count: plane)
                        for ch in 0..<c { for p in 0..<plane { let v = Double(fp[base + ch * plane + p]); ss[p] += v * v } }
                        let r = ss.map { $0.squareRoot() }
                        let wt: [Double] = weights?[img] ?? [Double](repeating: 1 / Double(plane), count: plane)
                        var total = 0.0
                        var gnf = gp == nil ? [] : [Double](repeating: 0, count: c * plane)
                        var dot = [Double](repeating: 0, count: gp == nil ? 0 : plane)
                        for ch in 0..<c {
                            let lc = lin[ch]
                            for p in 0..<plane {
                                let v = Double(fp[base + ch * plane + p])
                                // Rounded to Float like the stored target, so identical images give exactly 0.
                                let d = Double(Float(v / (r[p] + LPIPS.eps))) - Double(tp[base + ch * plane + p])
                                total += wt[p] * lc * d * d
                                if gp != nil {
                                    let gv = 2 * wt[p] * lc * d
                                    gnf[ch * plane + p] = gv
                                    dot[p] += gv * v
                                }
                            }
                        }
                        dp[img] = total
                        guard let gp else { return }
                        // d(f/(r+ε))/df = I/(r+ε) − f fᵀ/(r (r+ε)²); at r = 0 the second term vanishes
                        // (f = 0 there), where torch's sqrt backward would give NaN.
                        for ch in 0..<c { for p in 0..<plane {
                            let v = Double(fp[base + ch * plane + p])
                            let second = r[p] > 0 ? v * dot[p] / (r[p] * (r[p] + LPIPS.eps) * (r[p] + LPIPS.eps)) : 0
                            gp[base + ch * plane + p] = Float(gnf[ch * plane + p] / (r[p] + LPIPS.eps) - second)
                        } }
                    }
                }
            } } }
            for n in 0..<s.n { dist[n] += perImage[n] }
            if wantGradient { tapGrads.append(g) }
        }
        guard wantGradient, let trace else { return (dist.map(Float.init), nil) }
        var gx = towerBackward(tapGradients: tapGrads, trace: trace)
        // ScalingLayer backward.
        gx.withUnsafeMutableBufferPointer { p in
            for n in 0..<s.n { for c in 0..<3 {
                let base = (n * 3 + c) * s.plane, sc = Self.scale[c]
                for i in 0..<s.plane { p[base + i] /= sc }
            } }
        }
        return (dist.map(Float.init), gx)
    }
}

/// Per image, the mask resized to `[outH, outW]` by adaptive average pooling (bins
/// `[⌊i·H/out⌋, ⌈(i+1)·H/out⌉)`) and normalised to sum 1.
func adaptiveMaskWeights(_ m: PixelMask, images: Int, h: Int, w: Int, outH: Int, outW: Int) -> [[Double]] {
    (0..<images).map { n in
        let off = m.offset(n)
        var out = [Double](repeating: 0, count: outH * outW)
        for oy in 0..<outH {
            let y0 = oy * h / outH, y1 = ((oy + 1) * h + outH - 1) / outH
            for ox in 0..<outW {
                let x0 = ox * w / outW, x1 = ((ox + 1) * w + outW - 1) / outW
                var s = 0.0
                for y in y0..<y1 { for x in x0..<x1 { s += Double(m.values[off + y * w + x]) } }
                out[oy * outW + ox] = s / Double((y1 - y0) * (x1 - x0))
            }
        }
        let total = out.reduce(0, +)
        return out.map { $0 / total }
    }
}
