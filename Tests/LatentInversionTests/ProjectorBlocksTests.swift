import XCTest
import Foundation
import LatentTensor
import _TestSupport
import LatentInversion
import LatentCore

final class ProjectorBlocksTests: XCTestCase {
    /// Values worked by hand from projector.py's formulas with its defaults.
    func testScheduleByHand() throws {
        let s = try ProjectorSchedule()
        XCTAssertEqual(s.numSteps, 1000)
        XCTAssertEqual(s.learningRate(t: 0), 0)                       // ramp-up starts at 0
        XCTAssertEqual(s.learningRate(t: 0.01), 0.02, accuracy: 1e-15) // 0.1 · 1 · (0.01 / 0.05)
        XCTAssertEqual(s.learningRate(t: 0.05), 0.1, accuracy: 1e-15)
        XCTAssertEqual(s.learningRate(t: 0.5), 0.1, accuracy: 1e-15)
        XCTAssertEqual(s.learningRate(t: 0.75), 0.1, accuracy: 1e-15)  // (1 − t)/0.25 = 1 → cos π
        // t = 0.8: 0.5 − 0.5·cos(0.8π) = 0.5 + 0.5·cos(0.2π) = 0.5 + 0.5·0.80901699437 = 0.904508497
        XCTAssertEqual(s.learningRate(t: 0.8), 0.0904508497187, accuracy: 1e-12)
        // t = 0.9: 0.5 − 0.5·cos(0.4π) = 0.5 − 0.5·0.30901699437 = 0.345491503
        XCTAssertEqual(s.learningRate(t: 0.9), 0.0345491502813, accuracy: 1e-12)
        XCTAssertEqual(s.learningRate(t: 1), 0, accuracy: 1e-18)
        XCTAssertEqual(s.learningRate(step: 10), 0.02, accuracy: 1e-15)  // t = 10 / 1000
        XCTAssertEqual(s.t(step: 250), 0.25)

        XCTAssertEqual(s.latentNoiseScale(t: 0, wStd: 2), 0.1, accuracy: 1e-15)          // 2 · 0.05 · 1²
        XCTAssertEqual(s.latentNoiseScale(t: 0.375, wStd: 2), 0.025, accuracy: 1e-15)    // (1 − 0.5)² = 0.25
        XCTAssertEqual(s.latentNoiseScale(t: 0.75, wStd: 2), 0)
        XCTAssertEqual(s.latentNoiseScale(t: 0.9, wStd: 2), 0)
        XCTAssertEqual(s.latentNoiseScale(step: 150, wStd: 1), 0.05 * 0.8 * 0.8, accuracy: 1e-15)

        let short = try ProjectorSchedule(numSteps: 500, initialLearningRate: 0.2)
        XCTAssertEqual(short.learningRate(step: 5), 0.2 * 0.2, accuracy: 1e-15)          // t = 0.01
        XCTAssertThrowsError(try ProjectorSchedule(numSteps: 0))
        XCTAssertThrowsError(try ProjectorSchedule(lrRampupLength: 0))
        XCTAssertThrowsError(try ProjectorSchedule(initialLearningRate: -1))
    }

    func testWStatistics() throws {
        let w = Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 9])
        let (avg, std) = try ProjectorSchedule.wStatistics(wSamples: w)
        XCTAssertEqual(avg.storage, [3, 5])
        // Σ‖w − avg‖² = (4 + 9) + (0 + 1) + (4 + 16) = 34; / 3; sqrt.
        XCTAssertEqual(std, (34.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertThrowsError(try ProjectorSchedule.wStatistics(wSamples: Tensor.zeros([4])))
    }

    /// The regulariser from its definition, written independently: explicit rolls and pools.
    func naiveRegularization(_ maps: [[Double]], sizes: [(Int, Int)]) -> Double {
        var reg = 0.0
        for (v0, (h0, w0)) in zip(maps, sizes) {
            var v = v0, h = h0, w = w0
            while true {
                var rx = [Double](repeating: 0, count: h * w), ry = rx
                for y in 0..<h { for x in 0..<w {
                    rx[y * w + x] = v[y * w + (x - 1 + w) % w]        // torch.roll(shifts=1, dims=3)
                    ry[y * w + x] = v[((y - 1 + h) % h) * w + x]      // torch.roll(shifts=1, dims=2)
                } }
                let mx = zip(v, rx).map { $0 * $1 }.reduce(0, +) / Double(h * w)
                let my = zip(v, ry).map { $0 * $1 }.reduce(0, +) / Double(h * w)
                reg += mx * mx + my * my
                if h <= 8 { break }
                var p = [Double](repeating: 0, count: (h / 2) * (w / 2))
                for y in 0..<(h / 2) { for x in 0..<(w / 2) {
                    p[y * (w / 2) + x] = (v[2 * y * w + 2 * x] + v[2 * y * w + 2 * x + 1] + v[(2 * y + 1) * w + 2 * x] + v[(2 * y + 1) * w + 2 * x + 1]) / 4
                } }
                v = p; h /= 2; w /= 2
            }
        }
        return reg
    }

    func testNoiseRegularizationAgainstNaiveAndFiniteDifferences() throws {
        var rng = TestRNG(seed: 31)
        let sizes = [(4, 4), (8, 8), (16, 16), (9, 9), (12, 14), (32, 32)]
        // Smooth-ish maps so the auto-correlations (and gradients) are far from zero.
        let maps: [Tensor] = sizes.enumerated().map { k, s in
            let base = rng.tensor([s.0, s.1], -1, 1)
            return Tensor(shape: k % 2 == 0 ? [s.0, s.1] : [1, 1, s.0, s.1], generator: { i in
                let y = i / s.1, x = i % s.1
                return base[flat: i] + Float(sin(0.4 * Double(x) + 0.3 * Double(y)))
            })
        }
        let (loss, grads) = try noiseRegularization(noiseMaps: maps)
        let want = naiveRegularization(maps.map(\.doubles), sizes: sizes)
        XCTAssertEqual(loss, want, accuracy: 1e-12 * max(1, want))
        XCTAssertEqual(grads.map(\.shape), maps.map(\.shape))
        for k in 0..<maps.count {
            let fd = numericalGradient(maps[k].doubles) { v in
                var all = maps.map(\.doubles); all[k] = v
                return self.naiveRegularization(all, sizes: sizes)
            }
            let err = relativeError(grads[k], Tensor(shape: maps[k].shape, data: fd.map(Float.init)))
            XCTAssertLessThan(err, 1e-5, "map \(k) \(sizes[k])")
        }
        XCTAssertThrowsError(try noiseRegularization(noiseMaps: [Tensor.zeros([2, 4, 4])]))
    }

    func testNormalizeNoise() throws {
        var rng = TestRNG(seed: 32)
        let map = rng.tensor([1, 1, 16, 16], 2, 5)
        let out = try normalizeNoise(map)
        let d = out.doubles
        let mean = d.reduce(0, +) / Double(d.count)
        let ms = d.reduce(0) { $0 + $1 * $1 } / Double(d.count)
        XCTAssertEqual(mean, 0, accuracy: 1e-6)
        XCTAssertEqual(ms, 1, accuracy: 1e-5)
        // Affine in the input: a·x + b normalises to the same map for a > 0.
        let scaled = Tensor(shape: map.shape, data: map.storage.map { 3 * $0 - 7 })
        assertClose(try normalizeNoise(scaled), out, atol: 1e-5, rtol: 0)
        XCTAssertThrowsError(try normalizeNoise(Tensor(shape: [4, 4], repeating: 1)))
        XCTAssertEqual(try normalizeNoise([map, map]).count, 2)
    }
}
