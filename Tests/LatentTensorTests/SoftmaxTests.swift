import XCTest
import LatentTensor
import _TestSupport

final class SoftmaxTests: XCTestCase {
    func testForwardMatchesReference() {
        var rng = TestRNG(seed: 30)
        for (shape, axis) in [([5, 7], -1), ([3, 5, 4], 1), ([3, 5, 4], 0), ([2, 3, 9], 2), ([11], 0)] {
            let x = rng.tensor(shape, -6, 6)
            assertClose(softmax(x, axis: axis), softmaxReference(x, axis: axis), atol: 1e-6, rtol: 1e-5, "\(shape) axis \(axis)")
        }
        // Large logits do not overflow; a -inf mask entry gives an exact 0 (causal attention).
        let x = Tensor(shape: [2, 3], data: [1000, 999, -.infinity, 0, -.infinity, -.infinity])
        let y = softmax(x)
        XCTAssertEqual(y[0, 2], 0)
        XCTAssertEqual(Double(y[0, 0]), 1 / (1 + exp(-1.0)), accuracy: 1e-6)
        XCTAssertEqual(y[1, 0], 1)
        XCTAssertEqual(y[1, 1], 0)
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 31)
        for (shape, axis) in [([3, 5], -1), ([2, 4, 3], 1)] {
            let x = rng.tensor(shape, -2, 2)
            let r = rng.doubles(x.count)
            let outer = shape[..<(axis < 0 ? shape.count + axis : axis)].reduce(1, *)
            let ax = axis < 0 ? shape.count + axis : axis
            let len = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
            func loss(_ v: [Double]) -> Double {
                var s = 0.0
                for o in 0..<outer { for i in 0..<inner {
                    let idx = (0..<len).map { o * len * inner + $0 * inner + i }
                    let m = idx.map { v[$0] }.max()!
                    let e = idx.map { exp(v[$0] - m) }
                    let z = e.reduce(0, +)
                    for (k, j) in idx.enumerated() { s += e[k] / z * r[j] }
                } }
                return s
            }
            let y = softmax(x, axis: axis)
            let g = softmaxBackward(gradOutput: Tensor(shape: shape, data: r.map(Float.init)), output: y, axis: axis)
            assertGradClose(g.storage, numericalGradient(x.doubles, loss), "softmax \(shape) axis \(axis)")
        }
    }
}
