// conv2d throughput at the StyleGAN2 shapes, as a share of the measured sgemm peak.
import Foundation
import LatentTensor

/// One square sgemm of size n (best of `repeats`): GFLOP/s of wall time and GFLOP per CPU-second.
func sgemmRate(n: Int, repeats: Int) -> (wall: Double, cpu: Double) {
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    let t = bestTimes(repeats: repeats) {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            sgemm(m: n, n: n, k: n, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
        } } }
    }
    let flop = 2 * Double(n * n * n) * 1e-9
    return (flop / t.wall, flop / t.cpu)
}

/// Forward, backward-input and backward-weight GFLOP/s for 3×3 convolutions (padding 1): the
/// generator's shapes 128→128 @ 32², 256→256 @ 16², 64→64 @ 64² at batch 1 and 8, then batch 1 at
/// the shapes of the IR-SE50 encoders' stride-1 convolutions (64 @ 128², 128 @ 64², 256 @ 32², 512 @
/// 16²) and of the 1024² generator's top blocks (64 @ 512², 32 @ 1024²). The forward and the input
/// gradient are timed with im2col + GEMM and with Winograd F(2×2, 3×3); GFLOP/s counts the direct
/// convolution's multiply-adds for both, so Winograd can pass 100 % of the sgemm peak.
/// Options: `--repeats N`, `--shapes C@HW[xB],…` (other shapes, e.g. `32@1024,256@16x8`).
///
/// On a shared machine the load changes while the table is measured, so the sgemm peak is
/// re-measured between rows and the percentages use the best sgemm rate seen in the whole run:
/// a conservative ratio.
func runConvBench(arguments: [String]) {
    let repeats = repeatsOption(arguments, default: 5)
    var peak = measuredGemmPeak ?? 0, peakCPU = 0.0
    var rows: [(label: String, flops: Double, times: [(wall: Double, cpu: Double)])] = []
    var shapes = [(128, 32, 1), (128, 32, 8), (256, 16, 1), (256, 16, 8), (64, 64, 1), (64, 64, 8),
                  (64, 128, 1), (128, 64, 1), (256, 32, 1), (512, 16, 1), (64, 512, 1), (32, 1024, 1)]
    // `--shapes C@HW[xB],…` (e.g. `32@1024,256@16x8`) replaces the list.
    if let k = arguments.firstIndex(of: "--shapes"), k + 1 < arguments.count {
        shapes = arguments[k + 1].split(separator: ",").compactMap { item in
            let parts = item.split(separator: "@")
            guard parts.count == 2, let c = Int(parts[0]) else { return nil }
            let hb = parts[1].split(separator: "x")
            guard let hw = Int(hb[0]) else { return nil }
            return (c, hw, hb.count > 1 ? Int(hb[1]) ?? 1 : 1)
        }
    }
    for (c, hw, batch) in shapes {
        var rng = SplitMix64(seed: UInt64(c * 7919 + hw))
        func rand(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(Double(rng.next() >> 11) * 0x1p-52 - 1) })
        }
        let x = rand([batch, c, hw, hw]), w = rand([c, c, 3, 3]), b = rand([c]), gy = rand([batch, c, hw, hw])
        // Fewer repeats for the multi-GFLOP maps.
        let reps = hw >= 512 ? min(repeats, 2) : repeats
        var sink: Float = 0
        var times: [(wall: Double, cpu: Double)] = []
        for algorithm in [ConvolutionAlgorithm.im2col, .winograd] {
            times.append(bestTimes(repeats: reps) {
                sink += conv2d(x, weight: w, bias: b, padding: 1, algorithm: algorithm)[flat: 0]
            })
        }
        for algorithm in [ConvolutionAlgorithm.im2col, .winograd] {
            times.append(bestTimes(repeats: reps) {
                sink += conv2dBackward(gradOutput: gy, x: x, weight: w, padding: 1, needInput: true, needWeight: false,
                                       needBias: false, algorithm: algorithm).gradInput![flat: 0]
            })
        }
        times.append(bestTimes(repeats: reps) {
            sink += conv2dBackward(gradOutput: gy, x: x, weight: w, padding: 1,
                                   needInput: false, needWeight: true, needBias: true).gradWeight![flat: 0]
        })
        if sink.isNaN { print("(nan)") }
        rows.append(("\(c)→\(c) @ \(hw)² | \(batch)", 2 * Double(batch * c * c * 9 * hw * hw), times))
        for n in [512, 1024] {
            let r = sgemmRate(n: n, repeats: n == 512 ? repeats : 2)
            peak = max(peak, r.wall); peakCPU = max(peakCPU, r.cpu)
        }
    }
    func table(_ title: String, _ reference: Double, _ pick: ((wall: Double, cpu: Double)) -> Double) {
        print("\n" + title + String(format: " (%% of %.1f), best of %d", reference, repeats))
        print("| shape | batch | GFLOP/pass | forward im2col | forward Winograd | backward-input im2col | backward-input Winograd | backward-weight |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows {
            let cells = r.times.map { t -> String in
                let g = r.flops / pick(t) * 1e-9
                return String(format: "%.1f (%.0f %%)", g, 100 * g / reference)
            }
            print("| \(r.label) | \(String(format: "%.3f", r.flops * 1e-9)) | " + cells.joined(separator: " | ") + " |")
        }
    }
    table("3×3 conv2d, stride 1, padding 1: GFLOP/s wall clock, % of the best sgemm rate seen in this run", peak) { $0.wall }
    table("Same, GFLOP per CPU-second (steadier under load), % of sgemm's best GFLOP per CPU-second", peakCPU) { $0.cpu }
    print("\nBest wall-clock times (ms): " + rows.map { r in
        "\(r.label.replacingOccurrences(of: " | ", with: " b")): " + r.times.map { String(format: "%.2f", $0.wall * 1e3) }.joined(separator: "/")
    }.joined(separator: "; "))
}
