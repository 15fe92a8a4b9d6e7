import Foundation
import XCTest
import LatentTensor
import LatentModels
import LatentInversion
import _TestSupport
import LatentCore

/// The tiny 32×32 generator (`Resources/tiny32_weights.safetensors`, a copy of
/// `shared/golden/tiny32_weights.safetensors`: z 64, w 128, 8 noise layers) and what the projector
/// tests share. Loaded once per process.
enum TinyProjector {
    nonisolated(unsafe) private static var cached: (StyleGAN2Generator, WStatistics)?
    private static let lock = NSLock()

    /// The generator and its W statistics from 1000 samples (the projector's own estimate, fewer
    /// samples to keep the tests fast).
    static func load() throws -> (generator: StyleGAN2Generator, stats: WStatistics) {
        lock.lock(); defer { lock.unlock() }
        if let c = cached { return c }
        // Tests keep nothing in the user's cache (runBatchProjection estimates with the default).
        setenv("LATENTLAB_CACHE", "off", 1)
        let G = try StyleGAN2Generator(path: try Fixtures.resource("tiny32_weights.safetensors").path)
        let stats = try WStatistics.estimate(generator: G, samples: 1000, cacheDirectory: nil)
        cached = (G, stats)
        return (G, stats)
    }

    /// Images the generator can make exactly: `G(mapping(z(seed)))` with const noise, `[N, 3, 32, 32]`.
    static func generatedTargets(_ G: StyleGAN2Generator, seeds: [UInt32]) -> Tensor {
        let z = Tensor.concatenate(seeds.map { zFromSeed($0, zDim: G.zDim) })
        return G.generate(z: z)
    }

    /// Projector options for short test runs.
    static func options(steps: Int, space: LatentSpace = .wPlus, optimizeNoise: Bool = true,
                        noiseInit: NoiseInit = .random, seed: UInt32 = 0, lr: Double = 0.1,
                        imageLossScale: Float = ProjectorOptions.defaultImageLossScale) throws -> ProjectorOptions {
        var o = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: steps, initialLearningRate: lr))
        o.space = space
        o.optimizeNoise = optimizeNoise
        o.noiseInit = noiseInit
        o.seed = seed
        o.wAvgSamples = 1000
        o.imageLossScale = imageLossScale
        return o
    }
}

/// PSNR of `[N, C, H, W]` images in [-1, 1] mapped to [0, 1], per image, in Double.
func naivePSNR(_ x: Tensor, _ y: Tensor) -> [Double] {
    let n = x.shape[0], per = x.count / n
    return (0..<n).map { i in
        var s = 0.0
        for k in 0..<per { let d = (Double(x[flat: i * per + k]) - Double(y[flat: i * per + k])) / 2; s += d * d }
        return 10 * log10(1 / (s / Double(per)))
    }
}

/// NVIDIA's `projector.py` for one image, transcribed independently of `project`: plain loops,
/// the schedule written out from the reference formulas, pixel MSE (on [-1, 1], times
/// `imageLossScale`) and Adam in Double. Random numbers: one `np.random.RandomState(seed)` per
/// image, first the random noise maps (layer by layer), then each step's latent noise.
/// The generator's forward/backward and `noiseRegularization` (checked against finite
/// differences in their own tests) are reused.
func naiveProjectOne(_ G: StyleGAN2Generator, target: Tensor, stats: WStatistics,
                     options o: ProjectorOptions) throws -> (ws: [Double], noise: [String: [Double]], loss: [Double]) {
    let numWs = G.numWs, wDim = G.wDim
    let rows = o.space == .w ? 1 : numWs
    let s = o.schedule
    var rng = NumpyRandomState(seed: o.seed)
    var w = [Double]()
    for _ in 0..<rows { w += stats.wAvg.storage.map(Double.init) }
    var maps: [String: [Double]] = [:]
    let names = G.noiseLayerNames
    for name in names {
        let hw = G.noiseShape(layer: name)!.reduce(1, *)
        if o.optimizeNoise && o.noiseInit == .random { maps[name] = rng.randn(count: hw) }
        else { maps[name] = G.constNoise[name]!.storage.map(Double.init) }
    }
    var mW = [Double](repeating: 0, count: w.count), vW = mW
    var mN = maps.mapValues { [Double](repeating: 0, count: $0.count) }, vN = mN
    var history = [Double]()
    func adam(_ p: inout [Double], _ g: [Double], _ m: inout [Double], _ v: inout [Double], lr: Double, t: Int) {
        for k in 0..<p.count {
            m[k] = 0.9 * m[k] + 0.1 * g[k]
            v[k] = 0.999 * v[k] + 0.001 * g[k] * g[k]
            let denom = (v[k] / (1 - pow(0.999, Double(t)))).squareRoot() + 1e-8
            p[k] -= lr / (1 - pow(0.9, Double(t))) * m[k] / denom
        }
    }
    for step in 0..<s.numSteps {
        let t = Double(step) / Double(s.numSteps)
        let noiseScale = Float(Double(stats.wStd) * s.initialNoiseFactor * pow(max(0, 1 - t / s.noiseRampLength), 2))
        var ramp = min(1, (1 - t) / s.lrRampdownLength)
        ramp = (0.5 - 0.5 * cos(ramp * Double.pi)) * min(1, t / s.lrRampupLength)
        let lr = s.initialLearningRate * ramp
        var wIn = w.map(Float.init)
        if noiseScale > 0 {
            let eps = rng.randn(count: wIn.count)
            for k in 0..<wIn.count { wIn[k] += Float(eps[k]) * noiseScale }
        }
        var ws = [Float]()
        for r in 0..<numWs { ws += wIn[(o.space == .w ? 0 : r) * wDim ..< ((o.space == .w ? 0 : r) + 1) * wDim] }
        var noise = NoiseMaps()
        for name in names {
            let hw = G.noiseShape(layer: name)!
            noise[name] = Tensor(shape: [1] + hw, data: maps[name]!.map(Float.init))
        }
        let (img, tape) = G.synthesisForward(ws: Tensor(shape: [1, numWs, wDim], data: ws), noise: noise)
        var dist = 0.0
        var gImg = [Float](repeating: 0, count: img.count)
        for k in 0..<img.count {
            let d = Double(img[flat: k]) - Double(target[flat: k])
            dist += d * d / Double(img.count)
            gImg[k] = Float(Double(o.imageLossScale) * 2 * d / Double(img.count))
        }
        history.append(dist)
        let g = G.synthesisBackward(tape: tape, gradImage: Tensor(shape: img.shape, data: gImg), needNoise: o.optimizeNoise)
        var gw = [Double](repeating: 0, count: w.count)
        for r in 0..<numWs { for j in 0..<wDim { gw[(o.space == .w ? 0 : r) * wDim + j] += Double(g.ws[flat: r * wDim + j]) } }
        adam(&w, gw, &mW, &vW, lr: lr, t: step + 1)
        if o.optimizeNoise {
            for name in names {
                let hw = G.noiseShape(layer: name)!
                let (_, rg) = try noiseRegularization(noiseMaps: [Tensor(shape: hw, data: maps[name]!.map(Float.init))])
                let gn = (0..<rg[0].count).map { Double(g.noise![name]![flat: $0]) + s.regularizeNoiseWeight * Double(rg[0][flat: $0]) }
                adam(&maps[name]!, gn, &mN[name]!, &vN[name]!, lr: lr, t: step + 1)
                let mean = maps[name]!.reduce(0, +) / Double(gn.count)
                var centred = maps[name]!.map { $0 - mean }
                let rms = (centred.reduce(0) { $0 + $1 * $1 } / Double(gn.count)).squareRoot()
                centred = centred.map { $0 / rms }
                maps[name] = centred
            }
        }
    }
    var full = [Double]()
    for r in 0..<numWs { full += w[(o.space == .w ? 0 : r) * wDim ..< ((o.space == .w ? 0 : r) + 1) * wDim] }
    return (full, maps, history)
}

/// `project` against the transcription above: the batched, float32 projector must follow each
/// image's reference trajectory.
final class ProjectorReferenceTests: XCTestCase {
    func check(space: LatentSpace, optimizeNoise: Bool, noiseInit: NoiseInit, imageLossScale: Float, steps: Int) throws {
        let (G, stats) = try TinyProjector.load()
        let targets = TinyProjector.generatedTargets(G, seeds: [11, 12])
        var o = try TinyProjector.options(steps: steps, space: space, optimizeNoise: optimizeNoise, noiseInit: noiseInit,
                                          seed: 7, imageLossScale: imageLossScale)
        o.schedule.initialNoiseFactor = 0.2   // larger latent noise than the default, so its use is visible
        let result = try project(generator: G, targets: targets, loss: PixelL2Loss(), statistics: stats, options: o)
        let refs = try (0..<2).map { try naiveProjectOne(G, target: targets.row($0), stats: stats, options: o) }
        for (i, ref) in refs.enumerated() {
            let label = "\(space.rawValue) noise \(optimizeNoise) \(noiseInit) image \(i)"
            assertClose(result.ws.row(i), Tensor(shape: [G.numWs, G.wDim], data: ref.ws.map(Float.init)), atol: 2e-4, rtol: 1e-3, label)
            for name in G.noiseLayerNames {
                let want = optimizeNoise ? ref.noise[name]!.map(Float.init) : G.constNoise[name]!.storage
                assertClose(result.noise[name]!.row(i), Tensor(shape: G.noiseShape(layer: name)!, data: want),
                            atol: 2e-3, rtol: 1e-3, "\(label) noise \(name)")
            }
            // The optimisation really moved (not a no-op on both sides).
            let start = (0..<G.numWs).flatMap { _ in stats.wAvg.storage.map(Double.init) }
            XCTAssertGreaterThan(zip(ref.ws, start).map { abs($0 - $1) }.max()!, 1e-2, label)
        }
        // lossHistory is the batch mean of the per-image losses before each update.
        for k in 0..<steps {
            let want = (refs[0].loss[k] + refs[1].loss[k]) / 2
            XCTAssertEqual(Double(result.lossHistory[k]), want, accuracy: 1e-4 * want, "step \(k) mean loss")
        }
    }

    func testWPlusRandomNoiseFollowsReference() throws {
        try check(space: .wPlus, optimizeNoise: true, noiseInit: .random, imageLossScale: ProjectorOptions.defaultImageLossScale, steps: 12)
    }

    func testWConstNoiseInitFollowsReference() throws {
        try check(space: .w, optimizeNoise: true, noiseInit: .const, imageLossScale: 1, steps: 10)
    }

    func testWPlusFixedNoiseFollowsReference() throws {
        try check(space: .wPlus, optimizeNoise: false, noiseInit: .random, imageLossScale: 3, steps: 10)
    }
}
