import XCTest
import LatentTensor
import _TestSupport

final class BatchedMatmulTests: XCTestCase {
    func testForwardMatchesReference() {
        var rng = TestRNG(seed: 40)
        let (batch, m, k, n) = (3, 7, 11, 5)
        for transA in [false, true] { for transB in [false, true] {
            let a = rng.tensor(transA ? [batch, k, m] : [batch, m, k])
            let b = rng.tensor(transB ? [batch, n, k] : [batch, k, n])
            let c = batchedMatmul(a, b, transA: transA, transB: transB)
            XCTAssertEqual(c.shape, [batch, m, n])
            assertClose(c, batchedMatmulReference(a, b, transA: transA, transB: transB), atol: 1e-5, rtol: 1e-5)
        } }
        // Large enough to take the sequential multithreaded-BLAS path.
        let a = rng.tensor([2, 131, 97]), b = rng.tensor([2, 97, 173])
        assertClose(batchedMatmul(a, b), batchedMatmulReference(a, b), atol: 1e-4, rtol: 1e-5)
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 41)
        let (batch, m, k, n) = (2, 3, 4, 5)
        for transA in [false, true] { for transB in [false, true] {
            let a = rng.tensor(transA ? [batch, k, m] : [batch, m, k])
            let b = rng.tensor(transB ? [batch, n, k] : [batch, k, n])
            let r = rng.doubles(batch * m * n)
            func loss(_ av: [Double], _ bv: [Double]) -> Double {
                var s = 0.0
                for bi in 0..<batch { for i in 0..<m { for j in 0..<n {
                    var c = 0.0
                    for l in 0..<k {
                        let x = transA ? av[(bi * k + l) * m + i] : av[(bi * m + i) * k + l]
                        let y = transB ? bv[(bi * n + j) * k + l] : bv[(bi * k + l) * n + j]
                        c += x * y
                    }
                    s += c * r[(bi * m + i) * n + j]
                } } }
                return s
            }
            let g = batchedMatmulBackward(gradOutput: Tensor(shape: [batch, m, n], data: r.map(Float.init)),
                                          a: a, b: b, transA: transA, transB: transB)
            XCTAssertEqual(g.gradA?.shape, a.shape)
            XCTAssertEqual(g.gradB?.shape, b.shape)
            assertGradClose(g.gradA!.storage, numericalGradient(a.doubles) { loss($0, b.doubles) }, "dA tA \(transA) tB \(transB)")
            assertGradClose(g.gradB!.storage, numericalGradient(b.doubles) { loss(a.doubles, $0) }, "dB tA \(transA) tB \(transB)")
        } }
    }
}
