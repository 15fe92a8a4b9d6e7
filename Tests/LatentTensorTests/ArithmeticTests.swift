import XCTest
import LatentTensor
import _TestSupport

final class ArithmeticTests: XCTestCase {
    /// Broadcast elementwise ops against an index-by-index definition, on shapes that exercise the
    /// equal, trailing-suffix, leading-suffix and general strided paths.
    func testBroadcastOpsMatchDefinition() {
        var rng = TestRNG(seed: 1)
        let cases: [([Int], [Int])] = [([3, 5], [3, 5]), ([4, 3, 5], [5]), ([5], [2, 3, 5]), ([2, 3, 1], [1, 4]),
                                       ([2, 3, 4, 5], [3, 1, 1]), ([3, 1, 5], [3, 4, 1]), ([3, 5], []), ([], [2, 3]),
                                       ([1, 1, 7], [2, 7])]
        for (sa, sb) in cases {
            let a = rng.tensor(sa), b = rng.tensor(sb, 0.5, 2)
            let shape = Tensor.broadcastShape(sa, sb)!
            let results = [a + b, a - b, a * b, a / b]
            let ops: [(Float, Float) -> Float] = [(+), (-), (*), (/)]
            for (r, op) in zip(results, ops) {
                XCTAssertEqual(r.shape, shape)
                for f in 0..<r.count {
                    let idx = unflatten(f, shape)
                    let want = op(a[flat: broadcastFlat(idx, sa)], b[flat: broadcastFlat(idx, sb)])
                    XCTAssertEqual(r[flat: f], want, "\(sa) op \(sb) at \(idx)")
                }
            }
        }
        XCTAssertNil(Tensor.broadcastShape([3, 4], [5]))
    }

    func testScalarAndInPlaceOps() {
        var rng = TestRNG(seed: 2)
        let a = rng.tensor([3, 7]), bias = rng.tensor([7])
        XCTAssertEqual((a * 2 + 1).storage, a.storage.map { $0 * 2 + 1 })
        XCTAssertEqual((1 - a).storage, a.storage.map { 1 - $0 })
        XCTAssertEqual((2 / (a + 3)).storage, a.storage.map { 2 / ($0 + 3) })
        XCTAssertEqual((-a).storage, a.storage.map { -$0 })
        var c = a
        c += bias
        XCTAssertEqual(c, a + bias)
        c -= bias
        assertClose(c, a, atol: 1e-6)
        c = a
        c *= 3
        c /= a + 5
        XCTAssertEqual(c, a * 3 / (a + 5))
        var d = a
        d.add(bias.reshaped([1, 7]) * Tensor.ones([3, 7]), scaledBy: 0.5)
        assertClose(d, a + bias * 0.5, atol: 1e-6)
        XCTAssertEqual(a.squared(), a * a)
        var e = bias
        e += Tensor.scalar(2)
        XCTAssertEqual(e.shape, [7])
        XCTAssertEqual(e, bias + 2)
    }

    func testReductions() {
        var rng = TestRNG(seed: 3)
        let x = rng.tensor([3, 4, 5])
        let total = x.doubles.reduce(0, +)
        XCTAssertEqual(Double(x.sum()), total, accuracy: 1e-5)
        XCTAssertEqual(Double(x.mean()), total / 60, accuracy: 1e-6)
        let y = rng.tensor([3, 4, 5])
        XCTAssertEqual(Double(dot(x, y)), zip(x.doubles, y.doubles).reduce(0) { $0 + $1.0 * $1.1 }, accuracy: 1e-5)
        for axis in [0, 1, 2, -1] {
            let s = x.sum(axis: axis), ax = axis < 0 ? 3 + axis : axis
            var shape = x.shape; shape.remove(at: ax)
            XCTAssertEqual(s.shape, shape)
            for f in 0..<s.count {
                var idx = unflatten(f, shape)
                idx.insert(0, at: ax)
                var want = 0.0
                for l in 0..<x.shape[ax] { idx[ax] = l; want += Double(x[flat: flatten(idx, x.shape)]) }
                XCTAssertEqual(Double(s[flat: f]), want, accuracy: 1e-6)
            }
            XCTAssertEqual(x.sum(axis: axis, keepDims: true).shape, x.shape.enumerated().map { $0.offset == ax ? 1 : $0.element })
            assertClose(x.mean(axis: axis), s / Float(x.shape[ax]), atol: 1e-7)
        }
    }

    /// sum(toShape:) is the adjoint of broadcasting: <broadcast(b), g> = <b, g.sum(toShape: b.shape)>.
    func testSumToShapeIsBroadcastAdjoint() {
        var rng = TestRNG(seed: 4)
        for (big, small) in [([2, 3, 4, 5], [3, 1, 1]), ([4, 3, 5], [5]), ([3, 4, 5], [1, 4, 1]), ([2, 3], []), ([3, 5], [3, 5])] {
            let g = rng.tensor(big), b = rng.tensor(small)
            let broadcast = b + Tensor.zeros(big)
            let reduced = g.sum(toShape: small)
            XCTAssertEqual(reduced.shape, small)
            XCTAssertEqual(Double(broadcast.dot(g)), Double(b.dot(reduced)), accuracy: 1e-5, "\(big) -> \(small)")
        }
    }
}

func unflatten(_ f: Int, _ shape: [Int]) -> [Int] {
    var idx = [Int](repeating: 0, count: shape.count), r = f
    for d in stride(from: shape.count - 1, through: 0, by: -1) { idx[d] = r % shape[d]; r /= shape[d] }
    return idx
}

func flatten(_ idx: [Int], _ shape: [Int]) -> Int { zip(idx, shape).reduce(0) { $0 * $1.1 + $1.0 } }

/// Flat index into a tensor of `shape` for a (right-aligned) broadcast index `idx`.
func broadcastFlat(_ idx: [Int], _ shape: [Int]) -> Int {
    let off = idx.count - shape.count
    var f = 0
    for d in 0..<shape.count { f = f * shape[d] + (shape[d] == 1 ? 0 : idx[d + off]) }
    return f
}

/// Σ_i x_i · r_i in Double.
func dotD(_ x: [Double], _ r: [Double]) -> Double { zip(x, r).reduce(0) { $0 + $1.0 * $1.1 } }

/// Asserts two gradient vectors agree to `rtol` relative to the larger magnitude of `reference`.
func assertGradClose(_ got: [Float], _ reference: [Double], rtol: Double = 1e-4, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, reference.count, what, file: file, line: line)
    let scale = max(reference.map(abs).max() ?? 0, 1e-8)
    var worst = 0.0
    for (g, r) in zip(got, reference) { worst = max(worst, abs(Double(g) - r)) }
    XCTAssertLessThan(worst / scale, rtol, "\(what): gradient relative error \(worst / scale)", file: file, line: line)
}
