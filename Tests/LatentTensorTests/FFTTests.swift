import XCTest
import Foundation
import LatentTensor
import _TestSupport

/// Naive DFTs in Double, written from numpy.fft's definitions, for comparison with FFTW.
enum NaiveDFT {
    /// numpy.fft.rfft2 (norm "backward") of one `[h, w]` image: (re, im) each `[h, w/2+1]`.
    static func rfft2(_ x: [Double], h: Int, w: Int) -> (re: [Double], im: [Double]) {
        let wc = w / 2 + 1
        var re = [Double](repeating: 0, count: h * wc), im = re
        for k1 in 0..<h { for k2 in 0..<wc {
            var sr = 0.0, si = 0.0
            for n1 in 0..<h { for n2 in 0..<w {
                let phase = -2 * Double.pi * (Double(k1 * n1 % h) / Double(h) + Double(k2 * n2 % w) / Double(w))
                sr += x[n1 * w + n2] * cos(phase)
                si += x[n1 * w + n2] * sin(phase)
            } }
            re[k1 * wc + k2] = sr; im[k1 * wc + k2] = si
        } }
        return (re, im)
    }

    /// numpy.fft.irfft2 (norm "backward") to `[h, w]`: complex inverse DFT along the rows'
    /// axis, then the Hermitian real inverse along the last axis, which uses only the real part
    /// of the DC and (even w) Nyquist terms.
    static func irfft2(re: [Double], im: [Double], h: Int, w: Int) -> [Double] {
        let wc = w / 2 + 1
        // Step 1: inverse complex DFT over axis 0 for every kept column.
        var yr = [Double](repeating: 0, count: h * wc), yi = yr
        for n1 in 0..<h { for k2 in 0..<wc {
            var sr = 0.0, si = 0.0
            for k1 in 0..<h {
                let phase = 2 * Double.pi * Double(k1 * n1 % h) / Double(h)
                let (a, b) = (re[k1 * wc + k2], im[k1 * wc + k2])
                sr += a * cos(phase) - b * sin(phase)
                si += a * sin(phase) + b * cos(phase)
            }
            yr[n1 * wc + k2] = sr / Double(h); yi[n1 * wc + k2] = si / Double(h)
        } }
        // Step 2: Hermitian inverse over the last axis.
        var out = [Double](repeating: 0, count: h * w)
        for n1 in 0..<h { for n2 in 0..<w {
            var s = yr[n1 * wc]                               // DC: real part only
            for k2 in 1..<wc {
                let phase = 2 * Double.pi * Double(k2 * n2 % w) / Double(w)
                let term = yr[n1 * wc + k2] * cos(phase) - yi[n1 * wc + k2] * sin(phase)
                s += (w % 2 == 0 && k2 == w / 2) ? term : 2 * term   // Nyquist counted once, real part
            }
            out[n1 * w + n2] = s / Double(w)
        } }
        return out
    }
}

final class FFTTests: XCTestCase {
    /// Sizes that exercise odd/even widths and heights and non-powers of two.
    let sizes = [(7, 9), (11, 13), (6, 10), (5, 8), (1, 7), (9, 1), (12, 15)]

    func testRfft2MatchesNaiveDFT() throws {
        var rng = TestRNG(seed: 21)
        for (h, w) in sizes {
            let x = rng.tensor([2, 3, h, w])
            let (re, im) = try rfft2(x)
            XCTAssertEqual(re.shape, [2, 3, h, w / 2 + 1])
            let wc = w / 2 + 1
            var maxErr = 0.0, maxRef = 0.0
            for b in 0..<6 {
                let xs = Array(x.doubles[(b * h * w)..<((b + 1) * h * w)])
                let ref = NaiveDFT.rfft2(xs, h: h, w: w)
                for i in 0..<(h * wc) {
                    maxErr = max(maxErr, abs(Double(re[flat: b * h * wc + i]) - ref.re[i]), abs(Double(im[flat: b * h * wc + i]) - ref.im[i]))
                    maxRef = max(maxRef, abs(ref.re[i]), abs(ref.im[i]))
                }
            }
            // Float32 FFT error grows like eps·log(n)·‖x‖; 1e-5 of the spectrum peak is generous yet
            // far below the O(1) error of any wrong twiddle or index.
            XCTAssertLessThan(maxErr, 1e-5 * maxRef, "rfft2 \(h)×\(w)")
        }
    }

    func testIrfft2MatchesNaiveInverse() throws {
        var rng = TestRNG(seed: 22)
        for (h, w) in sizes {
            // A Hermitian-consistent spectrum (the transform of real data) plus random edits to the
            // non-redundant coefficients.
            let wc = w / 2 + 1
            let x = rng.tensor([h, w])
            var ref = NaiveDFT.rfft2(x.doubles, h: h, w: w)
            for i in 0..<(h * wc) { ref.re[i] += rng.uniform(-0.5, 0.5) }
            ref = NaiveDFT.rfft2(NaiveDFT.irfft2(re: ref.re, im: ref.im, h: h, w: w), h: h, w: w)
            let re = Tensor(shape: [h, wc], data: ref.re.map(Float.init))
            let im = Tensor(shape: [h, wc], data: ref.im.map(Float.init))
            let y = try irfft2(re: re, im: im, height: h, width: w)
            let want = NaiveDFT.irfft2(re: re.doubles, im: im.doubles, h: h, w: w)
            let scale = want.reduce(0) { max($0, abs($1)) }
            for i in 0..<(h * w) {
                XCTAssertEqual(Double(y[flat: i]), want[i], accuracy: 1e-5 * max(scale, 1), "irfft2 \(h)×\(w) at \(i)")
            }
        }
    }

    /// numpy ignores the parts of a half spectrum that are not Hermitian-consistent; FFTW's c2r must
    /// agree with that on arbitrary input, or the inverse is not numpy's irfft2.
    func testIrfft2OnNonHermitianInputMatchesNumpyDefinition() throws {
        var rng = TestRNG(seed: 23)
        for (h, w) in sizes {
            let wc = w / 2 + 1
            let re = rng.tensor([h, wc]), im = rng.tensor([h, wc])
            let y = try irfft2(re: re, im: im, height: h, width: w)
            let want = NaiveDFT.irfft2(re: re.doubles, im: im.doubles, h: h, w: w)
            for i in 0..<(h * w) {
                XCTAssertEqual(Double(y[flat: i]), want[i], accuracy: 1e-5, "non-Hermitian irfft2 \(h)×\(w) at \(i)")
            }
        }
    }

    func testRoundTripAllNormalizations() throws {
        var rng = TestRNG(seed: 24)
        for (h, w) in sizes {
            let x = rng.tensor([3, h, w])
            for norm in FFTNormalization.allCases {
                let (re, im) = try rfft2(x, norm: norm)
                let y = try irfft2(re: re, im: im, height: h, width: w, norm: norm)
                assertClose(y, x, atol: 2e-6, rtol: 0, "round trip \(h)×\(w) \(norm)")
            }
        }
    }

    /// Scaling conventions: ortho is unitary (Parseval: Σx² = Σ over the full spectrum of |X|²,
    /// where the half spectrum's non-self-conjugate columns stand for two coefficients each), and
    /// `forward` is `backward` divided by H·W.
    func testNormalizationConventions() throws {
        var rng = TestRNG(seed: 25)
        for (h, w) in [(7, 9), (6, 10)] {
            let x = rng.tensor([h, w])
            let (re, im) = try rfft2(x, norm: .ortho)
            let wc = w / 2 + 1
            var energy = 0.0
            for k1 in 0..<h { for k2 in 0..<wc {
                let mult = (k2 == 0 || (w % 2 == 0 && k2 == w / 2)) ? 1.0 : 2.0
                energy += mult * (Double(re[k1, k2]) * Double(re[k1, k2]) + Double(im[k1, k2]) * Double(im[k1, k2]))
            } }
            let sx = x.doubles.reduce(0) { $0 + $1 * $1 }
            XCTAssertEqual(energy, sx, accuracy: 1e-5 * sx)
            let (rb, _) = try rfft2(x, norm: .backward)
            let (rf, _) = try rfft2(x, norm: .forward)
            for i in 0..<rb.count {
                XCTAssertEqual(rf[flat: i] * Float(h * w), rb[flat: i], accuracy: 1e-4 * max(1, abs(rb[flat: i])))
            }
        }
    }

    /// Batched, parallel execution must equal one-at-a-time execution (plans shared across threads).
    func testBatchMatchesSingleImages() throws {
        var rng = TestRNG(seed: 26)
        let x = rng.tensor([37, 5, 6])
        let (re, im) = try rfft2(x)
        for b in [0, 13, 36] {
            let (r1, i1) = try rfft2(x.row(b))
            XCTAssertEqual(re.row(b), r1)
            XCTAssertEqual(im.row(b), i1)
        }
    }

    func testBadShapesThrow() {
        XCTAssertThrowsError(try rfft2(Tensor.zeros([5])))
        XCTAssertThrowsError(try rfft2(Tensor.zeros([2, 0, 4])))
        XCTAssertThrowsError(try irfft2(re: Tensor.zeros([4, 3]), im: Tensor.zeros([4, 4]), height: 4, width: 4))
        XCTAssertThrowsError(try irfft2(re: Tensor.zeros([4, 3]), im: Tensor.zeros([4, 3]), height: 4, width: 6))
        XCTAssertThrowsError(try irfft2(re: Tensor.zeros([4, 3]), im: Tensor.zeros([4, 3]), height: 0, width: 4))
    }
}
