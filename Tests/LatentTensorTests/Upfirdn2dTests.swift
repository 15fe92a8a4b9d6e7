import XCTest
import LatentTensor
import _TestSupport

final class Upfirdn2dTests: XCTestCase {
    /// Filters that expose flips and transpositions: the StyleGAN filter, an asymmetric
    /// non-square 2-D filter, and a separable one.
    func filters() -> [(String, Tensor)] {
        var rng = TestRNG(seed: 5)
        return [("resample[1,3,3,1]", setupFilter([1, 3, 3, 1])),
                ("asym3x4", rng.tensor([3, 4], 0.1, 1)),
                ("separable5", setupFilter([1, 2, 4, 3, 1], separable: true)),
                ("1x1", Tensor(shape: [1, 1], data: [0.7]))]
    }

    typealias Case = (up: Int, down: Int, pad: Upfirdn2dPadding, flip: Bool, gain: Float)
    let cases: [Case] = [
        (1, 1, (1, 2, 2, 1), false, 1), (1, 1, (0, 0, 0, 0), true, 1), (1, 1, (-1, 2, 1, -1), false, 1.5),
        (2, 1, (2, 1, 2, 1), false, 4), (2, 1, (1, 0, 3, 2), true, 4), (1, 2, (1, 1, 2, 0), false, 1),
        (1, 2, (0, 1, 0, 1), true, 2), (2, 2, (1, 2, 2, 1), false, 1), (3, 2, (2, 2, 1, 3), false, 1),
    ]

    func testSetupFilterMatchesReference() {
        // setup_filter([1,3,3,1]): outer product / 64.
        let f = setupFilter([1, 3, 3, 1])
        XCTAssertEqual(f.shape, [4, 4])
        XCTAssertEqual(f[0, 0], 1.0 / 64, accuracy: 1e-9)
        XCTAssertEqual(f[1, 2], 9.0 / 64, accuracy: 1e-9)
        XCTAssertEqual(f.storage.reduce(0, +), 1, accuracy: 1e-6)
        let s = setupFilter([1, 2, 3, 4, 5, 6, 7, 8], gain: 4)   // >= 8 taps: separable, gain^(1/2)
        XCTAssertEqual(s.shape, [8])
        XCTAssertEqual(s[7], 8.0 / 36 * 2, accuracy: 1e-6)
        let fl = setupFilter([1, 2], flipFilter: true)
        XCTAssertEqual(fl.storage, [4.0 / 9, 2.0 / 9, 2.0 / 9, 1.0 / 9])
    }

    /// Fast kernels against the literal reference on odd shapes, every mode.
    func testFastMatchesReference() {
        var rng = TestRNG(seed: 1)
        let x = rng.tensor([2, 3, 7, 5])
        for (name, f) in filters() {
            for c in cases {
                let (fw, fh) = f.rank == 1 ? (f.shape[0], f.shape[0]) : (f.shape[1], f.shape[0])
                if 7 * c.up + c.pad.y0 + c.pad.y1 < fh || 5 * c.up + c.pad.x0 + c.pad.x1 < fw { continue }
                let fast = upfirdn2d(x, filter: f, up: c.up, down: c.down, padding: c.pad, flipFilter: c.flip, gain: c.gain)
                let ref = upfirdn2dReference(x, filter: f, up: c.up, down: c.down, padding: c.pad, flipFilter: c.flip, gain: c.gain)
                assertClose(fast, ref, atol: 2e-6, rtol: 1e-5, "\(name) \(c)")
            }
        }
    }

    /// The separable resampling path (up or down ≠ 1 with a separable filter: row then column
    /// tap tables) on larger odd planes, with cropping (negative padding) and asymmetric pads.
    func testSeparableResamplingMatchesReference() {
        var rng = TestRNG(seed: 9)
        let x = rng.tensor([3, 2, 13, 11])
        let sep5 = setupFilter([1, 2, 4, 3, 1], separable: true), resample = setupFilter([1, 3, 3, 1])
        let cases: [(Tensor, Int, Int, Upfirdn2dPadding, Bool, Float)] = [
            (resample, 2, 1, (2, 1, 2, 1), false, 4), (resample, 1, 2, (1, 1, 1, 1), true, 1),
            (sep5, 3, 2, (-1, 2, 3, -2), false, 2), (sep5, 2, 3, (0, -1, 2, 1), true, 1), (resample, 4, 4, (-2, 0, 1, 3), false, 1),
        ]
        for (f, up, down, pad, flip, gain) in cases {
            let fast = upfirdn2d(x, filter: f, up: up, down: down, padding: pad, flipFilter: flip, gain: gain)
            let ref = upfirdn2dReference(x, filter: f, up: up, down: down, padding: pad, flipFilter: flip, gain: gain)
            XCTAssertEqual(fast.shape, ref.shape)
            assertClose(fast, ref, atol: 2e-6, rtol: 1e-5, "up \(up) down \(down) pad \(pad)")
        }
    }

    /// The reference itself against a hand-computed case: 1-D up=2 with [1,3,3,1] is the
    /// classic bilinear-like interpolation (upsample2d: padding (2,1), gain up²).
    func testReferenceHandComputed() {
        let x = Tensor(shape: [1, 1, 1, 3], data: [1, 2, 4])
        let f = Tensor(shape: [1, 4], data: [1, 3, 3, 1].map { $0 / 8 })
        let y = upfirdn2dReference(x, filter: f, up: 2, padding: (2, 1, 0, 0), gain: 2)
        // zero-insert: [1,0,2,0,4,0], pad (2,1): [0,0,1,0,2,0,4,0,0]; convolve with [1,3,3,1]/8*2.
        let up: [Double] = [0, 0, 1, 0, 2, 0, 4, 0, 0], k: [Double] = [1, 3, 3, 1].map { $0 / 4 }
        let want = (0..<6).map { o in (0..<4).reduce(0.0) { $0 + k[3 - $1] * up[o + $1] } }
        // `up` applies to both axes: the single row becomes [row, zeros].
        XCTAssertEqual(y.shape, [1, 1, 2, 6])
        for i in 0..<6 {
            XCTAssertEqual(Double(y[0, 0, 0, i]), want[i], accuracy: 1e-6)
            XCTAssertEqual(y[0, 0, 1, i], 0)
        }
        // Same through the fast path.
        let yf = upfirdn2d(x, filter: f, up: 2, padding: (2, 1, 0, 0), gain: 2)
        assertClose(yf, y, atol: 1e-6, rtol: 0)
    }

    /// <upfirdn2d(x), y> = <x, upfirdn2dBackward(y)>: the backward is the exact adjoint.
    func testBackwardIsAdjoint() {
        var rng = TestRNG(seed: 2)
        for (name, f) in filters() {
            for c in cases {
                for (h, w) in [(7, 5), (6, 9)] {
                    let (fw, fh) = f.rank == 1 ? (f.shape[0], f.shape[0]) : (f.shape[1], f.shape[0])
                    if h * c.up + c.pad.y0 + c.pad.y1 < fh || w * c.up + c.pad.x0 + c.pad.x1 < fw { continue }
                    let x = rng.tensor([2, 2, h, w])
                    let fx = upfirdn2d(x, filter: f, up: c.up, down: c.down, padding: c.pad, flipFilter: c.flip, gain: c.gain)
                    let y = rng.tensor(fx.shape)
                    let bt = upfirdn2dBackward(gradOutput: y, inputHeight: h, inputWidth: w, filter: f, up: c.up,
                                               down: c.down, padding: c.pad, flipFilter: c.flip, gain: c.gain)
                    XCTAssertEqual(bt.shape, x.shape)
                    let lhs = zip(fx.doubles, y.doubles).reduce(0) { $0 + $1.0 * $1.1 }
                    let rhs = zip(x.doubles, bt.doubles).reduce(0) { $0 + $1.0 * $1.1 }
                    XCTAssertEqual(lhs, rhs, accuracy: 1e-5 * max(1, abs(lhs)), "\(name) \(c) \(h)x\(w)")
                }
            }
        }
    }

    /// Backward against central differences of the double-precision reference.
    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 3)
        let f = filters()[1].1
        for c in [cases[0], cases[3], cases[5], cases[8]] {
            let shape = [1, 2, 5, 4]
            let x = rng.doubles(shape.reduce(1, *))
            let xt = Tensor(shape: shape, data: x.map { Float($0) })
            let out = upfirdn2d(xt, filter: f, up: c.up, down: c.down, padding: c.pad, flipFilter: c.flip, gain: c.gain)
            let r = rng.tensor(out.shape)
            let numeric = numericalGradient(x) { xv in
                let o = upfirdn2dReferenceDouble(xv, shape: shape, filter: f, up: c.up, down: c.down, padding: c.pad,
                                                 flipFilter: c.flip, gain: c.gain)
                return zip(o, r.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            }
            let analytic = upfirdn2dBackward(gradOutput: r, inputHeight: 5, inputWidth: 4, filter: f, up: c.up,
                                             down: c.down, padding: c.pad, flipFilter: c.flip, gain: c.gain)
            assertClose(analytic, Tensor(shape: shape, data: numeric.map { Float($0) }), atol: 1e-5, rtol: 1e-4, "\(c)")
        }
    }

    func testOutputSizeOfStyleGANUpsample() {
        // upsample2d(x, [1,3,3,1]) on 8x8: padding (2,1,2,1), up 2 -> 16x16.
        let f = setupFilter([1, 3, 3, 1])
        let s = upfirdn2dOutputSize(height: 8, width: 8, filter: f, up: 2, padding: (2, 1, 2, 1))
        XCTAssertEqual(s.height, 16); XCTAssertEqual(s.width, 16)
        // A constant image stays constant in the interior after upsample2d (DC gain 1).
        let x = Tensor(shape: [1, 1, 6, 6], repeating: 2)
        let y = upfirdn2d(x, filter: f, up: 2, padding: (2, 1, 2, 1), gain: 4)
        XCTAssertEqual(y[0, 0, 5, 6], 2, accuracy: 1e-6)
    }
}
