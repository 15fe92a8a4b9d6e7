import XCTest
import Foundation
import LatentTensor
import _TestSupport
import LatentInversion

final class ImageMetricsTests: XCTestCase {
    func testIdenticalImages() throws {
        var rng = TestRNG(seed: 1)
        let x = rng.tensor([2, 3, 20, 23])
        XCTAssertEqual(try ImageMetrics.psnr(x, x), [.infinity, .infinity])
        XCTAssertEqual(try ImageMetrics.mse(x, x), [0, 0])
        for v in try ImageMetrics.ssim(x, x) { XCTAssertEqual(v, 1, accuracy: 1e-12) }
        for v in try ImageMetrics.msSSIM(x, x) { XCTAssertEqual(v, 1, accuracy: 1e-12) }
    }

    /// A constant offset of 0.2 in [-1, 1] is 0.1 in [0, 1]: MSE 0.01, PSNR exactly 20 dB. A ±δ
    /// checkerboard of δ = 0.05 ([0, 1] units) gives MSE δ² and 26.0206 dB.
    func testPSNRByHand() throws {
        var rng = TestRNG(seed: 2)
        let x = rng.tensor([1, 3, 9, 11], -0.7, 0.7)
        let y = Tensor(shape: x.shape, data: x.storage.map { $0 + 0.2 })
        XCTAssertEqual(try ImageMetrics.mse(x, y)[0], 0.01, accuracy: 1e-8)
        XCTAssertEqual(try ImageMetrics.psnr(x, y)[0], 20, accuracy: 1e-5)
        let z = Tensor(shape: x.shape, generator: { i in x[flat: i] + (i % 2 == 0 ? 0.1 : -0.1) })
        XCTAssertEqual(try ImageMetrics.psnr(x, z)[0], 10 * log10(1 / 0.0025), accuracy: 1e-4)
        XCTAssertEqual(try ImageMetrics.psnr(x, z)[0], 26.0206, accuracy: 1e-4)
        // The same pair given in [0, 1] units.
        let x01 = Tensor(shape: x.shape, data: x.storage.map { ($0 + 1) / 2 })
        let y01 = Tensor(shape: x.shape, data: y.storage.map { ($0 + 1) / 2 })
        XCTAssertEqual(try ImageMetrics.psnr(x01, y01, range: .zeroToOne)[0], 20, accuracy: 1e-5)
    }

    func testAgainstScikitImageAndNumpy() throws {
        let want = try Fixtures.metricExpectations()
        var (x, y) = Fixtures.formulaImages(n: 2, c: 3, h: 37, w: 45)
        let ssim = try ImageMetrics.ssim(x, y)
        let mse = try ImageMetrics.mse(x, y)
        for n in 0..<2 {
            XCTAssertEqual(ssim[n], want["ssim_2x3x37x45"]![n], accuracy: 1e-7)
            XCTAssertEqual(mse[n], want["mse_2x3x37x45"]![n], accuracy: 1e-12)
        }
        (x, y) = Fixtures.formulaImages(n: 1, c: 3, h: 163, w: 170)
        XCTAssertEqual(try ImageMetrics.msSSIM(x, y, options: MSSSIMOptions(windowPolicy: .standard))[0],
                       want["msssim_1x3x163x170"]![0], accuracy: 1e-7)
        XCTAssertEqual(try ImageMetrics.ssim(x, y)[0], want["ssim_1x3x163x170"]![0], accuracy: 1e-7)
        (x, y) = Fixtures.formulaImages(n: 2, c: 3, h: 64, w: 64)
        let ms = try ImageMetrics.msSSIM(x, y)
        let ss = try ImageMetrics.ssim(x, y)
        for n in 0..<2 {
            XCTAssertEqual(ms[n], want["msssim_truncate_2x3x64x64"]![n], accuracy: 1e-7)
            XCTAssertEqual(ss[n], want["ssim_2x3x64x64"]![n], accuracy: 1e-7)
        }
    }

    /// Naive SSIM straight from the definition (2-D window, explicit sums) against the separable
    /// implementation, on an odd size.
    func testSSIMAgainstNaiveDefinition() throws {
        var rng = TestRNG(seed: 3)
        let x = rng.tensor([1, 2, 14, 17]), y = rng.tensor([1, 2, 14, 17])
        let k = 11, r = 5, sigma = 1.5
        var g = (0..<k).map { exp(-Double(($0 - r) * ($0 - r)) / (2 * sigma * sigma)) }
        let gs = g.reduce(0, +); g = g.map { $0 / gs }
        var total = 0.0
        for c in 0..<2 {
            var mapSum = 0.0
            for oy in 0...(14 - k) { for ox in 0...(17 - k) {
                var mx = 0.0, my = 0.0, exx = 0.0, eyy = 0.0, exy = 0.0
                for i in 0..<k { for j in 0..<k {
                    let a = (Double(x[0, c, oy + i, ox + j]) + 1) / 2, b = (Double(y[0, c, oy + i, ox + j]) + 1) / 2
                    let wt = g[i] * g[j]
                    mx += wt * a; my += wt * b; exx += wt * a * a; eyy += wt * b * b; exy += wt * a * b
                } }
                let c1 = 1e-4, c2 = 9e-4
                let num = (2 * mx * my + c1) * (2 * (exy - mx * my) + c2)
                let den = (mx * mx + my * my + c1) * ((exx - mx * mx) + (eyy - my * my) + c2)
                mapSum += num / den
            } }
            total += mapSum / Double((14 - k + 1) * (17 - k + 1))
        }
        XCTAssertEqual(try ImageMetrics.ssim(x, y)[0], total / 2, accuracy: 1e-12)
    }

    func testSmallImagesAndPolicies() throws {
        let (x, y) = Fixtures.formulaImages(n: 1, c: 3, h: 64, w: 64)
        XCTAssertThrowsError(try ImageMetrics.msSSIM(x, y, options: MSSSIMOptions(windowPolicy: .standard)))
        let (a, b) = Fixtures.formulaImages(n: 1, c: 1, h: 8, w: 9)
        XCTAssertThrowsError(try ImageMetrics.ssim(a, b, windowPolicy: .standard))
        let v = try ImageMetrics.ssim(a, b)[0]   // 7-tap truncated window
        XCTAssertTrue(v > 0 && v < 1)
    }

    func testBadInputThrows() {
        XCTAssertThrowsError(try ImageMetrics.psnr(Tensor.zeros([1, 3, 4, 4]), Tensor.zeros([1, 3, 4, 5])))
        XCTAssertThrowsError(try ImageMetrics.ssim(Tensor.zeros([3, 4, 4]), Tensor.zeros([3, 4, 4])))
        XCTAssertThrowsError(try ImageMetrics.mse(Tensor.zeros([1, 1, 2, 2]), Tensor(shape: [1, 1, 2, 2], data: [0, .nan, 0, 0])))
        XCTAssertThrowsError(try ImageMetrics.msSSIM(Tensor.zeros([1, 1, 200, 200]), Tensor.zeros([1, 1, 200, 200]),
                                                     options: MSSSIMOptions(scaleWeights: [])))
    }
}
