import XCTest
import LatentTensor
import _TestSupport

final class SqueezeExcitationTests: XCTestCase {
    func testMatchesReference() {
        var rng = TestRNG(seed: 51)
        for (n, c, h, w, r) in [(1, 16, 3, 5, 1), (2, 32, 4, 4, 2), (3, 48, 1, 7, 3)] {
            let x = rng.tensor([n, c, h, w], -2, 2), fc1 = rng.tensor([r, c, 1, 1]), fc2 = rng.tensor([c, r, 1, 1], -2, 2)
            assertClose(squeezeExcitation(x, fc1: fc1, fc2: fc2), squeezeExcitationReference(x, fc1: fc1, fc2: fc2),
                        atol: 2e-6, rtol: 2e-6, "\(n)×\(c)×\(h)×\(w) r \(r)")
        }
    }

    /// Zero weights give gates sigmoid(0) = 0.5.
    func testZeroWeightsHalve() {
        let x = Tensor(shape: [1, 16, 2, 2], generator: { Float($0) })
        let y = squeezeExcitation(x, fc1: .zeros([1, 16, 1, 1]), fc2: .zeros([16, 1, 1, 1]))
        XCTAssertEqual(y.storage, x.storage.map { $0 * 0.5 })
    }
}
