import XCTest
import LatentTensor
import LatentModels
import LatentInversion
import LatentFormats
import _TestSupport

/// PTI's generator tuning on a tiny random generator: the objective's weight gradients (image L2
/// plus the locality regulariser) against central differences of the Double reference, the loss
/// going down, frozen layers untouched, and the weight delta file.
final class PivotalTuningTests: XCTestCase {
    let config = StyleGAN2Config(zDim: 4, wDim: 5, imgResolution: 8, imgChannels: 3, mappingLayers: 2,
                                 channelBase: 24, channelMax: 5)   // b4: 5 channels, b8: 3 channels

    func testObjectiveGradientsMatchCentralDifferences() throws {
        let (g0, params) = try tinyRandomGenerator(seed: 41, config: config)
        var rng = TestRNG(seed: 42)
        // A tuned generator that differs from the base, so the regulariser's term is not flat zero.
        var updates = [String: Tensor]()
        for name in g0.replaceableParameterNames { updates[name] = params[name]! + rng.tensor(params[name]!.shape, -0.3, 0.3) }
        let G = try g0.replacingParameters(updates)
        let n = 2
        let pivots = rng.tensor([n, G.numWs, G.wDim], -1, 1)
        let targets = rng.tensor([n, 3, 8, 8], -1, 1)
        var zr = NumpyRandomState(seed: 7)
        let regWs = localityCodes(base: g0, pivots: pivots, alpha: 2, truncationPsi: 0.5, rng: &zr)
        let lambda: Float = 0.5
        let names = G.replaceableParameterNames
        let obj = try tuningObjective(generator: G, base: g0, pivots: pivots, targets: targets, mask: nil, loss: PixelL2Loss(),
                                      regularizerWs: regWs, localityWeight: lambda, names: names)

        var tunedParams = params
        for (k, v) in updates { tunedParams[k] = v }
        let ref = ReferenceSynthesis(config: config, parameters: tunedParams)
        let baseRef = ReferenceSynthesis(config: config, parameters: params)
        let constNoise = G.constNoise.maps.mapValues { $0.doubles }
        let per = Double(3 * 8 * 8)
        let oldReg = baseRef.image(ws: regWs.doubles, batch: n, noise: [:])
        func total(_ r: ReferenceSynthesis) -> Double {
            let img = r.image(ws: pivots.doubles, batch: n, noise: constNoise)
            let l2 = zip(img, targets.doubles).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / per
            let reg = zip(r.image(ws: regWs.doubles, batch: n, noise: [:]), oldReg).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / per
            return l2 + Double(lambda) * reg
        }
        XCTAssertEqual(obj.total, total(ref), accuracy: 1e-4 * abs(total(ref)))
        for name in names {
            let gw = try XCTUnwrap(obj.gradients[name])
            let count = gw.count
            var analytic = [Float](), numeric = [Double]()
            for i in Array(Set([0, count / 2, count - 1, (count * 7) / 11])).sorted() {
                var r = ref
                let v0 = r.params[name]![i], h = 1e-6
                r.params[name]![i] = v0 + h; let fp = total(r)
                r.params[name]![i] = v0 - h; let fm = total(r)
                analytic.append(gw[flat: i]); numeric.append((fp - fm) / (2 * h))
            }
            let scale = numeric.reduce(0) { max($0, abs($1)) }
            XCTAssertGreaterThan(scale, 1e-8, "\(name): gradient trivially zero")
            for (a, b) in zip(analytic, numeric) {
                XCTAssertEqual(Double(a), b, accuracy: 2e-4 * max(scale, 1e-2) + 1e-4 * abs(b), name)
            }
        }
    }

    func testTuningLowersTheLossAndLeavesFrozenLayersAlone() throws {
        let (base, _) = try tinyRandomGenerator(seed: 43, config: config)
        var rng = TestRNG(seed: 44)
        let pivots = rng.tensor([1, base.numWs, base.wDim], -1, 1)
        let targets = rng.tensor([1, 3, 8, 8], -0.5, 0.5)
        var o = PivotalTuningOptions()
        o.numSteps = 40; o.learningRate = 1e-2; o.layers = ["b8.conv1"]; o.earlyStop = nil; o.localityAlpha = 2
        let r = try tuneGenerator(base: base, pivots: pivots, targets: targets, loss: PixelL2Loss(), options: o)
        XCTAssertEqual(r.stepsRun, 40)
        XCTAssertLessThan(r.lossHistory.last!, 0.8 * r.lossHistory.first!, "loss \(r.lossHistory.first!) → \(r.lossHistory.last!)")
        XCTAssertEqual(r.delta.layers, ["synthesis.b8.conv1.bias", "synthesis.b8.conv1.weight"])
        for (name, t) in base.parameters {
            if name.hasPrefix("synthesis.b8.conv1.weight") || name.hasPrefix("synthesis.b8.conv1.bias") {
                XCTAssertNotEqual(r.generator.parameters[name], t, "\(name) should be tuned")
            } else {
                XCTAssertEqual(r.generator.parameters[name], t, "\(name) must stay frozen")
            }
        }
        // The tuned generator reproduces the target better than the base.
        let before = try PixelL2Loss().evaluate(reconstruction: base.synthesis(ws: pivots), target: targets).loss[0]
        let after = try PixelL2Loss().evaluate(reconstruction: r.generator.synthesis(ws: pivots), target: targets).loss[0]
        XCTAssertLessThan(after, before)
        // Rank-2 tuning: the factors are what is stored, and re-applying them gives the same generator.
        o.layers = nil
        let lr = try tuneGenerator(base: base, pivots: pivots, targets: targets, loss: PixelL2Loss(), options: o, rank: 2, halfPrecision: true)
        XCTAssertLessThan(lr.lossHistory.last!, 0.8 * lr.lossHistory.first!)
        XCTAssertEqual(lr.delta.rank, 2)
        XCTAssertTrue(lr.delta.halfPrecision)
        guard case .lowRank(let left, let right, _)? = lr.delta.differences["synthesis.b8.conv0.weight"] else {
            return XCTFail("weights should be stored as factors")
        }
        XCTAssertEqual(left.shape, [3, 2]); XCTAssertEqual(right.shape, [2, 45])
        let back = try GeneratorDelta.decode(data: try lr.delta.encoded(), name: "mem").applied(to: base)
        XCTAssertEqual(back.parameters, lr.generator.parameters)
        // A rank whose factors would outweigh the difference ([3, 45]: 3 · (3 + 45) ≥ 135) tunes it in full.
        o.numSteps = 2
        let wide = try tuneGenerator(base: base, pivots: pivots, targets: targets, loss: PixelL2Loss(), options: o, rank: 3)
        guard case .full? = wide.delta.differences["synthesis.b8.conv0.weight"] else { return XCTFail("a narrow layer stores its full difference") }
        XCTAssertEqual(wide.delta.rank, 3)
        XCTAssertEqual(try GeneratorDelta.decode(data: try wide.delta.encoded(), name: "mem").applied(to: base).parameters, wide.generator.parameters)
        // An unknown layer is refused.
        o.layers = ["b16.conv0"]
        XCTAssertThrowsError(try tuneGenerator(base: base, pivots: pivots, targets: targets, loss: PixelL2Loss(), options: o))
    }

    func testDeltaRoundTripIsBitExactAndLowRankIsBestApproximation() throws {
        let (base, params) = try tinyRandomGenerator(seed: 45, config: config)
        var rng = TestRNG(seed: 46)
        var tuned = [String: Tensor]()
        for name in base.replaceableParameterNames { tuned[name] = params[name]! + rng.tensor(params[name]!.shape, -0.1, 0.1) }
        for (rank, half) in [(nil, false), (1, false), (2, false), (nil, true), (2, true)] as [(Int?, Bool)] {
            var delta = try GeneratorDelta(base: base, tuned: tuned, rank: rank)
            if half { delta = delta.roundedToHalf() }
            let bytes = try delta.encoded()
            let back = try GeneratorDelta.decode(data: bytes, name: "mem")
            XCTAssertEqual(back, delta, "rank \(String(describing: rank))")
            XCTAssertEqual(try back.encoded(), bytes)
            let g1 = try delta.applied(to: base), g2 = try back.applied(to: base)
            XCTAssertEqual(g1.parameters, g2.parameters)
            XCTAssertEqual(g1.fingerprint, g2.fingerprint)
            XCTAssertNotEqual(g1.fingerprint, base.fingerprint)
            XCTAssertEqual(g1.synthesis(ws: rng.tensor([1, base.numWs, base.wDim])).count, 3 * 64)
        }
        // Full: base + delta within float rounding of the tuned weights; rank ≥ min(O, I·9) exact
        // up to rounding; lower ranks are the best approximation (error = the dropped singular values).
        let full = try GeneratorDelta(base: base, tuned: tuned).applied(to: base)
        let exact = try GeneratorDelta(base: base, tuned: tuned, rank: 5).applied(to: base)
        for name in tuned.keys {
            assertClose(full.parameters[name]!, tuned[name]!, atol: 1e-6, rtol: 1e-6, name)
            assertClose(exact.parameters[name]!, tuned[name]!, atol: 1e-5, rtol: 1e-5, name)
        }
        let w = "synthesis.b4.conv1.weight"   // [5, 5, 3, 3]
        let d = tuned[w]! - params[w]!
        let r1 = try XCTUnwrap(try GeneratorDelta(base: base, tuned: tuned, rank: 1).dense(w))
        // ‖D − D₁‖² = ‖D‖² − σ₁², and σ₁² is the largest eigenvalue of D·Dᵀ.
        let o = 5, k = 45
        var gram = [Double](repeating: 0, count: o * o)
        for a in 0..<o { for b in 0..<o { for c in 0..<k { gram[a * o + b] += Double(d.storage[a * k + c]) * Double(d.storage[b * k + c]) } } }
        let sigma1sq = try symmetricEigen(gram, n: o).values[0]
        let norm2 = d.storage.reduce(0) { $0 + Double($1) * Double($1) }
        let err2 = zip(d.storage, r1.storage).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        XCTAssertEqual(err2, norm2 - sigma1sq, accuracy: 1e-4 * norm2)
    }

    func testDeltaForAnotherBaseIsRefused() throws {
        let (base, params) = try tinyRandomGenerator(seed: 47, config: config)
        let (other, _) = try tinyRandomGenerator(seed: 48, config: config)
        var tuned = [String: Tensor]()
        tuned["synthesis.b8.conv0.weight"] = params["synthesis.b8.conv0.weight"]! * 1.01
        let delta = try GeneratorDelta(base: base, tuned: tuned)
        XCTAssertThrowsError(try delta.applied(to: other)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(base.fingerprint) && text.contains(other.fingerprint), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
        XCTAssertThrowsError(try GeneratorDelta.decode(data: try encodeSafeTensors([("x", Tensor.zeros([2]))]), name: "x.safetensors"))
    }
}
