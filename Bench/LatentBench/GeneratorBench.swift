import Foundation
import LatentTensor
import LatentModels

/// StyleGAN2 generator speed: synthesis forward and forward+backward (w.r.t. ws and noise, one
/// projector step without the loss network) per image at several batch sizes, with the GEMM FLOP
/// count, the achieved GFLOP/s and the share of this machine's measured sgemm peak.
///
/// Arguments: `--models scenes64,gan64` (gan64 is read from `--gan64 PATH`, default
/// `/work/shared/golden/gan64_weights.safetensors`, or `../shared/golden/…`; skipped if absent),
/// `--batches 1,8`, `--iterations N` (timed runs per measurement, median reported, default 7).
public func runGeneratorBench(arguments: [String]) {
    var models = ["scenes64", "gan64"]
    var batches = [1, 8]
    var iterations = 7
    var gan64Path: String? = nil
    var i = 0
    while i < arguments.count {
        let a = arguments[i], v = i + 1 < arguments.count ? arguments[i + 1] : ""
        switch a {
        case "--models": models = v.split(separator: ",").map(String.init); i += 1
        case "--batches": batches = v.split(separator: ",").compactMap { Int($0) }; i += 1
        case "--iterations": iterations = max(1, Int(v) ?? iterations); i += 1
        case "--gan64": gan64Path = v; i += 1
        default: break
        }
        i += 1
    }
    let (peak, peakPerCPU) = measureSgemmPeak()
    print(String(format: "sgemm peak (n = 1024, OpenBLAS, %d threads): %.1f GFLOP/s wall, %.1f GFLOP per CPU-second",
                 Parallel.threadCount, peak, peakPerCPU))
    print("Per image; wall time median / best of the runs; GFLOP/s and % of the sgemm peak from the best run;")
    print("cpu = median process CPU time (all threads). 'step' = synthesis forward + backward w.r.t. ws and noise.")
    print("model     batch   fwd ms (med/best)  GFLOP/s  %peak   step ms (med/best)  GFLOP/s  %peak   cpu ms fwd/step")
    for name in models {
        let generator: StyleGAN2Generator
        do {
            if name == "scenes64" {
                generator = try StyleGAN2Generator.loadDefault()
            } else if name == "gan64" {
                let candidates = [gan64Path, "/work/shared/golden/gan64_weights.safetensors", "../shared/golden/gan64_weights.safetensors"]
                guard let path = candidates.compactMap({ $0 }).first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                    print("gan64: weights not found, skipped"); continue
                }
                generator = try StyleGAN2Generator(path: path)
            } else {
                generator = try StyleGAN2Generator(path: name)
            }
        } catch {
            print("\(name): \(error)"); continue
        }
        let flops = synthesisFlops(generator.config)
        for b in batches {
            let z = Tensor.concatenate((0..<b).map { zFromSeed(UInt32($0), zDim: generator.zDim) })
            let ws = generator.mapping(z: z)
            let grad = Tensor(shape: [b, generator.imgChannels, generator.resolution, generator.resolution], repeating: 1e-3)
            _ = generator.synthesis(ws: ws)   // warm-up

            let fwd = measure(iterations) { _ = generator.synthesis(ws: ws) }
            let step = measure(iterations) {
                let (_, tape) = generator.synthesisForward(ws: ws)
                _ = generator.synthesisBackward(tape: tape, gradImage: grad, needNoise: true)
            }
            let per = 1000 / Double(b)
            let fwdG = flops.forward * Double(b) / fwd.best / 1e9
            let stepG = (flops.forward + flops.backward) * Double(b) / step.best / 1e9
            print(String(format: "%-9@ %5d  %8.2f / %7.2f  %7.1f  %4.0f%%  %8.2f / %7.2f  %7.1f  %4.0f%%   %6.2f / %6.2f",
                         name as NSString, b, fwd.wall * per, fwd.best * per, fwdG, 100 * fwdG / peak,
                         step.wall * per, step.best * per, stepG, 100 * stepG / peak, fwd.cpu * per, step.cpu * per))
        }
        print(String(format: "%@: %.3f GFLOP forward, %.3f GFLOP backward (ws + noise) per image", name as NSString,
                     flops.forward / 1e9, flops.backward / 1e9))
    }
}

/// GEMM FLOPs per image of the synthesis network as we compute it: affines, the 3×3 convolutions
/// (up-sampling ones as stride-2 transposed convolutions on the low-resolution input), ToRGB.
/// The backward w.r.t. ws and noise repeats every GEMM once (input and style gradients).
fileprivate func synthesisFlops(_ c: StyleGAN2Config) -> (forward: Double, backward: Double) {
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

/// Median wall time and median process CPU time (user + system, all threads) of `body` over `n`
/// runs. On a shared machine the CPU time shows the work done when wall time is inflated by
/// other processes.
/// Median wall time, best wall time and median CPU time of `n` runs of `body`.
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

/// Best-of-10 sgemm throughput at n = 1024 through the same OpenBLAS the kernels use
/// (wall clock, and per CPU-second).
fileprivate func measureSgemmPeak() -> (wall: Double, perCPU: Double) {
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
