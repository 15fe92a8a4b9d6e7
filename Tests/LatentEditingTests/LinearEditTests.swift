import XCTest
import LatentTensor
import LatentEditing
import _TestSupport

final class LinearEditTests: XCTestCase {
    func testApplyDirectionMovesOnlyTheChosenRows() throws {
        var rng = TestRNG(seed: 4)
        let ws = rng.tensor([3, 10, 7], -2, 2)
        let v = rng.tensor([7])
        for (rows, s) in [(2 ..< 5, Float(-1.7)), (0 ..< 10, Float(0.5)), (9 ..< 10, Float(3))] {
            let out = try applyDirection(ws: ws, direction: v, strength: s, layers: rows)
            for i in 0..<3 { for r in 0..<10 { for j in 0..<7 {
                let expected = rows.contains(r) ? ws[i, r, j] + s * v[flat: j] : ws[i, r, j]
                XCTAssertEqual(out[i, r, j], expected, "sample \(i) row \(r)")
            } } }
        }
        // Opposite strengths cancel (to rounding).
        let there = try applyDirection(ws: ws, direction: v, strength: 2.5, layers: 1 ..< 4)
        XCTAssertLessThan(maxAbsDiff(try applyDirection(ws: there, direction: v, strength: -2.5, layers: 1 ..< 4), ws), 1e-6)
    }

    func testBadArgumentsThrow() {
        let ws = Tensor.zeros([1, 4, 3])
        let v = Tensor.ones([3])
        XCTAssertThrowsError(try applyDirection(ws: ws, direction: Tensor.ones([4]), strength: 1, layers: 0 ..< 1))
        XCTAssertThrowsError(try applyDirection(ws: ws, direction: v, strength: 1, layers: 3 ..< 5))
        XCTAssertThrowsError(try applyDirection(ws: ws, direction: v, strength: 1, layers: 2 ..< 2))
        XCTAssertThrowsError(try applyDirection(ws: ws, direction: v, strength: .nan, layers: 0 ..< 1))
        XCTAssertThrowsError(try applyDirection(ws: Tensor.zeros([4, 3]), direction: v, strength: 1, layers: 0 ..< 1))
    }
}
