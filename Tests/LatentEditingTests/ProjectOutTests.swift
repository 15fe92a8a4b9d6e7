import XCTest
import LatentTensor
import LatentEditing
import _TestSupport

final class ProjectOutTests: XCTestCase {
    func testResultIsUnitOrthogonalAndInTheSpan() throws {
        var rng = TestRNG(seed: 11)
        let d = 11
        let p = Tensor(shape: [d], data: gaussians(&rng, d).map(Float.init))
        let cs = (0..<3).map { _ in Tensor(shape: [d], data: gaussians(&rng, d).map { Float($0 * 3) }) }
        let r = try projectOut(p, conditions: cs + [cs[0] * 2])   // a repeated condition is harmless
        XCTAssertEqual(r.doubles.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-6)
        for c in cs { XCTAssertLessThan(abs(dot(r.doubles, c.doubles)) / c.doubles.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-6) }
        // r ∝ p − Proj_span(C) p: p − (p·r) r must lie in span(C).
        var basis: [[Double]] = []
        for c in cs {
            var v = c.doubles
            for b in basis { let k = dot(v, b); v = zip(v, b).map { $0 - k * $1 } }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            basis.append(v.map { $0 / n })
        }
        let pr = dot(p.doubles, r.doubles)
        XCTAssertGreaterThan(pr, 0)
        var rest = zip(p.doubles, r.doubles).map { $0 - pr * $1 }
        for b in basis { let k = dot(rest, b); rest = zip(rest, b).map { $0 - k * $1 } }
        XCTAssertLessThan(rest.map(abs).max()!, 1e-5)
    }

    func testNoConditionsNormalises() throws {
        let r = try projectOut(Tensor(shape: [3], data: [3, 0, 4]), conditions: [])
        XCTAssertEqual(r.storage, [0.6, 0, 0.8])
    }

    func testPrimaryInTheSpanThrows() {
        let a = Tensor(shape: [3], data: [1, 0, 0]), b = Tensor(shape: [3], data: [0, 1, 0])
        XCTAssertThrowsError(try projectOut(Tensor(shape: [3], data: [2, -3, 0]), conditions: [a, b]))
        XCTAssertThrowsError(try projectOut(Tensor(shape: [3], data: [2, -3, 0]), conditions: [Tensor(shape: [2], data: [1, 0])]))
    }
}
