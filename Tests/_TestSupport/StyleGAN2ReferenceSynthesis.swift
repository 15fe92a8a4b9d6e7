import Foundation
import LatentTensor
import LatentModels

/// A naive double-precision StyleGAN2 synthesis network written straight from the reference
/// formulas (`SynthesisLayer`, `ToRGBLayer`, `SynthesisBlock` 'skip', gains applied at run time),
/// built on `modulatedConv2dReference` and `upfirdn2dReferenceDouble`. Used for fast-vs-reference
/// comparisons and as the function finite differences are taken of (the generator's tests and
/// the text-edit gradient tests).
public struct ReferenceSynthesis {
    public let config: StyleGAN2Config
    /// Raw parameters by official name.
    public var params: [String: [Double]]
    let filter = setupFilter([1, 3, 3, 1])

    public init(config: StyleGAN2Config, parameters: [String: Tensor]) {
        self.config = config
        self.params = parameters.mapValues { $0.doubles }
    }

    /// - Parameters:
    ///   - ws: flat `[N, numWs, wDim]`.
    ///   - noise: per layer name, flat `[R·R]` (shared) or `[N·R·R]`; a missing layer has no noise.
    ///   - afterBlock: sees (and may replace) each block's output features `[N, C, res, res]` and
    ///     skip image `[N, imgChannels, res, res]` (flat), given the block resolution: the hook
    ///     the feature-blending reference uses.
    /// - Returns: flat `[N, imgChannels, R, R]`.
    public func image(ws: [Double], batch n: Int, noise: [String: [Double]],
                      afterBlock: ((Int, inout [Double], inout [Double]) -> Void)? = nil) -> [Double] {
        let c = config, numWs = c.numWs, wDim = c.wDim
        func wRow(_ idx: Int) -> [Double] {
            var r = [Double]()
            for s in 0..<n {
                let start: Int = (s * numWs + idx) * wDim
                r.append(contentsOf: ws[start ..< start + wDim])
            }
            return r
        }
        func affine(_ prefix: String, _ w: [Double]) -> [Double] {
            let a = params[prefix + ".affine.weight"]!, b = params[prefix + ".affine.bias"]!
            let out = b.count, gain = 1 / Double(wDim).squareRoot()
            var s = [Double](repeating: 0, count: n * out)
            for r in 0..<n { for o in 0..<out {
                var acc = 0.0
                for j in 0..<wDim { acc += w[r * wDim + j] * a[o * wDim + j] * gain }
                s[r * out + o] = acc + b[o]
            } }
            return s
        }
        func act(_ v: Double) -> Double {
            var y = (v > 0 ? v : 0.2 * v) * 2.0.squareRoot()
            if let cl = c.convClamp { y = min(max(y, -Double(cl)), Double(cl)) }
            return y
        }
        var x = [Double](), img = [Double](), xc = 0, xr = 0
        var wi = 0
        for res in c.blockResolutions {
            let p = "synthesis.b\(res)", out = c.channels(at: res)
            if res == 4 {
                let k = params[p + ".const"]!
                x = (0..<n).flatMap { _ in k }
                xc = out; xr = 4
            }
            for name in (res == 4 ? ["conv1"] : ["conv0", "conv1"]) {
                let q = p + "." + name
                let up = name == "conv0" ? 2 : 1
                let styles = affine(q, wRow(wi))
                let strength = params[q + ".noise_strength"]![0]
                let nz = noise["b\(res).\(name)"].map { $0.map { $0 * strength } }
                let y = modulatedConv2dReference(x: x, shape: [n, xc, xr, xr], weight: params[q + ".weight"]!,
                                                 weightShape: [out, xc, 3, 3], styles: styles, noise: nz, up: up,
                                                 padding: 1, resampleFilter: filter, demodulate: true)
                let b = params[q + ".bias"]!, hw = res * res
                x = y.enumerated().map { act($0.element + b[($0.offset / hw) % out]) }
                xc = out; xr = res; wi += 1
            }
            // ToRGB (reads the next row without advancing, except after the last block).
            var styles = affine(p + ".torgb", wRow(wi))
            styles = styles.map { $0 / Double(out).squareRoot() }
            let y = modulatedConv2dReference(x: x, shape: [n, out, res, res], weight: params[p + ".torgb.weight"]!,
                                             weightShape: [c.imgChannels, out, 1, 1], styles: styles, up: 1, padding: 0,
                                             demodulate: false)
            let b = params[p + ".torgb.bias"]!, hw = res * res
            var rgb = y.enumerated().map { $0.element + b[($0.offset / hw) % c.imgChannels] }
            if let cl = c.convClamp { rgb = rgb.map { min(max($0, -Double(cl)), Double(cl)) } }
            if !img.isEmpty {
                let upImg = upfirdn2dReferenceDouble(img, shape: [n, c.imgChannels, res / 2, res / 2], filter: filter, up: 2,
                                                     padding: (2, 1, 2, 1), gain: 4)
                img = zip(upImg, rgb).map { $0 + $1 }
            } else {
                img = rgb
            }
            afterBlock?(res, &x, &img)
        }
        return img
    }
}

/// A random generator of a tiny config (every term non-trivial: biases, noise strengths, w_avg).
public func tinyRandomGenerator(seed: UInt64, config: StyleGAN2Config) throws -> (StyleGAN2Generator, [String: Tensor]) {
    var rng = TestRNG(seed: seed)
    var params = [String: Tensor]()
    // Sorted: a Dictionary's order changes from process to process (seeded hashing), and the
    // same seed must give the same generator in every run.
    for (name, shape) in StyleGAN2Generator.expectedShapes(config: config).sorted(by: { $0.key < $1.key }) {
        if name.hasSuffix("resample_filter") { params[name] = setupFilter([1, 3, 3, 1]); continue }
        if name.hasSuffix("affine.bias") { params[name] = rng.tensor(shape, 0.5, 1.5); continue }
        if name.hasSuffix("noise_strength") { params[name] = rng.tensor(shape, 0.2, 0.6); continue }
        params[name] = rng.tensor(shape, -1, 1)
    }
    return (try StyleGAN2Generator(config: config, parameters: params, source: "tiny-random"), params)
}
