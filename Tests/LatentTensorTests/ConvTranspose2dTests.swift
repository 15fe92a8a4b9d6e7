import XCTest
import LatentTensor
import _TestSupport

/// (N, Ci, H, W, Co, k, stride, padding, outputPadding, groups).
let convTransposeCases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (3, 5, 4, 6, 3, 3, 2, 1, 1, 1),
    (2, 4, 5, 3, 6, 3, 1, 1, 0, 2),
    (1, 3, 3, 4, 5, 4, 2, 1, 0, 1),
    (3, 6, 4, 5, 4, 3, 3, 0, 2, 2),
    (2, 3, 5, 5, 2, 1, 1, 0, 0, 1),
]

final class ConvTranspose2dTests: XCTestCase {
    func testForwardMatchesReference() {
        var rng = TestRNG(seed: 60)
        for (n, ci, h, w, co, k, s, p, op, g) in convTransposeCases {
            let x = rng.tensor([n, ci, h, w]), wt = rng.tensor([ci, co / g, k, k]), b = rng.tensor([co])
            let y = convTranspose2d(x, weight: wt, bias: b, stride: s, padding: p, outputPadding: op, groups: g)
            XCTAssertEqual(y.shape, [n, co, (h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op])
            assertClose(y, convTranspose2dReference(x, weight: wt, bias: b, stride: s, padding: p, outputPadding: op, groups: g),
                        atol: 1e-5, rtol: 1e-5, "case \((n, ci, h, w, co, k, s, p, op, g))")
        }
    }

    /// convTranspose2d is the adjoint of conv2d with the same weight: <convT(x), y> = <x, conv2d(y)>;
    /// and its input gradient is its own adjoint.
    func testAdjoints() {
        var rng = TestRNG(seed: 61)
        for (n, ci, h, w, co, k, s, p, op, g) in convTransposeCases {
            let x = rng.tensor([n, ci, h, w]), wt = rng.tensor([ci, co / g, k, k])
            let y = convTranspose2d(x, weight: wt, stride: s, padding: p, outputPadding: op, groups: g)
            let r = rng.tensor(y.shape)
            let viaConv = conv2d(r, weight: wt, stride: s, padding: p, groups: g)
            XCTAssertEqual(viaConv.shape, x.shape)
            let lhs = dotD(y.doubles, r.doubles)
            XCTAssertEqual(lhs, dotD(x.doubles, viaConv.doubles), accuracy: 1e-5 * max(1, abs(lhs)))
            let back = convTranspose2dBackward(gradOutput: r, x: x, weight: wt, stride: s, padding: p,
                                               outputPadding: op, groups: g).gradInput!
            XCTAssertEqual(lhs, dotD(x.doubles, back.doubles), accuracy: 1e-5 * max(1, abs(lhs)))
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 62)
        for (n, ci, h, w, co, k, s, p, op, g) in [(2, 4, 3, 4, 2, 3, 2, 1, 1, 2), (1, 2, 3, 3, 3, 2, 1, 0, 0, 1)] {
            let x = rng.tensor([n, ci, h, w]), wt = rng.tensor([ci, co / g, k, k]), b = rng.tensor([co])
            let ho = (h - 1) * s - 2 * p + k + op, wo = (w - 1) * s - 2 * p + k + op
            let r = rng.doubles(n * co * ho * wo)
            func f(_ xv: [Double], _ wv: [Double], _ bv: [Double]) -> Double {
                // Scatter definition in Double.
                let cinG = ci / g, coutG = co / g
                var y = [Double](repeating: 0, count: n * co * ho * wo)
                for bi in 0..<n { for c in 0..<ci { for iy in 0..<h { for ix in 0..<w {
                    for oc in 0..<coutG { for ky in 0..<k { for kx in 0..<k {
                        let oy = iy * s - p + ky, ox = ix * s - p + kx
                        if oy < 0 || oy >= ho || ox < 0 || ox >= wo { continue }
                        let o = (c / cinG) * coutG + oc
                        y[((bi * co + o) * ho + oy) * wo + ox] += xv[((bi * ci + c) * h + iy) * w + ix] * wv[((c * coutG + oc) * k + ky) * k + kx]
                    } } }
                } } } }
                for i in 0..<y.count { y[i] += bv[(i / (ho * wo)) % co] }
                return dotD(y, r)
            }
            let grads = convTranspose2dBackward(gradOutput: Tensor(shape: [n, co, ho, wo], data: r.map(Float.init)),
                                                x: x, weight: wt, stride: s, padding: p, outputPadding: op, groups: g)
            assertGradClose(grads.gradInput!.storage, numericalGradient(x.doubles) { f($0, wt.doubles, b.doubles) }, "dx")
            assertGradClose(grads.gradWeight!.storage, numericalGradient(wt.doubles) { f(x.doubles, $0, b.doubles) }, "dW")
            assertGradClose(grads.gradBias!.storage, numericalGradient(b.doubles) { f(x.doubles, wt.doubles, $0) }, "db")
        }
    }
}
