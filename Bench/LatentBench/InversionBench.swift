import Foundation
import LatentTensor
import LatentModels
import LatentInversion
import LatentCore

/// Inversion quality and speed on the default generator (results recorded in `Bench/inversion.md`).
///
///     LatentBench inversion quality [--images 000,003,007,011,015,020|all] [--steps 500]
///                                   [--configs w+noise,w+,wnoise,w] [--loss-scale S] [--noise-init random|const]
///                                   [--lr 0.2] [--noise-reg 1e5] [--seed 0] [--batch N] [--scenes DIR]
///     LatentBench inversion speed   [--batches 1,8] [--steps 30] [--invert-steps 500,1000]
///                                   [--project-images 8] [--project-steps 500] [--skip-invert] [--skip-project]
///
/// `quality` inverts the reference scenes (64×64, no resize) with pixel L2 and prints each image's
/// PSNR (float, on [0, 1]) and the mean per configuration, for comparison with
/// `shared/reference-figures.md`. `speed` compares one projector step with one generator
/// forward+backward at the same batch, times the W statistics, `invert`-equivalent runs of 500 and
/// 1000 steps and `project` (resumable batch projection) in images per minute at batch 1 and 8.
/// Wall and process-CPU seconds are both printed: the machine is shared.
public func runInversionBench(arguments: [String]) {
    guard let sub = arguments.first else {
        print("usage: LatentBench inversion quality|speed [options]  (see InversionBench.swift)")
        return
    }
    let rest = Array(arguments.dropFirst())
    do {
        switch sub {
        case "quality": try runInversionQuality(BenchArguments(rest))
        case "speed": try runInversionSpeed(BenchArguments(rest))
        default: print("inversion: unknown sub-command '\(sub)' (quality or speed)")
        }
    } catch {
        print("inversion \(sub): \(error)")
    }
}

/// `--name value` pairs.
struct BenchArguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []

    init(_ args: [String]) {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a.hasPrefix("--") {
                if i + 1 < args.count, !args[i + 1].hasPrefix("--") { values[String(a.dropFirst(2))] = args[i + 1]; i += 1 }
                else { flags.insert(String(a.dropFirst(2))) }
            }
            i += 1
        }
    }

    func string(_ k: String, _ d: String) -> String { values[k] ?? d }
    func double(_ k: String, _ d: Double) -> Double { values[k].flatMap(Double.init) ?? d }
    func int(_ k: String, _ d: Int) -> Int { values[k].flatMap { Int($0) } ?? d }
    func ints(_ k: String, _ d: [Int]) -> [Int] { values[k].map { $0.split(separator: ",").compactMap { Int($0) } } ?? d }
    func flag(_ k: String) -> Bool { flags.contains(k) }
}

/// `shared/testdata/scenes`, looked up like the tests do.
func scenesDirectory(_ given: String?) throws -> String {
    let candidates = [given, ProcessInfo.processInfo.environment["LATENTLAB_SHARED"].map { $0 + "/testdata/scenes" },
                      "../shared/testdata/scenes", "/work/shared/testdata/scenes"].compactMap { $0 }
    guard let dir = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/scene_000.png") }) else {
        throw ProjectorError("scenes folder not found (tried \(candidates.joined(separator: ", ")); pass --scenes DIR")
    }
    return dir
}

/// One projector configuration of the quality table.
struct QualityConfig {
    var name: String
    var space: LatentSpace
    var optimizeNoise: Bool

    static func parse(_ s: String) throws -> QualityConfig {
        switch s {
        case "w+noise": return QualityConfig(name: "W+, noise optimised", space: .wPlus, optimizeNoise: true)
        case "w+": return QualityConfig(name: "W+, noise fixed (const)", space: .wPlus, optimizeNoise: false)
        case "wnoise": return QualityConfig(name: "W, noise optimised", space: .w, optimizeNoise: true)
        case "w": return QualityConfig(name: "W, noise fixed (const)", space: .w, optimizeNoise: false)
        default: throw ProjectorError("unknown config '\(s)' (w+noise, w+, wnoise, w)")
        }
    }
}

func runInversionQuality(_ a: BenchArguments) throws {
    let dir = try scenesDirectory(a.values["scenes"])
    let which = a.string("images", "000,003,007,011,015,020")
    let names: [String] = which == "all"
        ? (0..<24).map { String(format: "scene_%03d", $0) }
        : which.split(separator: ",").map { "scene_" + $0 }
    let steps = a.int("steps", 500)
    let configs = try a.string("configs", "w+noise,w+,wnoise").split(separator: ",").map { try QualityConfig.parse(String($0)) }
    let lossScale = Float(a.double("loss-scale", Double(ProjectorOptions.defaultImageLossScale)))
    let G = try StyleGAN2Generator.loadDefault()
    let targets = try names.map { try loadProjectionTarget(path: "\(dir)/\($0).png", resolution: G.resolution) }
    let stats = try WStatistics.estimate(generator: G)
    let batch = max(1, a.int("batch", names.count))
    print(String(format: "%d scenes from %@, %d steps, image loss scale %g, noise init %@, lr %g, noise reg %g, seed %d, batch %d",
                 names.count, dir, steps, lossScale, a.string("noise-init", "default"), a.double("lr", ProjectorOptions.defaultInitialLearningRate),
                 a.double("noise-reg", 1e5), a.int("seed", 0), batch))
    for config in configs {
        var options = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: steps, initialLearningRate: a.double("lr", ProjectorOptions.defaultInitialLearningRate),
                                                                       regularizeNoiseWeight: a.double("noise-reg", 1e5)))
        options.space = config.space
        options.optimizeNoise = config.optimizeNoise
        if let ni = a.values["noise-init"] {
            guard let v = NoiseInit(rawValue: ni) else { throw ProjectorError("--noise-init random|const") }
            options.noiseInit = v
        }
        options.imageLossScale = lossScale
        options.seed = UInt32(a.int("seed", 0))
        var psnr = [Double](), seconds = 0.0, cpu = 0.0
        var start = 0
        while start < names.count {
            let end = min(names.count, start + batch)
            let t = Tensor.concatenate(targets[start..<end].map { $0.reshaped([1] + $0.shape) })
            let c0 = processCPUSeconds()
            let r = try project(generator: G, targets: t, loss: PixelL2Loss(), statistics: stats, options: options)
            cpu += processCPUSeconds() - c0
            seconds += r.seconds
            psnr += try ImageMetrics.psnr(r.reconstruction, t)
            start = end
        }
        let mean = psnr.reduce(0, +) / Double(psnr.count)
        print(String(format: "%-26@ mean PSNR %6.2f dB  (%@)  %.1f s wall, %.1f s CPU for %d images",
                     config.name as NSString, mean,
                     zip(names, psnr).map { String(format: "%@ %.2f", String($0.dropFirst(6)), $1) }.joined(separator: ", "),
                     seconds, cpu, names.count))
    }
}

func runInversionSpeed(_ a: BenchArguments) throws {
    let G = try StyleGAN2Generator.loadDefault()
    let batches = a.ints("batches", [1, 8])
    let steps = a.int("steps", 30)
    print("default generator scenes64: \(G.resolution)×\(G.resolution), numWs \(G.numWs), wDim \(G.wDim); threads \(Parallel.threadCount)")

    // W statistics: 10 000 mapped z; then the same read back from the disk cache.
    WStatistics.clearCache()
    var c0 = processCPUSeconds(), t0 = Date()
    let stats = try WStatistics.estimate(generator: G, cacheDirectory: nil)
    print(String(format: "W statistics (10 000 z) computed: %.3f s wall, %.3f s CPU", Date().timeIntervalSince(t0), processCPUSeconds() - c0))
    let cacheDir = NSTemporaryDirectory() + "latentbench-wstats-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: cacheDir) }
    WStatistics.clearCache()
    _ = try WStatistics.estimate(generator: G, cacheDirectory: cacheDir)
    WStatistics.clearCache()
    c0 = processCPUSeconds(); t0 = Date()
    let cached = try WStatistics.estimate(generator: G, cacheDirectory: cacheDir)
    print(String(format: "W statistics from the disk cache: %.4f s wall, %.4f s CPU (identical: %@)", Date().timeIntervalSince(t0),
                 processCPUSeconds() - c0, cached == stats ? "yes" : "NO"))

    // One projector step against one generator forward + backward at the same batch and noise layout.
    print("batch  space  noise   gen fwd+bwd ms/img (cpu)   projector step ms/img (cpu)   step / gen")
    for b in batches {
        let z = Tensor.concatenate((0..<b).map { zFromSeed(UInt32(100 + $0), zDim: G.zDim) })
        let targets = G.generate(z: z)
        for (space, optimizeNoise) in [(LatentSpace.wPlus, true), (.wPlus, false), (.w, true)] {
            var noise = NoiseMaps()
            for name in G.noiseLayerNames {
                let c = G.constNoise[name]!
                noise[name] = optimizeNoise ? Tensor(shape: [b] + c.shape, data: Array((0..<b).map { _ in c.storage }.joined())) : c
            }
            let ws = G.mapping(z: z)
            let grad = Tensor(shape: targets.shape, repeating: 1e-3)
            _ = G.synthesis(ws: ws, noise: noise)
            let (gen, _, genCPU) = measure(max(3, steps / 3)) {
                let (_, tape) = G.synthesisForward(ws: ws, noise: noise)
                _ = G.synthesisBackward(tape: tape, gradImage: grad, needNoise: optimizeNoise)
            }
            var options = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: steps))
            options.space = space
            options.optimizeNoise = optimizeNoise
            // Time the steps only: the first step (allocations) and the final forward and metrics are excluded.
            var stepTimes = [Double](), stepCPU = [Double]()
            var last = Date(), lastCPU = processCPUSeconds()
            _ = try project(generator: G, targets: targets, loss: PixelL2Loss(), statistics: stats, options: options) { p in
                let now = Date(), nowCPU = processCPUSeconds()
                if p.step > 1 { stepTimes.append(now.timeIntervalSince(last)); stepCPU.append(nowCPU - lastCPU) }
                last = now; lastCPU = nowCPU
            }
            let step = stepTimes.sorted()[stepTimes.count / 2], sCPU = stepCPU.sorted()[stepCPU.count / 2]
            print(String(format: "%5d  %-5@  %-6@  %10.2f (%6.2f)          %10.2f (%6.2f)             %.2f",
                         b, space.rawValue as NSString, (optimizeNoise ? "opt" : "const") as NSString,
                         gen * 1000 / Double(b), genCPU * 1000 / Double(b), step * 1000 / Double(b), sCPU * 1000 / Double(b), step / gen))
        }
    }

    // Where a step's time goes besides the generator: each piece of the projector's step on its
    // own, at the sizes of a W+ step with optimised noise (median of 30, process CPU ms per step).
    print("step pieces besides synthesis forward/backward (CPU ms per step, whole batch):")
    print("batch  latent noise  pixel L2 loss  noise reg (per image)  Adam  noise renorm  total")
    for b in batches {
        let z = Tensor.concatenate((0..<b).map { zFromSeed(UInt32(100 + $0), zDim: G.zDim) })
        let image = G.generate(z: z)
        let target = G.generate(z: z, truncationPsi: 0.5)
        var rng = NumpyRandomState(seed: 1)
        var maps = NoiseMaps()
        for name in G.noiseLayerNames {
            let shp = G.noiseShape(layer: name)!
            maps[name] = Tensor(shape: [b] + shp, data: rng.randn(count: b * shp[0] * shp[1]).map(Float.init))
        }
        var ws = G.mapping(z: z)
        let count = ws.count
        let latent = measure(30) {
            var r = NumpyRandomState(seed: 2)
            let eps = r.randn(count: count)
            ws.withUnsafeMutableBufferPointer { p in for k in 0..<count { p[k] += Float(eps[k]) * 1e-3 } }
        }.cpu
        let pixel = measure(30) { _ = try? PixelL2Loss().evaluate(reconstruction: image, target: target) }.cpu
        let reg = measure(30) {
            for name in G.noiseLayerNames { for i in 0..<b { _ = try? noiseRegularization(noiseMaps: [maps[name]!.row(i)]) } }
        }.cpu
        var params = [ws] + G.noiseLayerNames.map { maps[$0]! }
        let grads = params
        var adam = Adam(learningRate: 0.1)
        let adamTime = measure(30) { adam.step(&params, grads: grads, learningRate: 1e-6) }.cpu
        let renorm = measure(30) {
            for name in G.noiseLayerNames { for i in 0..<b { _ = try? normalizeNoise(maps[name]!.row(i)) } }
        }.cpu
        let parts = [latent, pixel, reg, adamTime, renorm].map { $0 * 1000 }
        print(String(format: "%5d  %12.3f  %13.3f  %21.3f  %4.3f  %12.3f  %5.3f", b, parts[0], parts[1], parts[2], parts[3], parts[4],
                     parts.reduce(0, +)))
    }

    // `invert`: one image, default options (W+, noise optimised), W statistics computed as on a
    // first run (later runs read them from the disk cache).
    let dir = try scenesDirectory(a.values["scenes"])
    let target = try loadProjectionTarget(path: dir + "/scene_000.png", resolution: G.resolution)
    for n in a.flag("skip-invert") ? [] : a.ints("invert-steps", [500, 1000]) {
        WStatistics.clearCache()
        c0 = processCPUSeconds(); t0 = Date()
        let s = try WStatistics.estimate(generator: G, cacheDirectory: nil)
        var options = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: n, initialLearningRate: ProjectorOptions.defaultInitialLearningRate))
        options.space = .wPlus
        let r = try project(generator: G, targets: target.reshaped([1] + target.shape), loss: PixelL2Loss(), statistics: s, options: options)
        _ = try ImageMetrics.msSSIM(r.reconstruction, target.reshaped([1] + target.shape))
        print(String(format: "invert %4d steps (W+, noise): %.2f s wall, %.2f s CPU per image, PSNR %.2f dB", n,
                     Date().timeIntervalSince(t0), processCPUSeconds() - c0, try ImageMetrics.psnr(r.reconstruction, target.reshaped([1] + target.shape))[0]))
    }

    // `project`: images per minute at batch 1 and 8 on copies of the scenes, all outputs written.
    guard !a.flag("skip-project") else { return }
    setenv("LATENTLAB_CACHE", "off", 1)   // each run computes its W statistics, as a first run does
    let count = a.int("project-images", 8), pSteps = a.int("project-steps", 500)
    let tmp = NSTemporaryDirectory() + "latentbench-project-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    try FileManager.default.createDirectory(atPath: tmp + "/in", withIntermediateDirectories: true)
    for i in 0..<count {
        try FileManager.default.copyItem(atPath: String(format: "%@/scene_%03d.png", dir, i % 24),
                                         toPath: String(format: "%@/in/img_%03d.png", tmp, i))
    }
    for b in [1, 8] {
        let out = tmp + "/out\(b)"
        var options = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: pSteps, initialLearningRate: ProjectorOptions.defaultInitialLearningRate))
        options.space = .wPlus
        WStatistics.clearCache()   // the run below estimates them (or reads the disk cache) itself
        c0 = processCPUSeconds(); t0 = Date()
        let report = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: tmp + "/in", outputDir: out,
                                            batchSize: b, options: options)
        let wall = Date().timeIntervalSince(t0), cpu = processCPUSeconds() - c0
        print(String(format: "project batch %d: %d images × %d steps in %.1f s wall (%.1f s CPU): %.2f images/min (%.2f per CPU-minute)",
                     b, report.inverted, pSteps, wall, cpu, Double(report.inverted) * 60 / wall, Double(report.inverted) * 60 / cpu))
    }
}
