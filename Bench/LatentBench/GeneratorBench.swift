import Foundation
import LatentTensor
import LatentModels

/// StyleGAN2 generator speed and memory per image: synthesis forward, "step" (forward + backward
/// w.r.t. ws and noise: one projector step without the loss network) and "step with weights"
/// (also every synthesis parameter's gradient, as pivotal tuning needs), with the GEMM FLOP count,
/// GFLOP/s, the share of the sgemm peak measured in the same run, and the peak resident memory.
///
///     LatentBench generator [--config scenes64,gan64,ffhq256,ffhq1024] [--models FILE,...]
///                           [--batches 1,8] [--iterations N] [--no-weights] [--json]
///                           [--checkpointing auto|never|all|MB]
///
/// `--config` builds random weights at the named official configuration (`GeneratorPresets.swift`);
/// `--models` loads checkpoints instead (`scenes64` = the embedded model, `gan64` = the golden
/// `gan64_weights.safetensors`, or a path). Default: `--config scenes64,gan64 --batches 1,8`.
/// `--checkpointing` sets the tape policy of the step's `synthesisForward` (default `auto`, the
/// library default; `never` keeps every block's cache; `all` recomputes every block; a number
/// checkpoints the blocks below the top whose cache exceeds that many MB); the rows say which blocks it checkpointed.
/// `--json` prints one JSON object per row (`config, batch, fwd_ms, step_ms, step_weights_ms,
/// fwd_pct_peak, step_pct_peak, peak_rss_mb, sgemm_gflops`, plus `load_avg`, `gflop_fwd`,
/// `step_weights_peak_rss_mb`, and the median process CPU times `fwd_cpu_ms`, `step_cpu_ms`,
/// `step_weights_cpu_ms` with `sgemm_gflops_per_cpu_s`, `checkpointed` block resolutions); times are
/// per image, best of the runs.
/// On a loaded machine compare CPU times, best single-threaded (`LATENTLAB_THREADS=1
/// OPENBLAS_NUM_THREADS=1`, where they do not include other threads' spinning).
public func runGeneratorBench(arguments: [String]) {
    let args = BenchArguments(arguments)
    let json = args.flag("json")
    let withWeights = !args.flag("no-weights")
    let batches = args.ints("batches", [1, 8])
    let checkpointing: SynthesisCheckpointing
    switch args.string("checkpointing", "auto") {
    case "auto": checkpointing = .automatic
    case "never": checkpointing = .never
    case "all": checkpointing = .everyBlock
    case let v:
        guard let mb = Int(v) else { report("generator: --checkpointing must be auto, never, all or a number of MB, got '\(v)'", json); return }
        checkpointing = .above(bytes: mb << 20)
    }
    var sources = [(name: String, load: () throws -> StyleGAN2Generator)]()
    let configs = args.values["config"].map { $0.split(separator: ",").map(String.init) } ?? (args.values["models"] == nil ? ["scenes64", "gan64"] : [])
    for c in configs {
        guard let preset = GeneratorPreset(rawValue: c) else {
            report("generator: unknown --config '\(c)' (one of \(GeneratorPreset.allCases.map(\.rawValue).joined(separator: ", ")))", json)
            continue
        }
        sources.append((c, { try preset.randomGenerator() }))
    }
    for m in args.values["models"].map({ $0.split(separator: ",").map(String.init) }) ?? [] {
        sources.append((m, { try loadBenchGenerator(m) }))
    }
    let peak = measureSgemmPeak()
    report(String(format: "load average %@; sgemm peak (n = 1024, OpenBLAS %@ kernels, %d threads): %.1f GFLOP/s wall, %.1f GFLOP per CPU-second",
                  loadAverage(), BLASKernels.coreName as NSString, Parallel.threadCount, peak.wall, peak.perCPU), json)
    let forkJoin = measureForkJoin()
    report(String(format: "Parallel.forEach of %d × 20 µs busy work: median %.1f µs, best %.1f µs (20 = both threads at once, %d = serial)",
                  Parallel.threadCount, forkJoin.median, forkJoin.best, 20 * Parallel.threadCount), json)
    report("Per image, best wall time of the runs (median in brackets); % of the sgemm peak above. 'step' = forward +", json)
    report("backward w.r.t. ws and noise; 'step+W' also returns every synthesis parameter's gradient. RSS = peak resident MB.", json)
    report("model     batch   fwd ms (med)        %peak  step ms (med)        %peak  step+W ms (med)      RSS step / step+W   CPU-ms fwd / step / step+W (median)", json)
    for source in sources {
        ScratchPool.shared.drain()
        let generator: StyleGAN2Generator
        do { generator = try source.load() } catch { report("\(source.name): \(error)", json); continue }
        let flops = synthesisFlops(generator.config)
        let iterations = args.int("iterations", generator.resolution >= 1024 ? 3 : generator.resolution >= 256 ? 5 : 9)
        for b in batches {
            ScratchPool.shared.drain()
            ProcessMemory.resetPeak()
            let z = Tensor.concatenate((0..<b).map { zFromSeed(UInt32($0), zDim: generator.zDim) })
            let ws = generator.mapping(z: z)
            let grad = Tensor(shape: [b, generator.imgChannels, generator.resolution, generator.resolution], repeating: 1e-3)
            _ = generator.synthesis(ws: ws)   // warm-up
            let fwd = measure(iterations) { _ = generator.synthesis(ws: ws) }
            let step = measure(iterations) {
                let (_, tape) = generator.synthesisForward(ws: ws, checkpointing: checkpointing)
                _ = generator.synthesisBackward(tape: tape, gradImage: grad, needNoise: true)
            }
            let rssStep = Double(ProcessMemory.peakResidentBytes) / 1_048_576
            var stepW: (wall: Double, best: Double, cpu: Double)? = nil
            if withWeights {
                stepW = measure(iterations) {
                    let (_, tape) = generator.synthesisForward(ws: ws, checkpointing: checkpointing)
                    _ = generator.synthesisBackward(tape: tape, gradImage: grad, needNoise: true, needWeights: true)
                }
            }
            let rssW = Double(ProcessMemory.peakResidentBytes) / 1_048_576
            let per = 1000 / Double(b)
            let fwdPct = 100 * flops.forward * Double(b) / fwd.best / 1e9 / peak.wall
            let stepPct = 100 * 2 * flops.forward * Double(b) / step.best / 1e9 / peak.wall
            if json {
                let fields: [(String, String)] = [
                    ("config", "\"\(source.name)\""), ("batch", "\(b)"),
                    ("fwd_ms", String(format: "%.2f", fwd.best * per)), ("step_ms", String(format: "%.2f", step.best * per)),
                    ("step_weights_ms", stepW.map { String(format: "%.2f", $0.best * per) } ?? "null"),
                    ("fwd_pct_peak", String(format: "%.1f", fwdPct)), ("step_pct_peak", String(format: "%.1f", stepPct)),
                    ("peak_rss_mb", String(format: "%.0f", rssStep)), ("sgemm_gflops", String(format: "%.1f", peak.wall)),
                    ("step_weights_peak_rss_mb", withWeights ? String(format: "%.0f", rssW) : "null"),
                    ("gflop_fwd", String(format: "%.3f", flops.forward / 1e9)), ("load_avg", "\"\(loadAverage())\""),
                    ("fwd_cpu_ms", String(format: "%.2f", fwd.cpu * per)), ("step_cpu_ms", String(format: "%.2f", step.cpu * per)),
                    ("step_weights_cpu_ms", stepW.map { String(format: "%.2f", $0.cpu * per) } ?? "null"),
                    ("sgemm_gflops_per_cpu_s", String(format: "%.1f", peak.perCPU)),
                    ("fork_join_us", String(format: "%.1f", forkJoin.median)),
                    ("checkpointed", "[" + generator.checkpointedResolutions(batch: b, checkpointing: checkpointing).map(String.init).joined(separator: ", ") + "]"), ("blas_core", "\"\(BLASKernels.coreName)\""),
                ]
                print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
            } else {
                let w = stepW.map { String(format: "%9.2f (%9.2f)", $0.best * per, $0.wall * per) } ?? String(repeating: " ", count: 21)
                print(String(format: "%-9@ %5d  %9.2f (%9.2f)  %4.0f%%  %9.2f (%9.2f)  %4.0f%%  %@  %5.0f / %5.0f   %8.1f / %8.1f / %8.1f",
                             source.name as NSString, b, fwd.best * per, fwd.wall * per, fwdPct,
                             step.best * per, step.wall * per, stepPct, w as NSString, rssStep, withWeights ? rssW : .nan,
                             fwd.cpu * per, step.cpu * per, (stepW?.cpu ?? .nan) * per))
                let blocks = generator.checkpointedResolutions(batch: b, checkpointing: checkpointing)
                print("          checkpointed blocks: " + (blocks.isEmpty ? "none" : blocks.map { "b\($0)" }.joined(separator: ", ")))
            }
        }
        report(String(format: "%@: %.3f GFLOP forward per image; load average now %@", source.name as NSString,
                      flops.forward / 1e9, loadAverage()), json)
    }
}

/// Human-readable lines go to stderr under `--json`, so stdout holds only JSON rows.
func report(_ line: String, _ json: Bool) {
    if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
}

/// `scenes64` (embedded), `gan64` (golden weights) or a checkpoint path.
fileprivate func loadBenchGenerator(_ name: String) throws -> StyleGAN2Generator {
    if name == "scenes64" { return try StyleGAN2Generator.loadDefault() }
    if name == "gan64" {
        let candidates = ["/work/shared/golden/gan64_weights.safetensors", "../shared/golden/gan64_weights.safetensors"]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw GeneratorBenchError("gan64 weights not found (tried \(candidates.joined(separator: ", ")))")
        }
        return try StyleGAN2Generator(path: path)
    }
    return try StyleGAN2Generator(path: name)
}

struct GeneratorBenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// GEMM FLOPs per image of the synthesis network as we compute it: affines, the 3×3 convolutions
/// (up-sampling ones as stride-2 transposed convolutions on the low-resolution input), ToRGB.
/// The backward w.r.t. ws and noise repeats every GEMM once (input and style gradients); weight
/// gradients once more.
func synthesisFlops(_ c: StyleGAN2Config) -> (forward: Double, backward: Double) {
    var f = 0.0
    for res in c.blockResolutions {
        let out = Double(c.channels(at: res)), hw = Double(res * res)
        if res > 4 {
            let inC = Double(c.channels(at: res / 2))
            f += 2 * inC * Double(c.wDim)                 // affine
            f += 2 * out * 9 * inC * hw / 4               // transposed conv on the (res/2)² input
        }
        f += 2 * out * Double(c.wDim) + 2 * out * 9 * out * hw      // conv1
        f += 2 * out * Double(c.wDim) + 2 * Double(c.imgChannels) * out * hw   // torgb
    }
    return (f, f)
}

/// Median wall time, best wall time and median process CPU time (user + system, all threads) of
/// `n` runs of `body`. On a shared machine the CPU time shows the work done when wall time is
/// inflated by other processes.
func measure(_ n: Int, _ body: () -> Void) -> (wall: Double, best: Double, cpu: Double) {
    var t = [Double](), c = [Double]()
    for _ in 0..<n {
        let c0 = processCPUSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        t.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        c.append(processCPUSeconds() - c0)
    }
    return (t.sorted()[t.count / 2], t.min()!, c.sorted()[c.count / 2])
}

/// Median and best wall time (µs) of a `Parallel.forEach` with one 20 µs busy task per thread:
/// how much of a small kernel pass (batch 1) actually runs on both cores — 20 µs when the
/// second thread joins at once, up to 20 × threads when it joins too late to help.
func measureForkJoin(_ n: Int = 500) -> (median: Double, best: Double) {
    var t = [Double]()
    for _ in 0..<n {
        let start = DispatchTime.now().uptimeNanoseconds
        Parallel.forEach(Parallel.threadCount) { _ in
            let t0 = DispatchTime.now().uptimeNanoseconds
            while DispatchTime.now().uptimeNanoseconds - t0 < 20_000 {}
        }
        t.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
    }
    t.sort()
    return (t[n / 2], t[0])
}

/// Best-of-10 sgemm throughput at n = 1024 through the same OpenBLAS the kernels use
/// (wall clock, and per CPU-second).
func measureSgemmPeak() -> (wall: Double, perCPU: Double) {
    let n = 1024
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    sgemm(m: n, n: n, k: n, a: a, b: b, c: &c)
    var best = Double.infinity, bestCPU = Double.infinity
    for _ in 0..<10 {
        let c0 = processCPUSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        sgemm(m: n, n: n, k: n, a: a, b: b, c: &c)
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        bestCPU = min(bestCPU, processCPUSeconds() - c0)
    }
    let f = 2 * Double(n * n * n)
    return (f / best / 1e9, f / bestCPU / 1e9)
}
