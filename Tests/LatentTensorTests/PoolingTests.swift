import XCTest
import LatentTensor
import _TestSupport

final class PoolingTests: XCTestCase {
    /// (N, C, H, W, kernel, stride, padding): VGG's 2/2, AlexNet's 3/2, padded and odd sizes.
    let cases = [(2, 3, 8, 8, 2, 2, 0), (1, 4, 13, 11, 3, 2, 0), (2, 2, 7, 9, 3, 2, 1), (3, 1, 5, 6, 2, 1, 1), (1, 2, 9, 7, 4, 3, 2)]

    func testMaxPoolForwardAndIndices() {
        var rng = TestRNG(seed: 70)
        for (n, c, h, w, k, s, p) in cases {
            let x = rng.tensor([n, c, h, w])
            let (y, idx) = maxPool2d(x, kernel: k, stride: s, padding: p)
            XCTAssertEqual(y, maxPool2dReference(x, kernel: k, stride: s, padding: p), "case \((n, c, h, w, k, s, p))")
            let plane = y.shape[2] * y.shape[3]
            for j in 0..<y.count {
                XCTAssertEqual(x[flat: (j / plane) * h * w + Int(idx[j])], y[flat: j])
            }
        }
        // Ties go to the first element in window order (PyTorch).
        let tie = Tensor(shape: [1, 1, 2, 2], data: [1, 3, 3, 2])
        XCTAssertEqual(maxPool2d(tie, kernel: 2).indices, [1])
    }

    func testMaxPoolBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 71)
        for (n, c, h, w, k, s, p) in cases.prefix(3) {
            let x = rng.tensor([n, c, h, w])   // distinct values: no ties, so max is locally linear
            let (y, idx) = maxPool2d(x, kernel: k, stride: s, padding: p)
            let r = rng.doubles(y.count)
            let g = maxPool2dBackward(gradOutput: Tensor(shape: y.shape, data: r.map(Float.init)), indices: idx, inputShape: x.shape)
            let oh = y.shape[2], ow = y.shape[3]
            let num = numericalGradient(x.doubles, h: 1e-7) { v in
                var total = 0.0
                for pl in 0..<(n * c) { for oy in 0..<oh { for ox in 0..<ow {
                    var m = -Double.infinity
                    for ky in 0..<k { for kx in 0..<k {
                        let iy = oy * s - p + ky, ix = ox * s - p + kx
                        if iy >= 0 && iy < h && ix >= 0 && ix < w { m = max(m, v[pl * h * w + iy * w + ix]) }
                    } }
                    total += m * r[(pl * oh + oy) * ow + ox]
                } } }
                return total
            }
            assertGradClose(g.storage, num, "maxPool \((n, c, h, w, k, s, p))")
        }
    }

    func testAvgPoolForwardAndAdjoint() {
        var rng = TestRNG(seed: 72)
        for (n, c, h, w, k, s, p) in cases {
            for include in [true, false] {
                let x = rng.tensor([n, c, h, w])
                let y = avgPool2d(x, kernel: k, stride: s, padding: p, countIncludePad: include)
                assertClose(y, avgPool2dReference(x, kernel: k, stride: s, padding: p, countIncludePad: include),
                            atol: 1e-6, rtol: 1e-6, "case \((n, c, h, w, k, s, p)) include \(include)")
                // avgPool is linear, its backward the exact adjoint.
                let r = rng.tensor(y.shape)
                let back = avgPool2dBackward(gradOutput: r, inputShape: x.shape, kernel: k, stride: s, padding: p,
                                             countIncludePad: include)
                let lhs = dotD(y.doubles, r.doubles)
                XCTAssertEqual(lhs, dotD(x.doubles, back.doubles), accuracy: 1e-5 * max(1, abs(lhs)))
            }
        }
        // A 2×2 average of a known plane (MS-SSIM's downsampling).
        let x = Tensor(shape: [1, 1, 2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(avgPool2d(x, kernel: 2).storage, [3.5, 5.5])
    }
}
