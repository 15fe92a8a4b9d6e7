import XCTest
import Foundation
import LatentTensor
import _TestSupport
import LatentInversion

final class ImageLossTests: XCTestCase {
    let (n, c, h, w) = (2, 3, 11, 13)

    /// Compares a loss with its naive Double twin: per-image values, and the gradient against
    /// central differences of the naive twin's summed loss.
    func check(_ loss: any ImageLoss, x: Tensor, y: Tensor, mask: Tensor?, valueTol: Double = 1e-5, gradTol: Float = 1e-4,
               naive: ([Double]) -> [Double], file: StaticString = #filePath, line: UInt = #line) throws {
        let (values, grad) = try loss.evaluate(reconstruction: x, target: y, mask: mask)
        let want = naive(x.doubles)
        XCTAssertEqual(values.count, want.count, file: file, line: line)
        for i in 0..<want.count {
            XCTAssertEqual(Double(values[i]), want[i], accuracy: valueTol * max(1, abs(want[i])), "loss[\(i)]", file: file, line: line)
        }
        let fd = numericalGradient(x.doubles) { naive($0).reduce(0, +) }
        let fdT = Tensor(shape: x.shape, data: fd.map(Float.init))
        let err = relativeError(grad, fdT)
        XCTAssertLessThan(err, gradTol, "gradient vs finite differences (max |fd| \(fdT.storage.map(abs).max()!))", file: file, line: line)
        XCTAssertGreaterThan(fdT.storage.map(abs).max()!, 1e-6, "degenerate check: zero gradient", file: file, line: line)
    }

    /// Correlated pair in [-1, 1] with |x − y| ≥ 0.02 everywhere (away from L1's kink).
    func pair(seed: UInt64, shape: [Int]? = nil) -> (Tensor, Tensor) {
        var rng = TestRNG(seed: seed)
        let shape = shape ?? [n, c, h, w]
        let y = rng.tensor(shape, -0.8, 0.8)
        let x = Tensor(shape: shape, data: y.storage.map { v in
            let d = Float(rng.uniform(0.02, 0.3)) * (rng.uniform() < 0 ? -1 : 1)
            return v + d
        })
        return (x, y)
    }

    func masks(seed: UInt64, n: Int, h: Int, w: Int) -> [Tensor?] {
        var rng = TestRNG(seed: seed)
        return [nil, rng.tensor([1, 1, h, w], 0, 1), rng.tensor([n, 1, h, w], 0, 1)]
    }

    func testPixelL2() throws {
        let (x, y) = pair(seed: 1)
        for mask in masks(seed: 2, n: n, h: h, w: w) {
            try check(PixelL2Loss(), x: x, y: y, mask: mask) {
                NaiveLosses.pixel($0, y.doubles, n: self.n, c: self.c, h: self.h, w: self.w, mask: mask?.doubles) { $0 * $0 }
            }
        }
    }

    func testPixelL1() throws {
        let (x, y) = pair(seed: 3)
        for mask in masks(seed: 4, n: n, h: h, w: w) {
            try check(PixelL1Loss(), x: x, y: y, mask: mask) {
                NaiveLosses.pixel($0, y.doubles, n: self.n, c: self.c, h: self.h, w: self.w, mask: mask?.doubles) { abs($0) }
            }
        }
    }

    func testMSSSIMLoss() throws {
        let (x, y) = pair(seed: 5)
        let unit = { (v: [Double]) in v.map { ($0 + 1) / 2 } }
        for mask in masks(seed: 6, n: n, h: h, w: w) {
            try check(MSSSIMLoss(), x: x, y: y, mask: mask) {
                NaiveLosses.msssimLoss(unit($0), unit(y.doubles), n: self.n, c: self.c, h: self.h, w: self.w, mask: mask?.doubles)
            }
        }
        // A larger image where the finest scales use the full 11-tap window, fewer scales.
        let (a, b) = pair(seed: 7, shape: [1, 2, 23, 25])
        let opts = MSSSIMOptions(scaleWeights: [0.3, 0.7])
        try check(MSSSIMLoss(options: opts), x: a, y: b, mask: nil) {
            NaiveLosses.msssimLoss(unit($0), unit(b.doubles), n: 1, c: 2, h: 23, w: 25, mask: nil, scaleWeights: [0.3, 0.7])
        }
    }

    /// The loss value must equal 1 − ImageMetrics.msSSIM.
    func testMSSSIMLossMatchesMetric() throws {
        let (x, y) = Fixtures.formulaImages(n: 2, c: 3, h: 64, w: 64)
        let loss = try MSSSIMLoss().evaluate(reconstruction: x, target: y).loss
        let metric = try ImageMetrics.msSSIM(x, y)
        for i in 0..<2 { XCTAssertEqual(Double(loss[i]), 1 - metric[i], accuracy: 1e-6) }
    }

    func testFocalFrequencyLoss() throws {
        let (x, y) = pair(seed: 8)
        for mask in masks(seed: 9, n: n, h: h, w: w) {
            let m = mask?.doubles
            // The reference detaches the spectrum weights: differentiate with them frozen at x.
            let frozen = NaiveLosses.ffWeights(NaiveLosses.ffSpectra(x.doubles, y.doubles, n: n, c: c, h: h, w: w, mask: m, pf: 1), alpha: 1)
            try check(FocalFrequencyLoss(), x: x, y: y, mask: mask) {
                NaiveLosses.ffLoss($0, y.doubles, n: self.n, c: self.c, h: self.h, w: self.w, mask: m, pf: 1, weights: frozen)
            }
        }
        // Patches (even sizes: Nyquist columns) and alpha ≠ 1.
        let (a, b) = pair(seed: 10, shape: [2, 3, 10, 12])
        for alpha in [1.0, 0.5] {
            let frozen = NaiveLosses.ffWeights(NaiveLosses.ffSpectra(a.doubles, b.doubles, n: 2, c: 3, h: 10, w: 12, mask: nil, pf: 2), alpha: alpha)
            try check(FocalFrequencyLoss(alpha: Float(alpha), patchFactor: 2), x: a, y: b, mask: nil) {
                NaiveLosses.ffLoss($0, b.doubles, n: 2, c: 3, h: 10, w: 12, mask: nil, pf: 2, weights: frozen)
            }
        }
    }

    /// The reference's `log_matrix` and `batch_matrix` options.
    func testFocalFrequencyOptions() throws {
        let (x, y) = pair(seed: 16)
        for (logM, batchM) in [(true, false), (false, true), (true, true)] {
            let frozen = NaiveLosses.ffWeights(NaiveLosses.ffSpectra(x.doubles, y.doubles, n: n, c: c, h: h, w: w, mask: nil, pf: 1),
                                               alpha: 1, logMatrix: logM, batchMatrix: batchM)
            try check(FocalFrequencyLoss(logMatrix: logM, batchMatrix: batchM), x: x, y: y, mask: nil) {
                NaiveLosses.ffLoss($0, y.doubles, n: self.n, c: self.c, h: self.h, w: self.w, mask: nil, pf: 1, weights: frozen)
            }
        }
    }

    /// With alpha = 0 every weight is 1 and, by Parseval, FFL is the pixel L2 loss.
    func testFocalFrequencyParseval() throws {
        let (x, y) = pair(seed: 11)
        for mask in masks(seed: 12, n: n, h: h, w: w) {
            let ffl = try FocalFrequencyLoss(alpha: 0).evaluate(reconstruction: x, target: y, mask: mask)
            let l2 = try PixelL2Loss().evaluate(reconstruction: x, target: y, mask: mask.map { m in
                // L2 weights pixels by m; FFL squares the masked difference: compare with m².
                Tensor(shape: m.shape, data: m.storage.map { $0 * $0 })
            })
            if mask == nil {
                for i in 0..<n { XCTAssertEqual(ffl.loss[i], l2.loss[i], accuracy: 1e-5 * l2.loss[i]) }
                assertClose(ffl.gradient, l2.gradient, atol: 1e-7, rtol: 1e-4)
            } else {
                // Normalisations differ (Σm vs Σm²): compare the unnormalised sums instead.
                let m = mask!
                for i in 0..<n {
                    let plane = m.shape[0] == 1 ? 0 : i
                    let s1 = (0..<(h * w)).reduce(0.0) { $0 + Double(m[plane, 0, $1 / w, $1 % w]) }
                    let s2 = (0..<(h * w)).reduce(0.0) { $0 + pow(Double(m[plane, 0, $1 / w, $1 % w]), 2) }
                    XCTAssertEqual(Double(ffl.loss[i]) * s1, Double(l2.loss[i]) * s2, accuracy: 1e-5 * Double(l2.loss[i]) * s2)
                }
            }
        }
    }

    func testWeightedLoss() throws {
        let (x, y) = pair(seed: 13)
        let mask = masks(seed: 14, n: n, h: h, w: w)[2]
        let parts: [(Float, any ImageLoss)] = [(1, PixelL2Loss()), (0.25, PixelL1Loss()), (2, MSSSIMLoss()), (0.5, FocalFrequencyLoss())]
        let total = try WeightedLoss(parts).evaluate(reconstruction: x, target: y, mask: mask)
        var wantLoss = [Float](repeating: 0, count: n)
        var wantGrad = Tensor.zeros(x.shape)
        for (wt, l) in parts {
            let r = try l.evaluate(reconstruction: x, target: y, mask: mask)
            for i in 0..<n { wantLoss[i] += wt * r.loss[i] }
            for i in 0..<x.count { wantGrad[flat: i] += wt * r.gradient[flat: i] }
        }
        for i in 0..<n { XCTAssertEqual(total.loss[i], wantLoss[i], accuracy: 1e-6) }
        assertClose(total.gradient, wantGrad, atol: 1e-7, rtol: 1e-6)
        XCTAssertThrowsError(try WeightedLoss([(Float, any ImageLoss)]()).evaluate(reconstruction: x, target: y))
    }

    /// A mask of ones is the unmasked loss; masked-out pixels get no pixel-loss gradient.
    func testMaskSemantics() throws {
        let (x, y) = pair(seed: 15)
        let ones = Tensor.ones([1, 1, h, w])
        for loss in [PixelL2Loss(), PixelL1Loss(), MSSSIMLoss(), FocalFrequencyLoss()] as [any ImageLoss] {
            let a = try loss.evaluate(reconstruction: x, target: y, mask: nil)
            let b = try loss.evaluate(reconstruction: x, target: y, mask: ones)
            for i in 0..<n { XCTAssertEqual(a.loss[i], b.loss[i], accuracy: 1e-6 * max(1, abs(a.loss[i]))) }
            assertClose(b.gradient, a.gradient, atol: 1e-8, rtol: 1e-5, "\(type(of: loss))")
        }
        var half = Tensor.zeros([1, 1, h, w])
        for i in 0..<(h * w) where i % w < 6 { half[flat: i] = 1 }
        for loss in [PixelL2Loss(), PixelL1Loss(), FocalFrequencyLoss()] as [any ImageLoss] {
            let g = try loss.evaluate(reconstruction: x, target: y, mask: half).gradient
            for nn in 0..<n { for cc in 0..<c { for yy in 0..<h { for xx in 6..<w {
                XCTAssertEqual(g[nn, cc, yy, xx], 0, "\(type(of: loss)) leaks gradient outside the mask")
            } } } }
        }
    }

    func testBadInputThrows() {
        let x = Tensor.zeros([1, 3, 11, 13])
        for loss in [PixelL2Loss(), PixelL1Loss(), MSSSIMLoss(), FocalFrequencyLoss()] as [any ImageLoss] {
            XCTAssertThrowsError(try loss.evaluate(reconstruction: x, target: Tensor.zeros([1, 3, 11, 12])))
            XCTAssertThrowsError(try loss.evaluate(reconstruction: x, target: x, mask: Tensor.zeros([1, 1, 11, 13])))   // all-zero mask
            XCTAssertThrowsError(try loss.evaluate(reconstruction: x, target: x, mask: Tensor.ones([1, 3, 11, 13])))    // channels
            XCTAssertThrowsError(try loss.evaluate(reconstruction: x, target: x, mask: Tensor.ones([2, 1, 11, 13])))    // batch
            XCTAssertThrowsError(try loss.evaluate(reconstruction: x, target: x, mask: Tensor(shape: [1, 1, 11, 13], repeating: 2)))
        }
        XCTAssertThrowsError(try FocalFrequencyLoss(patchFactor: 2).evaluate(reconstruction: x, target: x))
        XCTAssertThrowsError(try MSSSIMLoss(options: MSSSIMOptions(windowPolicy: .standard)).evaluate(reconstruction: x, target: x))
    }
}
