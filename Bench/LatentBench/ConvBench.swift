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

/// Forward, backward-input and backward-weight GFLOP/s for 3×3 convolutions (padding 1) at
/// 128→128 @ 32², 256→256 @ 16², 64→64 @ 64², batch 1 and 8. Options: `--repeats N`.
///
/// On a shared machine the load changes while the table is measured, so the sgemm peak is
/// re-measured between rows and the percentages use the best sgemm rate seen in the whole run:
/// a conservative ratio.
func runConvBench(arguments: [String]) {
    let repeats = repeatsOption(arguments, default: 5)
    var peak = measuredGemmPeak ?? 0, peakCPU = 0.0
    var rows: [(label: String, flops: Double, times: [(wall: Double, cpu: Double)])] = []
    for (c, hw) in [(128, 32), (256, 16), (64, 64)] {
        for batch in [1, 8] {
            var rng = SystemRandomNumberGenerator()
            func rand(_ shape: [Int]) -> Tensor {
                Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
            }
            let x = rand([batch, c, hw, hw]), w = rand([c, c, 3, 3]), b = rand([c]), gy = rand([batch, c, hw, hw])
            var sink: Float = 0
            let tf = bestTimes(repeats: repeats) { sink += conv2d(x, weight: w, bias: b, padding: 1)[flat: 0] }
            let ti = bestTimes(repeats: repeats) {
                sink += conv2dBackward(gradOutput: gy, x: x, weight: w, padding: 1,
                                       needInput: true, needWeight: false, needBias: false).gradInput![flat: 0]
            }
            let tw = bestTimes(repeats: repeats) {
                sink += conv2dBackward(gradOutput: gy, x: x, weight: w, padding: 1,
                                       needInput: false, needWeight: true, needBias: true).gradWeight![flat: 0]
            }
            if sink.isNaN { print("(nan)") }
            rows.append(("\(c)→\(c) @ \(hw)² | \(batch)", 2 * Double(batch * c * c * 9 * hw * hw), [tf, ti, tw]))
            for n in [512, 1024] {
                let r = sgemmRate(n: n, repeats: n == 512 ? repeats : 2)
                peak = max(peak, r.wall); peakCPU = max(peakCPU, r.cpu)
            }
        }
    }
    func table(_ title: String, _ reference: Double, _ pick: ((wall: Double, cpu: Double)) -> Double) {
        print("\n" + title + String(format: " (%% of %.1f), best of %d", reference, repeats))
        print("| shape | batch | GFLOP/pass | forward | backward-input | backward-weight |")
        print("| --- | --- | --- | --- | --- | --- |")
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
