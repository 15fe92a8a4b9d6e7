// sgemm throughput: the practical peak that the convolution numbers are compared against.
import Foundation
import LatentTensor

/// `LATENTBENCH_CLOCK=thread` times with the calling thread's CPU clock instead of the wall clock.
/// Only meaningful single-threaded (`LATENTLAB_THREADS=1 OPENBLAS_NUM_THREADS=1`), where it
/// measures a kernel's own efficiency on a machine that other jobs keep busy (preemption does not
/// count, shared caches still do).
let useThreadClock = ProcessInfo.processInfo.environment["LATENTBENCH_CLOCK"] == "thread"

func nowSeconds() -> Double {
    var ts = timespec()
    clock_gettime(useThreadClock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Seconds taken by `body`, best of `repeats` runs after one warm-up run.
func bestTime(repeats: Int, _ body: () -> Void) -> Double { bestTimes(repeats: repeats, body).wall }

/// Best wall-clock seconds and best process CPU seconds of `repeats` runs after a warm-up. On a
/// machine shared with other jobs the CPU time is the steadier figure: time spent preempted does
/// not count (cache sharing still does).
func bestTimes(repeats: Int, _ body: () -> Void) -> (wall: Double, cpu: Double) {
    body()
    var wall = Double.infinity, cpu = Double.infinity
    for _ in 0..<max(repeats, 1) {
        let t0 = nowSeconds(), c0 = processCPUSeconds()
        body()
        wall = min(wall, nowSeconds() - t0)
        cpu = min(cpu, processCPUSeconds() - c0)
    }
    return (wall, cpu)
}

/// Date, CPU model, core count and thread settings, for the record in Bench/README.md.
func benchMachineDescription() -> String {
    var model = "unknown CPU"
    if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
       let colon = line.firstIndex(of: ":") {
        model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let f = DateFormatter()
    f.dateFormat = "yyyy-MM-dd HH:mm"
    return "\(f.string(from: Date())), \(model), \(ProcessInfo.processInfo.activeProcessorCount) cores, " +
        "LATENTLAB_THREADS=\(Parallel.threadCount)" +
        (useThreadClock ? ", thread CPU clock" : "")
}

/// Parses `--repeats N` (default `fallback`).
func repeatsOption(_ arguments: [String], default fallback: Int) -> Int {
    if let i = arguments.firstIndex(of: "--repeats"), i + 1 < arguments.count, let n = Int(arguments[i + 1]), n > 0 { return n }
    return fallback
}

/// Measured sgemm peak in GFLOP/s (filled by `runGemmBench`, measured on demand by the conv bench).
nonisolated(unsafe) var measuredGemmPeak: Double? = nil

/// Square sgemm at n = 512, 1024, 2048; prints GFLOP/s (best of several runs) and returns the best.
@discardableResult
func runGemmBench(arguments: [String]) -> Double {
    let repeats = repeatsOption(arguments, default: 5)
    var peak = 0.0
    print("| n | best time | GFLOP/s |")
    print("| --- | --- | --- |")
    for n in [512, 1024, 2048] {
        var rng = SystemRandomNumberGenerator()
        let a = (0..<(n * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(n * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        var c = [Float](repeating: 0, count: n * n)
        let t = bestTime(repeats: n >= 2048 ? max(2, repeats / 2) : repeats) {
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                sgemm(m: n, n: n, k: n, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
            } } }
        }
        let gflops = 2 * Double(n) * Double(n) * Double(n) / t * 1e-9
        peak = max(peak, gflops)
        print(String(format: "| %d | %.2f ms | %.1f |", n, t * 1e3, gflops))
    }
    print(String(format: "sgemm peak: %.1f GFLOP/s (OpenBLAS %@ kernels)", peak, BLASKernels.coreName as NSString))
    measuredGemmPeak = peak
    return peak
}
