import XCTest
import LatentTensor
import _TestSupport

final class UpsampleBilinearTests: XCTestCase {
    let sizes = [((5, 7), (9, 13)), ((16, 16), (32, 32)), ((3, 4), (3, 4)), ((6, 5), (4, 3)), ((1, 3), (4, 1)), ((4, 4), (1, 1))]

    func testFastMatchesReference() {
        var rng = TestRNG(seed: 41)
        for align in [true, false] {
            for ((h, w), (oh, ow)) in sizes {
                let x = rng.tensor([2, 3, h, w])
                assertClose(upsampleBilinear2d(x, height: oh, width: ow, alignCorners: align),
                            upsampleBilinear2dReference(x, height: oh, width: ow, alignCorners: align),
                            atol: 2e-6, rtol: 2e-6, "\(h)×\(w) → \(oh)×\(ow) align \(align)")
            }
        }
    }

    /// align_corners=True keeps the corners and, 2×2 → 3×3, puts the averages in between.
    func testKnownValues() {
        let x = Tensor(shape: [1, 1, 2, 2], data: [0, 1, 2, 3])
        let y = upsampleBilinear2d(x, height: 3, width: 3, alignCorners: true)
        XCTAssertEqual(y.storage, [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3])
        // align_corners=False, 2 → 4: PyTorch gives [0, 0.25, 0.75, 1] per row.
        let z = upsampleBilinear2d(Tensor(shape: [1, 1, 1, 2], data: [0, 1]), height: 1, width: 4, alignCorners: false)
        XCTAssertEqual(z.storage, [0, 0.25, 0.75, 1])
    }

    /// Linear: <A x, y> = <x, Aᵀ y>.
    func testBackwardIsAdjoint() {
        var rng = TestRNG(seed: 42)
        for align in [true, false] {
            for ((h, w), (oh, ow)) in sizes {
                let x = rng.tensor([2, 2, h, w]), y = rng.tensor([2, 2, oh, ow])
                let ax = upsampleBilinear2d(x, height: oh, width: ow, alignCorners: align)
                let aty = upsampleBilinear2dBackward(gradOutput: y, inputHeight: h, inputWidth: w, alignCorners: align)
                XCTAssertEqual(Double(ax.dot(y)), Double(x.dot(aty)), accuracy: 1e-4, "\(h)×\(w) → \(oh)×\(ow) align \(align)")
            }
        }
    }

    /// Backward against central differences of the Double reference.
    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 43)
        let x = rng.doubles(1 * 2 * 3 * 4), r = rng.tensor([1, 2, 5, 7])
        let g = upsampleBilinear2dBackward(gradOutput: r, inputHeight: 3, inputWidth: 4, alignCorners: true)
        let num = numericalGradient(x, h: 1e-3) { v in
            let y = upsampleBilinear2dReference(Tensor(shape: [1, 2, 3, 4], data: v.map { Float($0) }), height: 5, width: 7, alignCorners: true)
            return Double(y.dot(r))
        }
        for i in 0..<x.count { XCTAssertEqual(Double(g[flat: i]), num[i], accuracy: 2e-3) }
    }
}
