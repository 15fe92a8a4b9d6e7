import XCTest
import LatentTensor
import LatentModels
import _TestSupport

/// The whole synthesis network on a tiny random config (resolution 8, a few channels): fast
/// forward against the naive double-precision reference, and the backward (ws, noise maps, every
/// parameter tensor) against central differences of that reference.
final class StyleGAN2GradientTests: XCTestCase {
    let config = StyleGAN2Config(zDim: 4, wDim: 5, imgResolution: 8, imgChannels: 3, mappingLayers: 2,
                                 channelBase: 24, channelMax: 5)   // b4: 5 channels, b8: 3 channels

    func testForwardMatchesDoubleReference() throws {
        let (g, params) = try tinyRandomGenerator(seed: 31, config: config)
        var rng = TestRNG(seed: 32)
        let n = 3
        let ws = rng.tensor([n, g.numWs, g.wDim], -1.5, 1.5)
        let ref = ReferenceSynthesis(config: config, parameters: params)
        // .const noise.
        let constNoise = g.constNoise.maps.mapValues { $0.doubles }
        let want = ref.image(ws: ws.doubles, batch: n, noise: constNoise)
        let img = g.synthesis(ws: ws, noiseMode: .const)
        assertClose(img, Tensor(shape: img.shape, data: want.map { Float($0) }), atol: 1e-5, rtol: 1e-5, "const")
        // Per-sample explicit maps on one layer, shared on another, none elsewhere.
        var maps = NoiseMaps()
        maps["b8.conv0"] = rng.tensor([n, 8, 8])
        maps["b4.conv1"] = rng.tensor([4, 4])
        let want2 = ref.image(ws: ws.doubles, batch: n, noise: maps.maps.mapValues { $0.doubles })
        let img2 = g.synthesis(ws: ws, noiseMode: .none, noise: maps)
        assertClose(img2, Tensor(shape: img2.shape, data: want2.map { Float($0) }), atol: 1e-5, rtol: 1e-5, "explicit")
    }

    func testBackwardMatchesFiniteDifferences() throws {
        let (g, params) = try tinyRandomGenerator(seed: 33, config: config)
        var rng = TestRNG(seed: 34)
        let n = 2
        let ws = rng.tensor([n, g.numWs, g.wDim], -1.5, 1.5)
        var maps = NoiseMaps()
        maps["b4.conv1"] = rng.tensor([4, 4])          // shared: gradient summed over the batch
        maps["b8.conv0"] = rng.tensor([n, 8, 8])       // per sample
        maps["b8.conv1"] = rng.tensor([n, 8, 8])
        let r = rng.tensor([n, 3, 8, 8])
        let (_, tape) = g.synthesisForward(ws: ws, noiseMode: .const, noise: maps)
        let grads = g.synthesisBackward(tape: tape, gradImage: r, needNoise: true, needWeights: true)

        let base = ReferenceSynthesis(config: config, parameters: params)
        func loss(_ ref: ReferenceSynthesis, _ wsv: [Double], _ noise: [String: [Double]]) -> Double {
            zip(ref.image(ws: wsv, batch: n, noise: noise), r.doubles).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let noiseD = maps.maps.mapValues { $0.doubles }
        func check(_ label: String, analytic: [Float], numeric: [Double]) {
            let scale = numeric.reduce(0) { max($0, abs($1)) }
            XCTAssertGreaterThan(scale, 1e-6, "\(label): gradient is trivially zero")
            for (a, b) in zip(analytic, numeric) {
                XCTAssertEqual(Double(a), b, accuracy: 2e-4 * max(scale, 1e-3) + 1e-4 * abs(b), label)
            }
        }

        // Every ws entry.
        let nws = numericalGradient(ws.doubles) { loss(base, $0, noiseD) }
        check("ws", analytic: grads.ws.storage, numeric: nws)

        // Noise maps in the layout given.
        let gn = try XCTUnwrap(grads.noise)
        for (name, m) in maps.maps {
            let gm = try XCTUnwrap(gn[name], name)
            XCTAssertEqual(gm.shape, m.shape, "noise gradient layout for \(name)")
            let num = numericalGradient(m.doubles) { v in var d = noiseD; d[name] = v; return loss(base, ws.doubles, d) }
            check("noise \(name)", analytic: gm.storage, numeric: num)
        }

        // Every synthesis parameter tensor, a few entries each.
        let weights = try XCTUnwrap(grads.weights)
        let trainable = params.keys.filter { $0.hasPrefix("synthesis.") && !$0.hasSuffix("resample_filter") && !$0.hasSuffix("noise_const") }
        XCTAssertEqual(Set(weights.keys), Set(trainable))
        for name in trainable.sorted() {
            let gw = try XCTUnwrap(weights[name])
            XCTAssertEqual(gw.shape, params[name]!.shape, name)
            let count = gw.count
            let picks = Array(Set([0, count / 2, count - 1, (count * 7) / 11])).sorted()
            var analytic = [Float](), numeric = [Double]()
            for i in picks {
                let v0 = base.params[name]![i]
                var ref = base
                let h = 1e-6
                ref.params[name]![i] = v0 + h; let fp = loss(ref, ws.doubles, noiseD)
                ref.params[name]![i] = v0 - h; let fm = loss(ref, ws.doubles, noiseD)
                analytic.append(gw[flat: i]); numeric.append((fp - fm) / (2 * h))
            }
            let scale = numeric.reduce(0) { max($0, abs($1)) }
            for (a, b) in zip(analytic, numeric) {
                XCTAssertEqual(Double(a), b, accuracy: 2e-4 * max(scale, 1e-2) + 1e-4 * abs(b), name)
            }
        }
    }

    /// With a clamp active the gradient is zero where the output saturates; the fast path still
    /// matches the reference and finite differences away from the clamp edges.
    func testConvClampForwardAndBackward() throws {
        var cfg = config
        cfg.convClamp = 0.8
        let (g, params) = try tinyRandomGenerator(seed: 35, config: cfg)
        var rng = TestRNG(seed: 36)
        let ws = rng.tensor([1, g.numWs, g.wDim], -1.5, 1.5)
        let ref = ReferenceSynthesis(config: cfg, parameters: params)
        let noise = g.constNoise.maps.mapValues { $0.doubles }
        let want = ref.image(ws: ws.doubles, batch: 1, noise: noise)
        let (img, tape) = g.synthesisForward(ws: ws)
        assertClose(img, Tensor(shape: img.shape, data: want.map { Float($0) }), atol: 1e-5, rtol: 1e-5)
        // The clamp must actually bite somewhere (img sums clamped ToRGB outputs, so it is not
        // itself bounded by 0.8): the unclamped generator gives a different image.
        let unclamped = try StyleGAN2Generator(config: config, parameters: params, source: "tiny-random")
        XCTAssertGreaterThan(maxAbsDiff(unclamped.synthesis(ws: ws), img), 1e-2)
        let r = rng.tensor(img.shape)
        let grads = g.synthesisBackward(tape: tape, gradImage: r, needNoise: false)
        let nws = numericalGradient(ws.doubles, h: 1e-7) { v in
            zip(ref.image(ws: v, batch: 1, noise: noise), r.doubles).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let scale = nws.reduce(0) { max($0, abs($1)) }
        for (a, b) in zip(grads.ws.storage, nws) { XCTAssertEqual(Double(a), b, accuracy: 2e-4 * scale + 1e-4 * abs(b)) }
        XCTAssertNil(grads.noise)
    }
}
