import XCTest
import LatentTensor
import _TestSupport

final class PReLUTests: XCTestCase {
    func testForwardMatchesReference() {
        var rng = TestRNG(seed: 31)
        for (shape, shared) in [([2, 5, 3, 7], false), ([3, 4], false), ([1, 3, 2, 2], true)] {
            let x = rng.tensor(shape, -2, 2), w = rng.tensor([shared ? 1 : shape[1]], -0.5, 0.8)
            XCTAssertEqual(prelu(x, weight: w), preluReference(x, weight: w), "\(shape)")
        }
        let y = prelu(Tensor(shape: [1, 2, 1, 2], data: [-1, 2, -3, 0]), weight: Tensor(shape: [2], data: [0.25, 0.5]))
        XCTAssertEqual(y.storage, [-0.25, 2, -1.5, 0])
    }

    /// Backward against central differences of the Double definition (inputs away from the kink).
    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 32)
        for shared in [false, true] {
            let shape = [2, 3, 2, 3], c = shared ? 1 : 3
            let xs = (0..<36).map { _ in rng.uniform(0.1, 1.5) * (rng.uniform() < 0 ? -1 : 1) }
            let ws = rng.doubles(c, -0.5, 0.9), r = rng.tensor(shape)
            func loss(_ xv: [Double], _ wv: [Double]) -> Double {
                var s = 0.0
                for i in 0..<xv.count {
                    let a = wv[shared ? 0 : (i / 6) % 3]
                    s += (xv[i] > 0 ? xv[i] : a * xv[i]) * Double(r[flat: i])
                }
                return s
            }
            let x = Tensor(shape: shape, data: xs.map { Float($0) }), w = Tensor(shape: [c], data: ws.map { Float($0) })
            let (gx, gw) = preluBackward(gradOutput: r, x: x, weight: w)
            let nx = numericalGradient(xs) { loss($0, ws) }, nw = numericalGradient(ws) { loss(xs, $0) }
            for i in 0..<36 { XCTAssertEqual(Double(gx[flat: i]), nx[i], accuracy: 1e-5) }
            for i in 0..<c { XCTAssertEqual(Double(gw[flat: i]), nw[i], accuracy: 1e-4) }
        }
    }

    /// For a fixed sign pattern PReLU is linear in x: <J x, y> = <x, Jᵀ y>.
    func testInputGradientIsAdjoint() {
        var rng = TestRNG(seed: 33)
        let x = rng.tensor([2, 4, 3, 5]), w = rng.tensor([4]), y = rng.tensor([2, 4, 3, 5])
        let jx = prelu(x, weight: w)     // J x = prelu(x) for the sign pattern of x itself
        let jty = preluBackward(gradOutput: y, x: x, weight: w).gradInput
        XCTAssertEqual(Double(jx.dot(y)), Double(x.dot(jty)), accuracy: 1e-4)
    }
}
