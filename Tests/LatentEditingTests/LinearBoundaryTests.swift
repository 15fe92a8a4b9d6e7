import XCTest
import LatentTensor
import LatentEditing
import _TestSupport

/// The logistic boundary: separable data (accuracy 1, normal parallel to the true one), the
/// Newton fit against the plain gradient-descent reference, conditional directions, errors.
final class LinearBoundaryTests: XCTestCase {
    /// Points with per-coordinate scales and offsets, labelled by a known hyperplane; points
    /// within `margin` of it are dropped so the classes are separable with a gap.
    func separable(n: Int, d: Int, margin: Double, seed: UInt64) -> (Tensor, [Bool], [Double]) {
        var rng = TestRNG(seed: seed)
        let u = randomUnit(&rng, d)
        let scale = (0..<d).map { 0.5 + Double($0 % 4) }, offset = (0..<d).map { 0.3 * Double($0) - 1 }
        var data = [Float](), labels = [Bool]()
        while labels.count < n {
            let g = gaussians(&rng, d)
            let x = (0..<d).map { offset[$0] + scale[$0] * g[$0] }
            let s = dot(u, x) - dot(u, offset) + 0.2
            if abs(s) < margin { continue }
            data += x.map(Float.init); labels.append(s > 0)
        }
        return (Tensor(shape: [n, d], data: data), labels, u)
    }

    func testSeparableDataGivesPerfectAccuracyAndTheTrueNormal() throws {
        let (x, y, u) = separable(n: 1500, d: 9, margin: 0.5, seed: 1)
        let b = try fitLinearBoundary(latents: x, labels: y, l2: 1e-4)
        XCTAssertEqual(b.trainAccuracy, 1)
        XCTAssertEqual(b.heldOutAccuracy, 1)
        XCTAssertEqual(b.heldOutCount, 450)
        XCTAssertEqual(b.trainCount, 1050)
        XCTAssertGreaterThan(dot(b.normal.doubles, u), 0.98)
        XCTAssertEqual(b.normal.doubles.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-6)
        // The decision rule normal·x + bias > 0 reproduces the labels.
        for i in 0..<x.shape[0] {
            XCTAssertEqual(dot(x.row(i).doubles, b.normal.doubles) + b.bias > 0, y[i])
        }
    }

    func testNewtonFitMatchesGradientDescentReference() throws {
        // Overlapping classes (label noise) and a ridge large enough for the reference to converge.
        var rng = TestRNG(seed: 5)
        let n = 211, d = 6
        let u = randomUnit(&rng, d)
        var data = [Float](), labels = [Bool]()
        for _ in 0..<n {
            let x = gaussians(&rng, d).enumerated().map { $0.element * (1 + Double($0.offset)) + 0.5 }
            data += x.map(Float.init)
            labels.append(dot(u, x) + 0.8 * gaussians(&rng, 1)[0] > 0.3)
        }
        let x = Tensor(shape: [n, d], data: data)
        var normals: [Tensor] = []
        for standardize in [false, true] {
            let fast = try fitLinearBoundary(latents: x, labels: labels, heldOutFraction: 0.25, l2: 0.05, standardize: standardize, seed: 9)
            let ref = try fitLinearBoundaryReference(latents: x, labels: labels, heldOutFraction: 0.25, l2: 0.05, standardize: standardize,
                                                     iterations: 20_000, seed: 9)
            XCTAssertLessThan(fast.iterations, 30)
            XCTAssertLessThan(maxAbsDiff(fast.normal, ref.normal), 1e-6, "standardize \(standardize)")
            XCTAssertEqual(fast.bias, ref.bias, accuracy: 1e-6)
            XCTAssertEqual(fast.trainAccuracy, ref.trainAccuracy)
            XCTAssertEqual(fast.heldOutAccuracy, ref.heldOutAccuracy)
            XCTAssertLessThan(fast.heldOutAccuracy, 1)   // the data really overlap
            XCTAssertGreaterThan(fast.heldOutAccuracy, 0.7)
            normals.append(fast.normal)
        }
        // The ridge acts on different coefficients, so the two normals differ.
        XCTAssertGreaterThan(maxAbsDiff(normals[0], normals[1]), 1e-3)
    }

    func testStrongRidgeOnRawLatentsTendsToTheMeanDifference() throws {
        let (x, y, _) = separable(n: 400, d: 5, margin: 0.2, seed: 6)
        let n = x.shape[0], d = x.shape[1]
        var mp = [Double](repeating: 0, count: d), mn = [Double](repeating: 0, count: d)
        let np = Double(y.filter { $0 }.count), nn = Double(n) - np
        for i in 0..<n { for j in 0..<d { if y[i] { mp[j] += Double(x[i, j]) / np } else { mn[j] += Double(x[i, j]) / nn } } }
        // On the full data the ridge-dominated gradient is Σ (p − y) x ∝ −(mean of positives − mean of negatives).
        let diff = zip(mp, mn).map { $0 - $1 }
        let norm = diff.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let b = try fitLinearBoundary(latents: x, labels: y, heldOutFraction: 0, l2: 1e4)
        XCTAssertGreaterThan(dot(b.normal.doubles, diff.map { $0 / norm }), 0.9999)
    }

    func testConditionalDirectionIsOrthogonalToTheConditions() throws {
        let (x, y, _) = separable(n: 600, d: 7, margin: 0.3, seed: 2)
        var rng = TestRNG(seed: 3)
        let c1 = Tensor(shape: [7], data: randomUnit(&rng, 7).map(Float.init))
        let c2 = Tensor(shape: [7], data: randomUnit(&rng, 7).map(Float.init))
        let plain = try interfaceganDirection(latents: x, labels: y)
        XCTAssertEqual(plain.direction, plain.boundary.normal)
        XCTAssertEqual(plain.heldOutAccuracy, plain.boundary.heldOutAccuracy)
        let cond = try interfaceganDirection(latents: x, labels: y, conditions: [c1, c2])
        XCTAssertLessThan(abs(dot(cond.direction.doubles, c1.doubles)), 1e-6)
        XCTAssertLessThan(abs(dot(cond.direction.doubles, c2.doubles)), 1e-6)
        XCTAssertGreaterThan(dot(cond.direction.doubles, plain.direction.doubles), 0)   // still points at the positives
        XCTAssertGreaterThan(cond.heldOutAccuracy, 0.5)
        XCTAssertLessThanOrEqual(cond.heldOutAccuracy, 1)
    }

    func testBadInputsThrow() {
        let x = Tensor(shape: [4, 2], data: [0, 1, 1, 0, 2, 2, 3, 1])
        XCTAssertThrowsError(try fitLinearBoundary(latents: x, labels: [true, true, true, true]))
        XCTAssertThrowsError(try fitLinearBoundary(latents: x, labels: [true, false]))
        XCTAssertThrowsError(try fitLinearBoundary(latents: Tensor(shape: [4, 2], data: [0, .nan, 1, 0, 2, 2, 3, 1]), labels: [true, false, true, false]))
        XCTAssertThrowsError(try fitLinearBoundary(latents: x, labels: [true, false, true, false], heldOutFraction: 1))
        XCTAssertThrowsError(try fitLinearBoundary(latents: x, labels: [true, false, true, false], l2: 0))
    }
}
