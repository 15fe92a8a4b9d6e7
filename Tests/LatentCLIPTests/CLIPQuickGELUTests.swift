import Foundation
import XCTest
import LatentTensor
import LatentModels
import _TestSupport
import LatentCLIP

/// CLIP's vectorisable QuickGELU against the Double reference of `biasAct` and its derivative.
final class CLIPQuickGELUTests: XCTestCase {
    func testForwardMatchesReference() {
        var rng = TestRNG(seed: 3)
        // Odd length (not a multiple of a vector width) over the range activations live in.
        let x = rng.tensor([1001], -8, 8)
        assertClose(CLIPQuickGELU.forward(x), biasActReference(x, activation: .quickGELU), atol: 1e-7, rtol: 1e-6)
        // Extremes, against the float formula with libm's expf: both see the same rounded
        // argument -1.702·x, whose rounding dominates the error of exp at large |x|.
        let extremes: [Float] = [0, -0.0, 1e-30, -1e-30, 30, -30, 51, -51, 52, -52, 87, -87, 90, -90, 1e4, -1e4,
                                 .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        let e = Tensor(shape: [extremes.count], data: extremes)
        let fast = CLIPQuickGELU.forward(e)
        let libm = Tensor(shape: e.shape, data: extremes.map { $0 / (1 + expf(-1.702 * $0)) })
        assertClose(fast, libm, atol: 1e-36, rtol: 1e-6)
        XCTAssertTrue(fast.isFinite)
    }

    func testBackwardMatchesDerivative() {
        var rng = TestRNG(seed: 4)
        var values = rng.doubles(999, -8, 8).map(Float.init)
        values += [0, 30, -30, 60, -60, 1e4, -1e4]
        let x = Tensor(shape: [values.count], data: values)
        let dy = rng.tensor([values.count], -2, 2)
        let fast = CLIPQuickGELU.backward(dy, x: x)
        var expected = Tensor.zeros(x.shape)
        for i in 0..<x.count {
            let v = Double(x[flat: i]), s = 1 / (1 + Foundation.exp(-1.702 * v))
            expected[flat: i] = Float(Double(dy[flat: i]) * (s + 1.702 * v * s * (1 - s)))
        }
        assertClose(fast, expected, atol: 1e-6, rtol: 1e-5)
        // And against central differences of the Double function on the typical range.
        let small = Array(values.prefix(200)).map(Double.init)
        let numeric = numericalGradient(small, h: 1e-6) { v in
            v.enumerated().reduce(0) { acc, e in acc + Double(dy[flat: e.offset]) * e.element / (1 + Foundation.exp(-1.702 * e.element)) }
        }
        let analytic = Tensor(shape: [200], data: Array(fast.storage.prefix(200)))
        XCTAssertLessThan(relativeError(analytic, Tensor(shape: [200], data: numeric.map(Float.init))), 1e-5)
    }
}
