import XCTest
import LatentTensor
import _TestSupport

final class LinearTests: XCTestCase {
    func testForwardMatchesReference() {
        var rng = TestRNG(seed: 10)
        for (lead, inF, outF) in [([7], 13, 5), ([2, 3, 5], 17, 11), ([1], 1, 1), ([3, 1], 9, 31)] {
            let x = rng.tensor(lead + [inF]), w = rng.tensor([outF, inF]), b = rng.tensor([outF])
            let y = linear(x, weight: w, bias: b)
            XCTAssertEqual(y.shape, lead + [outF])
            assertClose(y, linearReference(x, weight: w, bias: b), atol: 1e-5, rtol: 1e-5)
            assertClose(linear(x, weight: w), linearReference(x, weight: w), atol: 1e-5, rtol: 1e-5)
        }
    }

    /// All three gradients against central differences of a Double forward.
    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 11)
        let lead = [2, 3], inF = 5, outF = 4, rows = 6
        let x = rng.tensor(lead + [inF]), w = rng.tensor([outF, inF]), b = rng.tensor([outF])
        let r = rng.doubles(rows * outF)
        func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
            var s = 0.0
            for i in 0..<rows { for o in 0..<outF {
                var y = b[o]
                for k in 0..<inF { y += x[i * inF + k] * w[o * inF + k] }
                s += y * r[i * outF + o]
            } }
            return s
        }
        let g = linearBackward(gradOutput: Tensor(shape: lead + [outF], data: r.map(Float.init)), x: x, weight: w)
        XCTAssertEqual(g.gradInput?.shape, x.shape)
        XCTAssertEqual(g.gradWeight?.shape, w.shape)
        assertGradClose(g.gradInput!.storage, numericalGradient(x.doubles) { loss($0, w.doubles, b.doubles) }, "dx")
        assertGradClose(g.gradWeight!.storage, numericalGradient(w.doubles) { loss(x.doubles, $0, b.doubles) }, "dW")
        assertGradClose(g.gradBias!.storage, numericalGradient(b.doubles) { loss(x.doubles, w.doubles, $0) }, "db")
        let partial = linearBackward(gradOutput: Tensor(shape: lead + [outF], data: r.map(Float.init)), x: x, weight: w,
                                     needInput: false, needWeight: true)
        XCTAssertNil(partial.gradInput)
        XCTAssertEqual(partial.gradWeight, g.gradWeight)
    }

    /// Larger odd shapes: fast backward against Double reference products.
    func testBackwardMatchesReferenceOnOddShapes() {
        var rng = TestRNG(seed: 12)
        let rows = 37, inF = 53, outF = 29
        let x = rng.tensor([rows, inF]), w = rng.tensor([outF, inF]), gy = rng.tensor([rows, outF])
        let g = linearBackward(gradOutput: gy, x: x, weight: w)
        // dx = gy · W, dW = gyᵀ · x, via the reference linear on transposed operands.
        let wT = transpose2D(w), xT = transpose2D(x), gyT = transpose2D(gy)
        assertClose(g.gradInput!, linearReference(gy, weight: wT), atol: 1e-5, rtol: 1e-5)
        assertClose(g.gradWeight!, linearReference(gyT, weight: xT), atol: 1e-5, rtol: 1e-5)
        assertClose(g.gradBias!, gy.sum(axis: 0), atol: 1e-6)
    }
}

func transpose2D(_ t: Tensor) -> Tensor {
    let r = t.shape[0], c = t.shape[1]
    return Tensor(shape: [c, r]) { f in t[flat: (f % r) * c + f / r] }
}
