import XCTest
import Foundation
import LatentTensor
import LatentModels
import _TestSupport
import LatentInversion

/// Behaviour of `project` on the tiny 32×32 generator: recovery, shapes, batching, seeds, early
/// stop, input validation, noise normalisation.
final class ProjectorTests: XCTestCase {
    /// A generated image is recovered: PSNR rises far above where the optimisation starts.
    func testRecoversGeneratedImage() throws {
        let (G, stats) = try TinyProjector.load()
        let target = TinyProjector.generatedTargets(G, seeds: [5])
        // Where the optimisation starts: w_avg, and the const maps as normalised after step 1.
        var startNoise = NoiseMaps()
        for name in G.noiseLayerNames { startNoise[name] = try normalizeNoise(G.constNoise[name]!) }
        let startImage = G.synthesis(ws: Tensor(shape: [1, G.numWs, G.wDim],
                                                data: Array((0..<G.numWs).map { _ in stats.wAvg.storage }.joined())),
                                     noise: startNoise)
        let startPSNR = naivePSNR(startImage, target)[0]
        let options = try TinyProjector.options(steps: 80, noiseInit: .const)
        var psnrAfterFirst: Double? = nil
        let result = try project(generator: G, targets: target, loss: PixelL2Loss(), statistics: stats, options: options) { p in
            if p.step == 1 { psnrAfterFirst = naivePSNR(G.synthesis(ws: p.ws, noise: p.noise), target)[0] }
        }
        let endPSNR = naivePSNR(result.reconstruction, target)[0]
        XCTAssertEqual(psnrAfterFirst!, startPSNR, accuracy: 1e-3, "step 1 has learning rate 0 (NVIDIA's ramp-up)")
        XCTAssertGreaterThan(endPSNR, startPSNR + 8, "start \(startPSNR) dB, end \(endPSNR) dB")
        XCTAssertEqual(result.stepsRun, 80)
        XCTAssertEqual(result.lossHistory.count, 80)
        XCTAssertLessThan(result.lossHistory.suffix(5).reduce(0, +), 0.2 * result.lossHistory.prefix(5).reduce(0, +))
        // The reconstruction is G at the returned latent and noise maps, and finalLoss its loss.
        assertClose(G.synthesis(ws: result.ws, noise: result.noise), result.reconstruction, atol: 1e-5, rtol: 0)
        let (l, _) = try PixelL2Loss().evaluate(reconstruction: result.reconstruction, target: target)
        XCTAssertEqual(result.finalLoss, l)
    }

    /// W: one w per image broadcast to every layer; W+: a w per layer. Result shapes either way.
    func testShapesInWAndWPlus() throws {
        let (G, stats) = try TinyProjector.load()
        let targets = TinyProjector.generatedTargets(G, seeds: [1, 2])
        for space in LatentSpace.allCases {
            let r = try project(generator: G, targets: targets, loss: PixelL2Loss(), statistics: stats,
                                options: try TinyProjector.options(steps: 6, space: space))
            XCTAssertEqual(r.ws.shape, [2, G.numWs, G.wDim])
            XCTAssertEqual(r.reconstruction.shape, [2, 3, 32, 32])
            XCTAssertEqual(r.finalLoss.count, 2)
            XCTAssertEqual(Set(r.noise.layerNames), Set(G.noiseLayerNames))
            for name in G.noiseLayerNames { XCTAssertEqual(r.noise[name]!.shape, [2] + G.noiseShape(layer: name)!) }
            var rowSpread: Float = 0
            for i in 0..<2 { for row in 1..<G.numWs { for j in 0..<G.wDim {
                rowSpread = max(rowSpread, abs(r.ws[i, row, j] - r.ws[i, 0, j]))
            } } }
            if space == .w { XCTAssertEqual(rowSpread, 0, "W: every row is the same w") }
            else { XCTAssertGreaterThan(rowSpread, 1e-3, "W+: rows move independently") }
        }
    }

    /// Images optimised together follow the same trajectories as alone: the loss is a sum over
    /// images, Adam is elementwise and each image draws its own random stream.
    ///
    /// Bitwise equality is not expected: batched GEMMs round differently (~1e-7 relative), and
    /// Adam's elementwise normalisation turns such differences in near-zero gradient entries into
    /// update differences of order lr, so after a few dozen steps trajectories agree in quality
    /// (loss, PSNR) rather than digit for digit. Short runs (10 steps) agree to 1e-3: measured
    /// ≤ 1e-5 with OpenBLAS's non-FMA kernels and up to 2e-4 with its FMA kernels (Haswell/Zen),
    /// which round the edge columns of a GEMM block differently.
    func testBatchEqualsSingleRuns() throws {
        let (G, stats) = try TinyProjector.load()
        let targets = TinyProjector.generatedTargets(G, seeds: [21, 22, 23])
        for space in LatentSpace.allCases {
            let options = try TinyProjector.options(steps: 10, space: space, noiseInit: .random, seed: 3)
            let batch = try project(generator: G, targets: targets, loss: PixelL2Loss(), statistics: stats, options: options)
            for i in 0..<3 {
                let single = try project(generator: G, targets: targets.slice(i ..< i + 1), loss: PixelL2Loss(),
                                         statistics: stats, options: options)
                assertClose(batch.ws.row(i), single.ws.row(0), atol: 1e-3, rtol: 1e-3, "\(space) image \(i) ws")
                for name in G.noiseLayerNames {
                    assertClose(batch.noise[name]!.row(i), single.noise[name]!.row(0), atol: 1e-3, rtol: 1e-3, "\(space) image \(i) \(name)")
                }
                assertClose(batch.reconstruction.row(i), single.reconstruction.row(0), atol: 1e-3, rtol: 0, "\(space) image \(i) image")
                XCTAssertEqual(batch.finalLoss[i], single.finalLoss[0], accuracy: 1e-3 * single.finalLoss[0])
            }
        }
        // Longer: the same quality per image.
        let options = try TinyProjector.options(steps: 40, seed: 3)
        let batch = try project(generator: G, targets: targets, loss: PixelL2Loss(), statistics: stats, options: options)
        let batchPSNR = naivePSNR(batch.reconstruction, targets)
        for i in 0..<3 {
            let single = try project(generator: G, targets: targets.slice(i ..< i + 1), loss: PixelL2Loss(),
                                     statistics: stats, options: options)
            XCTAssertEqual(batchPSNR[i], naivePSNR(single.reconstruction, targets.slice(i ..< i + 1))[0], accuracy: 0.05, "image \(i)")
        }
    }

    func testSeedDeterminism() throws {
        let (G, stats) = try TinyProjector.load()
        let target = TinyProjector.generatedTargets(G, seeds: [9])
        func run(_ seed: UInt32) throws -> ProjectionResult {
            try project(generator: G, targets: target, loss: PixelL2Loss(), statistics: stats,
                        options: try TinyProjector.options(steps: 8, seed: seed))
        }
        let a = try run(4), b = try run(4), c = try run(5)
        XCTAssertEqual(a.ws, b.ws, "same seed, same latent, bit for bit")
        XCTAssertEqual(a.noise, b.noise)
        XCTAssertEqual(a.lossHistory, b.lossHistory)
        XCTAssertGreaterThan(maxAbsDiff(a.ws, c.ws), 1e-3, "another seed draws other latent noise")
        XCTAssertGreaterThan(maxAbsDiff(a.noise["b32.conv1"]!, c.noise["b32.conv1"]!), 0.5, "and other initial noise maps")
    }

    func testEarlyStopStopsWhenTheLossStalls() throws {
        let (G, stats) = try TinyProjector.load()
        let target = TinyProjector.generatedTargets(G, seeds: [2])
        // Learning rate 0 and no latent noise: the loss cannot improve.
        var options = try TinyProjector.options(steps: 100, optimizeNoise: false, lr: 0)
        options.schedule.initialNoiseFactor = 0
        options.earlyStop = EarlyStop(patience: 5, minRelativeImprovement: 1e-3)
        var calls = 0
        let r = try project(generator: G, targets: target, loss: PixelL2Loss(), statistics: stats, options: options) { _ in calls += 1 }
        XCTAssertEqual(r.stepsRun, 10, "the first window sets the bar, the second fails to beat it")
        XCTAssertEqual(r.lossHistory.count, 10)
        XCTAssertEqual(calls, 10)
        // While the loss keeps falling, the same rule does not stop.
        var moving = try TinyProjector.options(steps: 30)
        moving.earlyStop = EarlyStop(patience: 5, minRelativeImprovement: 1e-3)
        XCTAssertEqual(try project(generator: G, targets: target, loss: PixelL2Loss(), statistics: stats, options: moving).stepsRun, 30)
    }

    /// Learning rate and latent noise follow the schedule step by step (reported in progress).
    func testProgressReportsScheduledLearningRate() throws {
        let (G, stats) = try TinyProjector.load()
        let target = TinyProjector.generatedTargets(G, seeds: [3])
        let options = try TinyProjector.options(steps: 20)
        var lrs = [Float]()
        _ = try project(generator: G, targets: target, loss: PixelL2Loss(), statistics: stats, options: options) { p in
            XCTAssertEqual(p.numSteps, 20)
            XCTAssertEqual(p.ws.shape, [1, G.numWs, G.wDim])
            lrs.append(p.learningRate)
        }
        XCTAssertEqual(lrs, (0..<20).map { Float(options.schedule.learningRate(step: $0)) })
        XCTAssertEqual(lrs[0], 0)
        XCTAssertEqual(lrs[10], 0.1, accuracy: 1e-7)
    }

    /// After every step, every image's optimised maps have zero mean and unit mean square.
    func testNoiseMapsStayNormalised() throws {
        let (G, stats) = try TinyProjector.load()
        let targets = TinyProjector.generatedTargets(G, seeds: [6, 7])
        for noiseInit in NoiseInit.allCases {
            var worstMean = 0.0, worstSquare = 0.0
            let check: (NoiseMaps) -> Void = { maps in
                for name in G.noiseLayerNames {
                    let m = maps[name]!
                    let plane = m.count / 2
                    for i in 0..<2 {
                        let v = m.storage[(i * plane) ..< ((i + 1) * plane)].map(Double.init)
                        worstMean = max(worstMean, abs(v.reduce(0, +) / Double(plane)))
                        worstSquare = max(worstSquare, abs(v.reduce(0) { $0 + $1 * $1 } / Double(plane) - 1))
                    }
                }
            }
            let r = try project(generator: G, targets: targets, loss: PixelL2Loss(), statistics: stats,
                                options: try TinyProjector.options(steps: 12, noiseInit: noiseInit)) { check($0.noise) }
            check(r.noise)
            XCTAssertLessThan(worstMean, 1e-5, "\(noiseInit)")
            XCTAssertLessThan(worstSquare, 1e-4, "\(noiseInit)")
        }
        // Not optimised: the generator's own buffers, per image.
        let fixed = try project(generator: G, targets: targets, loss: PixelL2Loss(), statistics: stats,
                                options: try TinyProjector.options(steps: 3, optimizeNoise: false))
        for name in G.noiseLayerNames {
            XCTAssertEqual(fixed.noise[name]!.row(1).storage, G.constNoise[name]!.storage)
        }
    }

    func testInitialLatentForms() throws {
        let (G, stats) = try TinyProjector.load()
        let targets = TinyProjector.generatedTargets(G, seeds: [1, 2])
        let ws = G.mapping(z: Tensor.concatenate([zFromSeed(40, zDim: G.zDim), zFromSeed(41, zDim: G.zDim)]))
        // One step has learning rate 0: the result is the start.
        for (given, want) in [(ws.row(0).row(0), Tensor.concatenate([ws.slice(0 ..< 1), ws.slice(0 ..< 1)])),
                              (ws.row(1), Tensor.concatenate([ws.slice(1 ..< 2), ws.slice(1 ..< 2)])),
                              (ws, ws)] {
            var o = try TinyProjector.options(steps: 1)
            o.initialLatent = given
            XCTAssertEqual(try project(generator: G, targets: targets, loss: PixelL2Loss(), statistics: stats, options: o).ws, want)
        }
    }

    func testInvalidInputsThrowClearly() throws {
        let (G, stats) = try TinyProjector.load()
        let good = TinyProjector.generatedTargets(G, seeds: [1])
        let options = try TinyProjector.options(steps: 2)
        func expectError(_ what: String, _ contains: String, targets: Tensor = good, mask: Tensor? = nil,
                         statistics: WStatistics? = nil, options o: ProjectorOptions? = nil) {
            XCTAssertThrowsError(try project(generator: G, targets: targets, loss: PixelL2Loss(), mask: mask,
                                             statistics: statistics ?? stats, options: o ?? options), what) { error in
                XCTAssertTrue("\(error)".contains(contains), "\(what): '\(error)' should mention '\(contains)'")
            }
        }
        var nan = good; nan[0, 1, 5, 5] = .nan
        expectError("NaN target", "NaN", targets: nan)
        var inf = good; inf[0, 0, 0, 0] = .infinity
        expectError("infinite target", "infinity", targets: inf)
        expectError("wrong resolution", "targets must be [N, 3, 32, 32]", targets: Tensor.zeros([1, 3, 16, 16]))
        expectError("wrong channels", "targets must be", targets: Tensor.zeros([1, 1, 32, 32]))
        expectError("rank 3", "targets must be", targets: Tensor.zeros([3, 32, 32]))
        expectError("empty batch", "targets must be", targets: Tensor.zeros([0, 3, 32, 32]))
        var o = options; o.initialLatent = Tensor.zeros([5])
        expectError("initial latent shape", "initial latent shape [5]", options: o)
        o.initialLatent = Tensor(shape: [G.wDim], repeating: .nan)
        expectError("NaN initial latent", "initial latent contains NaN", options: o)
        o.initialLatent = Tensor.zeros([3, G.numWs, G.wDim])
        expectError("initial latent batch", "initial latent shape", options: o)
        expectError("wAvg shape", "statistics.wAvg", statistics: WStatistics(wAvg: Tensor.zeros([7]), wStd: 1))
        expectError("NaN wStd", "statistics", statistics: WStatistics(wAvg: stats.wAvg, wStd: .nan))
        o = options; o.imageLossScale = 0
        expectError("loss scale", "imageLossScale", options: o)
        o = options; o.earlyStop = EarlyStop(patience: 0)
        expectError("patience", "patience", options: o)
        expectError("mask shape", "mask", mask: Tensor.ones([1, 1, 8, 8]))
        o = options; o.wAvgSamples = 1
        XCTAssertThrowsError(try project(generator: G, targets: good, loss: PixelL2Loss(), options: o)) { error in
            XCTAssertTrue("\(error)".contains("wAvgSamples"), "\(error)")
        }
        // A diverging optimisation is reported, not returned.
        var huge = options
        huge.schedule = try ProjectorSchedule(numSteps: 30, initialLearningRate: 1e30)
        huge.optimizeNoise = false
        XCTAssertThrowsError(try project(generator: G, targets: good, loss: PixelL2Loss(), statistics: stats, options: huge)) { error in
            XCTAssertTrue("\(error)".contains("non-finite"), "\(error)")
        }
    }

    /// A mask restricts the loss: pixels outside it do not pull the latent.
    func testMaskedPixelsAreIgnored() throws {
        let (G, stats) = try TinyProjector.load()
        let target = TinyProjector.generatedTargets(G, seeds: [8])
        var mask = Tensor.zeros([1, 1, 32, 32])
        for y in 0..<16 { for x in 0..<32 { mask[0, 0, y, x] = 1 } }
        // The bottom half of the target scrambled: with the mask the result must not change.
        var scrambled = target
        for c in 0..<3 { for y in 16..<32 { for x in 0..<32 { scrambled[0, c, y, x] = -target[0, c, y, x] } } }
        let options = try TinyProjector.options(steps: 8)
        let a = try project(generator: G, targets: target, loss: PixelL2Loss(), mask: mask, statistics: stats, options: options)
        let b = try project(generator: G, targets: scrambled, loss: PixelL2Loss(), mask: mask, statistics: stats, options: options)
        XCTAssertEqual(a.ws, b.ws)
    }

    /// W statistics as projector.py computes them (z from RandomState(123), first ws row, mean and
    /// root summed variance), across the 1000-sample chunks; cached in memory and on disk, the
    /// cached value identical to the computed one.
    func testWStatisticsEstimateAndCache() throws {
        let (G, _) = try TinyProjector.load()
        let samples = 2500
        var rng = NumpyRandomState(seed: 123)
        let z = Tensor(shape: [samples, G.zDim], data: rng.randn(count: samples * G.zDim).map(Float.init))
        let ws = G.mapping(z: z)
        var mean = [Double](repeating: 0, count: G.wDim)
        for i in 0..<samples { for j in 0..<G.wDim { mean[j] += Double(ws[i, 0, j]) / Double(samples) } }
        var ss = 0.0
        for i in 0..<samples { for j in 0..<G.wDim { let d = Double(ws[i, 0, j]) - mean[j]; ss += d * d } }
        let dir = try BatchFixtures.temporaryFolder("wstats")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        WStatistics.clearCache()
        let a = try WStatistics.estimate(generator: G, samples: samples, cacheDirectory: dir)
        assertClose(a.wAvg, Tensor(shape: [G.wDim], data: mean.map(Float.init)), atol: 1e-5, rtol: 1e-5)
        XCTAssertEqual(Double(a.wStd), (ss / Double(samples)).squareRoot(), accuracy: 1e-5 * Double(a.wStd))
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }
        XCTAssertEqual(files.count, 1)
        WStatistics.clearCache()
        XCTAssertEqual(try WStatistics.estimate(generator: G, samples: samples, cacheDirectory: dir), a, "from disk, bit for bit")
        try Data("{\"wAvg\": [1, 2], \"wStd\": 3}".utf8).write(to: URL(fileURLWithPath: dir + "/" + files[0]))
        WStatistics.clearCache()
        XCTAssertEqual(try WStatistics.estimate(generator: G, samples: samples, cacheDirectory: dir), a, "a bad cache file is recomputed")
        WStatistics.clearCache()
        XCTAssertEqual(try WStatistics.estimate(generator: G, samples: samples, cacheDirectory: dir), a, "and rewritten")
        XCTAssertEqual(try WStatistics.estimate(generator: G, samples: samples, seed: 124, cacheDirectory: nil).wAvg.shape, [G.wDim])
        XCTAssertNotEqual(try WStatistics.estimate(generator: G, samples: samples, seed: 124, cacheDirectory: nil), a)
        XCTAssertThrowsError(try WStatistics.estimate(generator: G, samples: 1, cacheDirectory: nil))
    }
}
