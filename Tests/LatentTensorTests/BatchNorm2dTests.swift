import XCTest
import LatentTensor
import _TestSupport

final class BatchNorm2dTests: XCTestCase {
    func testEvalMatchesReferenceOnOddShapes() {
        var rng = TestRNG(seed: 21)
        for shape in [[1, 3, 5, 7], [3, 5, 1, 1], [2, 7, 4, 3]] {
            let c = shape[1]
            let x = rng.tensor(shape, -3, 3), w = rng.tensor([c]), b = rng.tensor([c])
            let mean = rng.tensor([c], -0.5, 0.5), v = rng.tensor([c], 0.2, 2)
            assertClose(batchNorm2dEval(x, weight: w, bias: b, runningMean: mean, runningVar: v),
                        batchNorm2dEvalReference(x, weight: w, bias: b, runningMean: mean, runningVar: v),
                        atol: 2e-6, rtol: 2e-6, "\(shape)")
        }
    }

    /// Known values: (x − mean)/sqrt(var + 1e-5)·w + b with var = 0 keeps the eps visible.
    func testKnownValuesAndEps() {
        let x = Tensor(shape: [1, 2, 1, 2], data: [1, 2, 3, 4])
        let y = batchNorm2dEval(x, weight: Tensor(shape: [2], data: [2, 1]), bias: Tensor(shape: [2], data: [0.5, 0]),
                                runningMean: Tensor(shape: [2], data: [1, 0]), runningVar: Tensor(shape: [2], data: [0, 3]))
        let s = 1 / Float(1e-5).squareRoot()
        XCTAssertEqual(y[0, 0, 0, 0], 0.5, accuracy: 1e-6)
        XCTAssertEqual(y[0, 0, 0, 1], 2 * s + 0.5, accuracy: 1e-2)
        XCTAssertEqual(y[0, 1, 0, 0], 3 / Float(3 + 1e-5).squareRoot(), accuracy: 1e-6)
    }
}
