import XCTest
import LatentTensor
import _TestSupport

final class Im2colTests: XCTestCase {
    /// <im2col(x), y> must equal <x, col2im(y)> for every geometry: catches padding and stride errors.
    /// (col2im sums in float32, so agreement is to ~1e-7 relative; a wrong tap is off by O(1).)
    func testIm2colAdjoint() {
        var rng = TestRNG(seed: 7)
        for (c, h, w, k, s, p) in [(3, 7, 5, 3, 1, 1), (2, 9, 6, 3, 2, 1), (1, 5, 5, 1, 1, 0), (4, 6, 7, 4, 2, 2), (2, 3, 3, 3, 1, 2)] {
            let g = ConvGeometry(channels: c, height: h, width: w, kernelH: k, kernelW: k, stride: s, padding: p)
            let x = rng.tensor([c, h, w])
            let y = rng.tensor([g.colRows, g.colCols])
            var cols = Tensor.zeros([g.colRows, g.colCols])
            var back = Tensor.zeros([c, h, w])
            x.withUnsafeBufferPointer { px in cols.withUnsafeMutableBufferPointer { im2col(px.baseAddress!, g, $0.baseAddress!) } }
            y.withUnsafeBufferPointer { py in back.withUnsafeMutableBufferPointer { col2im(py.baseAddress!, g, $0.baseAddress!) } }
            let lhs = zip(cols.doubles, y.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            let rhs = zip(x.doubles, back.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-5 * max(1, abs(lhs)), "geometry \(g)")
        }
    }

    /// im2col against the definition, tap by tap.
    func testIm2colMatchesDefinition() {
        var rng = TestRNG(seed: 3)
        let g = ConvGeometry(channels: 2, height: 5, width: 6, kernelH: 3, kernelW: 3, stride: 2, padding: 1)
        let x = rng.tensor([2, 5, 6])
        var cols = Tensor.zeros([g.colRows, g.colCols])
        x.withUnsafeBufferPointer { px in cols.withUnsafeMutableBufferPointer { im2col(px.baseAddress!, g, $0.baseAddress!) } }
        for c in 0..<2 { for ky in 0..<3 { for kx in 0..<3 { for oy in 0..<g.outHeight { for ox in 0..<g.outWidth {
            let iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx
            let want: Float = (iy >= 0 && iy < 5 && ix >= 0 && ix < 6) ? x[c, iy, ix] : 0
            XCTAssertEqual(cols[(c * 3 + ky) * 3 + kx, oy * g.outWidth + ox], want)
        } } } } }
    }

    func testSgemmAgainstNaive() {
        var rng = TestRNG(seed: 11)
        let a = rng.tensor([5, 7]), b = rng.tensor([7, 3])
        let c = matmul(a, b)
        let ct = matmul(a.reshaped([5, 7]), b, transA: false)
        for i in 0..<5 { for j in 0..<3 {
            var s: Double = 0
            for k in 0..<7 { s += Double(a[i, k]) * Double(b[k, j]) }
            XCTAssertEqual(Double(c[i, j]), s, accuracy: 1e-5)
        } }
        XCTAssertEqual(c, ct)
        let at = rng.tensor([7, 5])
        let c2 = matmul(at, b, transA: true)
        for i in 0..<5 { for j in 0..<3 {
            var s: Double = 0
            for k in 0..<7 { s += Double(at[k, i]) * Double(b[k, j]) }
            XCTAssertEqual(Double(c2[i, j]), s, accuracy: 1e-5)
        } }
    }
}
