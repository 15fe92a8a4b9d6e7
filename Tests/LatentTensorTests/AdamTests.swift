import XCTest
import LatentTensor
import _TestSupport

final class AdamTests: XCTestCase {
    /// Two steps worked by hand (the second with a scheduled lower rate). Element 0, step 2:
    /// m = 0.9·0.01 + 0.1·0.05 = 0.014, v = 0.999·1e-5 + 0.001·0.0025 = 1.249e-5,
    /// m̂ = 0.014 / 0.19, v̂ = 1.249e-5 / 0.001999, p = 0.9 − 0.05·m̂/(√v̂ + 1e-8) = 0.8533910.
    func testTwoStepTrajectory() {
        var adam = Adam(learningRate: 0.1)
        var params = [Tensor(shape: [4], data: [1, -2, 0.5, 0]), Tensor(shape: [1, 1], data: [3])]
        adam.step(&params, grads: [Tensor(shape: [4], data: [0.1, -0.2, 0.3, 1e-3]), Tensor(shape: [1, 1], data: [0])])
        assertClose(params[0], Tensor(shape: [4], data: [0.90000001, -1.9000000, 0.40000000, -0.099999]), atol: 1e-6, rtol: 0)
        XCTAssertEqual(params[1].storage, [3], "a zero gradient leaves the parameter unchanged")
        adam.step(&params, grads: [Tensor(shape: [4], data: [0.05, 0.4, -0.1, -2]), Tensor(shape: [1, 1], data: [0])],
                  learningRate: 0.05)
        assertClose(params[0], Tensor(shape: [4], data: [0.85339103, -1.9183052, 0.37998908, -0.062808907]), atol: 1e-6, rtol: 0)
        XCTAssertEqual(adam.stepCount, 2)
    }

    /// Fifty steps on random gradients against the update rule in Double.
    func testMatchesDoubleReference() {
        var rng = TestRNG(seed: 80)
        var adam = Adam(learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6)
        var params = [rng.tensor([3, 5]), rng.tensor([7])]
        var ref = params.map(\.doubles)
        var m = ref.map { [Double](repeating: 0, count: $0.count) }, v = m
        for t in 1...50 {
            let grads = [rng.tensor([3, 5]), rng.tensor([7], -3, 3)]
            let lr = 0.01 * (1 - Double(t) / 60)
            adam.step(&params, grads: grads, learningRate: Float(lr))
            for i in 0..<2 { for j in 0..<ref[i].count {
                let g = Double(grads[i][flat: j])
                m[i][j] = 0.8 * m[i][j] + 0.2 * g
                v[i][j] = 0.99 * v[i][j] + 0.01 * g * g
                let mh = m[i][j] / (1 - pow(0.8, Double(t))), vh = v[i][j] / (1 - pow(0.99, Double(t)))
                ref[i][j] -= lr * mh / (vh.squareRoot() + 1e-6)
            } }
        }
        for i in 0..<2 {
            assertClose(params[i], Tensor(shape: params[i].shape, data: ref[i].map(Float.init)), atol: 2e-6, rtol: 1e-5)
        }
    }
}
