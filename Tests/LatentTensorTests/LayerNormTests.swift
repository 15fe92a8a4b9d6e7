import XCTest
import LatentTensor
import _TestSupport

final class LayerNormTests: XCTestCase {
    func testForwardMatchesReference() {
        var rng = TestRNG(seed: 20)
        for (lead, d) in [([7], 13), ([2, 5], 31), ([3], 1), ([4, 3], 128)] {
            // A large common offset checks the statistics do not lose precision (CLIP residuals).
            let x = rng.tensor(lead + [d]) * 3 + 40, w = rng.tensor([d]), b = rng.tensor([d])
            let y = layerNorm(x, weight: w, bias: b)
            assertClose(y, layerNormReference(x, weight: w, bias: b), atol: 2e-5, rtol: 1e-5, "\(lead) \(d)")
        }
        // Each normalised row has mean 0, variance 1 (weight 1, bias 0).
        let x = rng.tensor([5, 17])
        let y = layerNorm(x, weight: .ones([17]), bias: .zeros([17]), eps: 0)
        for r in 0..<5 {
            let row = (0..<17).map { Double(y[r, $0]) }
            XCTAssertEqual(row.reduce(0, +) / 17, 0, accuracy: 1e-6)
            XCTAssertEqual(row.reduce(0) { $0 + $1 * $1 } / 17, 1, accuracy: 1e-5)
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 21)
        let rows = 3, d = 7, eps = 1e-5
        let x = rng.tensor([rows, d]), w = rng.tensor([d]), b = rng.tensor([d])
        let r = rng.doubles(rows * d)
        func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
            var s = 0.0
            for i in 0..<rows {
                let v = Array(x[(i * d)..<((i + 1) * d)])
                let mean = v.reduce(0, +) / Double(d)
                let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
                for j in 0..<d { s += ((v[j] - mean) / (variance + eps).squareRoot() * w[j] + b[j]) * r[i * d + j] }
            }
            return s
        }
        let g = layerNormBackward(gradOutput: Tensor(shape: [rows, d], data: r.map(Float.init)), x: x, weight: w)
        assertGradClose(g.gradInput.storage, numericalGradient(x.doubles) { loss($0, w.doubles, b.doubles) }, "dx")
        assertGradClose(g.gradWeight.storage, numericalGradient(w.doubles) { loss(x.doubles, $0, b.doubles) }, "dγ")
        assertGradClose(g.gradBias.storage, numericalGradient(b.doubles) { loss(x.doubles, w.doubles, $0) }, "dβ")
    }
}
