import XCTest
import LatentTensor
import LatentEncoders
import _TestSupport

/// The encoder's fast forward against its naive Double reference, and its backward against
/// central differences of that reference (in Double), on tiny odd-sized configs.
final class EncoderNetworkTests: XCTestCase {
    /// A network with every parameter random in [-0.6, 0.6] (biases and heads included, so every
    /// term matters; the trainer's own initialisation zeroes biases).
    func randomNetwork(_ a: EncoderArchitecture, seed: UInt64) throws -> EncoderNetwork {
        var rng = SplitMix64(seed: seed)
        var params = [String: Tensor]()
        for (name, shape) in a.parameterShapes {
            params[name] = Tensor(shape: shape, generator: { _ in Float(Double(rng.next() >> 11) / 9_007_199_254_740_992.0 * 1.2 - 0.6) })
        }
        return try EncoderNetwork(architecture: a, parameters: params)
    }

    func randomTensor(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, generator: { _ in Float((Double(rng.next() >> 11) / 9_007_199_254_740_992.0 * 2 - 1) * scale) })
    }

    /// Two configs: 8² RGB with one conv per level (stage 2 of 4: one delta head inactive), and
    /// 16² 6-channel (iterative) with no extra convs and a fine head reading the 16² level.
    let configs: [(EncoderArchitecture, stage: Int)] = [
        (EncoderArchitecture(resolution: 8, inputChannels: 3, baseChannels: 3, maxChannels: 5, convsPerLevel: 1, numWs: 4, wDim: 6), 2),
        (EncoderArchitecture(resolution: 16, inputChannels: 6, baseChannels: 2, maxChannels: 7, convsPerLevel: 0, numWs: 6, wDim: 5), 5),
    ]

    /// A random network, input `[n, C, R, R]` and base `[n, numWs, wDim]` for config `a`.
    func fixture(_ a: EncoderArchitecture, n: Int, seed: UInt64) throws -> (EncoderNetwork, Tensor, Tensor) {
        (try randomNetwork(a, seed: seed), randomTensor([n, a.inputChannels, a.resolution, a.resolution], seed: seed + 100),
         randomTensor([n, a.numWs, a.wDim], seed: seed + 200))
    }

    func testForwardMatchesNaiveReference() throws {
        for (k, (a, stage)) in configs.enumerated() {
            let n = 3
            let (net, x, base) = try fixture(a, n: n, seed: 10 + UInt64(k))
            let fast = net.forward(x, base: base, stage: stage).codes
            let ref = EncoderReference(net).codes(input: x.doubles, base: base.doubles, batch: n, stage: stage)
            let refT = Tensor(shape: fast.shape, data: ref.map(Float.init))
            XCTAssertLessThan(relativeError(fast, refT), 2e-5, "config \(k)")
            // Stage matters: with every delta active the codes change.
            if stage < a.numWs - 1 {
                let all = net.forward(x, base: base, stage: a.numWs - 1).codes
                XCTAssertGreaterThan(maxAbsDiff(all, fast), 1e-3)
            }
        }
    }

    func testBackwardMatchesCentralDifferences() throws {
        for (k, (a, stage)) in configs.enumerated() {
            let n = 2
            let (net, x, base) = try fixture(a, n: n, seed: 40 + UInt64(k))
            // L = Σ codes ⊙ gc + Σ deltas ⊙ gd (the regulariser's path).
            let gc = randomTensor([n, a.numWs, a.wDim], seed: 70 + UInt64(k))
            let gd = randomTensor([n, a.numWs, a.wDim], seed: 80 + UInt64(k))
            let out = net.forward(x, base: base, stage: stage)
            let g = net.backward(tape: out.tape, gradCodes: gc, gradDeltas: gd, needInput: true)
            var ref = EncoderReference(net)
            let zeroBase = [Double](repeating: 0, count: base.count)
            // Δ = codes(base 0) − codes(base 0, stage 0) on rows ≥ 1 (row 0 has no delta).
            func loss(_ r: EncoderReference, _ input: [Double]) -> Double {
                let c = r.codes(input: input, base: base.doubles, batch: n, stage: stage)
                let c0 = r.codes(input: input, base: zeroBase, batch: n, stage: 0)
                let cs = r.codes(input: input, base: zeroBase, batch: n, stage: stage)
                var l = 0.0
                for i in 0..<c.count {
                    l += c[i] * Double(gc[flat: i])
                    l += (cs[i] - c0[i]) * Double(gd[flat: i])
                }
                return l
            }
            let eps = 1e-6
            let xd = x.doubles
            for (name, shape) in a.parameterShapes {
                let analytic = g.parameters[name]!
                XCTAssertEqual(analytic.shape, shape)
                var numeric = [Double](repeating: 0, count: analytic.count)
                let orig = ref.parameters[name]!
                for i in 0..<orig.count {
                    ref.parameters[name]![i] = orig[i] + eps
                    let lp = loss(ref, xd)
                    ref.parameters[name]![i] = orig[i] - eps
                    let lm = loss(ref, xd)
                    ref.parameters[name]![i] = orig[i]
                    numeric[i] = (lp - lm) / (2 * eps)
                }
                let num = Tensor(shape: shape, data: numeric.map(Float.init))
                let scale = numeric.map(abs).max() ?? 0
                if let i = Int(name.split(separator: ".")[1].dropFirst("delta".count)), name.hasPrefix("head.delta"), i > stage {
                    XCTAssertEqual(scale, 0, "\(name): an inactive head has no gradient")
                    XCTAssertEqual(analytic.storage.map(abs).max(), 0, "\(name)")
                    continue
                }
                XCTAssertGreaterThan(scale, 0, "\(name): the check must see a gradient")
                XCTAssertLessThan(maxAbsDiff(analytic, num), Float(2e-4 * scale) + 1e-6, "config \(k) \(name)")
            }
            // Input gradient.
            var numeric = [Double](repeating: 0, count: xd.count)
            var xp = xd
            for i in 0..<xd.count {
                xp[i] = xd[i] + eps; let lp = loss(ref, xp)
                xp[i] = xd[i] - eps; let lm = loss(ref, xp)
                xp[i] = xd[i]
                numeric[i] = (lp - lm) / (2 * eps)
            }
            let num = Tensor(shape: x.shape, data: numeric.map(Float.init))
            XCTAssertLessThan(relativeError(g.input!, num), 2e-4, "config \(k) input")
        }
    }

    func testDeltaNormRegularizerGradient() {
        let deltas = randomTensor([3, 5, 7], seed: 90)
        let stage = 3
        let (value, grad) = deltaNormRegularizer(deltas: deltas, stage: stage)
        // Value by definition: rows 1…3 only.
        var expected = 0.0
        for s in 0..<3 { for i in 1...stage {
            expected += (0..<7).map { Double(deltas[s, i, $0]) }.map { $0 * $0 }.reduce(0, +).squareRoot()
        } }
        XCTAssertEqual(value, expected / 3, accuracy: 1e-9)
        let eps = 1e-3
        for i in 0..<deltas.count {
            var p = deltas, m = deltas
            p.storage[i] += Float(eps); m.storage[i] -= Float(eps)
            let num = (deltaNormRegularizer(deltas: p, stage: stage).value - deltaNormRegularizer(deltas: m, stage: stage).value)
                / (Double(p.storage[i]) - Double(m.storage[i]))
            XCTAssertEqual(Double(grad.storage[i]), num, accuracy: 2e-3, "element \(i)")
        }
        // Row 0 and rows above the stage are not regularised.
        XCTAssertEqual(grad[0, 0, 0], 0); XCTAssertEqual(grad[1, 4, 2], 0)
    }

    func testBadArchitectureRefused() {
        XCTAssertThrowsError(try EncoderArchitecture(resolution: 24, numWs: 4, wDim: 8).validate())
        XCTAssertThrowsError(try EncoderArchitecture(resolution: 32, inputChannels: 0, numWs: 4, wDim: 8).validate())
        XCTAssertThrowsError(try EncoderArchitecture(resolution: 32, inputChannels: 300, numWs: 4, wDim: 8).validate())
        XCTAssertThrowsError(try EncoderArchitecture(resolution: 32, baseChannels: 64, maxChannels: 32, numWs: 4, wDim: 8).validate())
        let a = EncoderArchitecture(resolution: 8, baseChannels: 3, maxChannels: 5, numWs: 4, wDim: 6)
        var params = try! EncoderNetwork(architecture: a, seed: 1).parameters
        params["stem.weight"] = Tensor.zeros([5, 3, 3, 3])
        XCTAssertThrowsError(try EncoderNetwork(architecture: a, parameters: params, source: "x.safetensors")) { e in
            XCTAssertEqual("\(e)", "x.safetensors: 'stem.weight' has shape [5, 3, 3, 3], expected [3, 3, 3, 3]")
        }
    }
}
