import XCTest
import LatentTensor
import LatentInversion
import _TestSupport

/// The inpainting composite: known pixels far from the hole stay the input's, the hole is the
/// fill's, the seam fades on the known side only; region PSNR against a naive sum.
final class InpaintingTests: XCTestCase {
    func testFeatheredCompositeKeepsTheHoleGeneratedAndTheFarOutsideOriginal() {
        var keep = Tensor.ones([1, 1, 12, 12])
        for y in 4..<8 { for x in 4..<8 { keep.storage[y * 12 + x] = 0 } }
        let f = Inpainting.featheredKeepMask(keep, sigma: 1)
        for q in 0..<144 {
            let (y, x) = (q / 12, q % 12)
            if keep.storage[q] == 0 { XCTAssertEqual(f.storage[q], 0) }
            XCTAssertLessThanOrEqual(f.storage[q], keep.storage[q])
            if y < 1 || y > 10 || x < 1 || x > 10 { XCTAssertEqual(f.storage[q], 1, accuracy: 1e-6, "far pixel \(y),\(x)") }
        }
        XCTAssertLessThan(f.storage[3 * 12 + 5], 0.9, "the seam fades next to the hole")
        XCTAssertEqual(Inpainting.featheredKeepMask(keep, sigma: 0), keep)
        var rng = TestRNG(seed: 3)
        let input = rng.tensor([3, 12, 12]), fill = rng.tensor([3, 12, 12])
        let c = Inpainting.composite(input: input, fill: fill, keep: f)
        for ch in 0..<3 { for q in 0..<144 {
            let a = Double(f.storage[q])
            XCTAssertEqual(Double(c.storage[ch * 144 + q]), a * Double(input.storage[ch * 144 + q]) + (1 - a) * Double(fill.storage[ch * 144 + q]), accuracy: 1e-6)
        } }
    }

    func testRegionPSNR() throws {
        var rng = TestRNG(seed: 4)
        let a = rng.tensor([3, 5, 5]), b = rng.tensor([3, 5, 5])
        let w = (0..<25).map { Float($0 % 3) / 2 }
        var s = 0.0, n = 0.0
        for c in 0..<3 { for q in 0..<25 {
            let d = (Double(a.storage[c * 25 + q]) - Double(b.storage[c * 25 + q])) / 2
            s += Double(w[q]) * d * d; n += Double(w[q])
        } }
        XCTAssertEqual(try XCTUnwrap(Inpainting.regionPSNR(a, b, weights: w)), 10 * log10(n / s), accuracy: 1e-9)
        XCTAssertNil(Inpainting.regionPSNR(a, b, weights: [Float](repeating: 0, count: 25)))
        XCTAssertEqual(Inpainting.regionPSNR(a, a, weights: w), 120)
    }
}
