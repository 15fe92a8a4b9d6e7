import XCTest
import LatentTensor
import _TestSupport

final class BiasActTests: XCTestCase {
    func testDefaultsFollowReferenceTable() {
        XCTAssertEqual(Activation.lrelu.defaultAlpha, 0.2)
        XCTAssertEqual(Activation.lrelu.defaultGain, Float(2).squareRoot())
        XCTAssertEqual(Activation.relu.defaultGain, Float(2).squareRoot())
        for a in [Activation.linear, .tanh, .sigmoid, .gelu, .quickGELU] { XCTAssertEqual(a.defaultGain, 1) }
        // Known values: GELU(1) = Φ(1) = 0.8413447, QuickGELU(1) = σ(1.702) = 0.8457957.
        XCTAssertEqual(Activation.gelu.apply(1, alpha: 0), 0.8413447, accuracy: 1e-6)
        XCTAssertEqual(Activation.quickGELU.apply(1, alpha: 0), 0.8457957, accuracy: 1e-6)
        XCTAssertEqual(Activation.lrelu.apply(-2, alpha: 0.2), -0.4, accuracy: 1e-7)
    }

    func testFastMatchesReference() {
        var rng = TestRNG(seed: 4)
        for act in Activation.allCases {
            for (shape, dim) in [([3, 5, 7, 3], 1), ([7, 13], 1), ([4, 9, 5], 2), ([5, 3, 6], 0)] {
                let x = rng.tensor(shape, -3, 3)
                let b = rng.tensor([shape[dim]])
                for (gain, clamp) in [(Float?.none, Float?.none), (0.7, 0.9)] {
                    let y = biasAct(x, bias: b, activation: act, gain: gain, clamp: clamp, dim: dim)
                    let r = biasActReference(x, bias: b, activation: act, gain: gain, clamp: clamp, dim: dim)
                    assertClose(y, r, atol: 2e-6, rtol: 2e-6, "\(act) \(shape) dim \(dim)")
                }
            }
            let x = rng.tensor([2, 3, 4], -2, 2)
            assertClose(biasAct(x, activation: act, alpha: 0.3), biasActReference(x, activation: act, alpha: 0.3),
                        atol: 2e-6, rtol: 2e-6, "\(act) no bias")
        }
    }

    /// Gradients against central differences of the double-precision definition. Inputs are
    /// kept away from the relu/lrelu kink and from the clamp edges.
    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 6)
        for act in Activation.allCases {
            for clamp in [Float?.none, 1.1] {
                let shape = [2, 3, 4], dim = 1
                let b = rng.tensor([3], -0.2, 0.2)
                // x + b in ±[0.15, 1.5]: away from 0; with clamp 1.1 avoid |y| near 1.1.
                var xs = [Double]()
                while xs.count < 24 {
                    let v = rng.uniform(0.15, 1.5) * (rng.uniform() < 0 ? -1 : 1)
                    let ch = (xs.count / 4) % 3
                    let pre = v + Double(b[ch])
                    if abs(pre) < 0.1 { continue }
                    if let c = clamp {
                        let y = act.applyDouble(pre, alpha: Double(act.defaultAlpha)) * Double(act.defaultGain)
                        if abs(abs(y) - Double(c)) < 0.05 { continue }
                    }
                    xs.append(v)
                }
                let x = Tensor(shape: shape, data: xs.map { Float($0) })
                let r = rng.tensor(shape)
                func loss(_ xv: [Double], _ bv: [Double]) -> Double {
                    var s = 0.0
                    for i in 0..<xv.count {
                        var y = act.applyDouble(xv[i] + bv[(i / 4) % 3], alpha: Double(act.defaultAlpha)) * Double(act.defaultGain)
                        if let c = clamp { y = min(max(y, -Double(c)), Double(c)) }
                        s += y * Double(r[flat: i])
                    }
                    return s
                }
                let xd = x.doubles, bd = b.doubles
                let gxNum = numericalGradient(xd) { loss($0, bd) }
                let gbNum = numericalGradient(bd) { loss(xd, $0) }
                let (gx, gb) = biasActBackward(gradOutput: r, x: x, bias: b, activation: act, clamp: clamp, dim: dim)
                assertClose(gx, Tensor(shape: shape, data: gxNum.map { Float($0) }), atol: 1e-5, rtol: 1e-4, "\(act) clamp \(String(describing: clamp))")
                assertClose(gb!, Tensor(shape: [3], data: gbNum.map { Float($0) }), atol: 1e-5, rtol: 1e-4, "\(act) bias")
            }
        }
    }
}
