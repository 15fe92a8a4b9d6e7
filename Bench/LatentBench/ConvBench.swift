// conv2d throughput at the StyleGAN2 shapes, as a share of the measured sgemm peak.
import Foundation
import LatentTensor

/// Times one square sgemm of size n (best of `repeats`), in GFLOP/s.
func sgemmRate(n: Int, repeats: Int) -> Double {
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    let t = bestTime(repeats: repeats) {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            sgemm(m: n, n: n, k: n, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
        } } }
    }
    return 2 * Double(n * n * n) / t * 1e-9
}

/// Forward, backward-input and backward-weight GFLOP/s for 3×3 convolutions (padding 1) at
/// 128→128 @ 32², 256→256 @ 16², 64→64 @ 64², batch 1 and 8. Options: `--repeats N`.
///
/// On a shared machine the load changes while the table is measured, so the sgemm peak is
/// re-measured between rows and the percentages use the best sgemm rate seen in the whole run:
/// a conservative ratio.
func runConvBench(arguments: [String]) {
    let repeats = repeatsOption(arguments, default: 5)
    var peak = measuredGemmPeak ?? 0
    var rows: [(label: String, flops: Double, times: [Double])] = []
    for (c, hw) in [(128, 32), (256, 16), (64, 64)] {
        for batch in [1, 8] {
            var rng = SystemRandomNumberGenerator()
            func rand(_ shape: [Int]) -> Tensor {
                Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
            }
            let x = rand([batch, c, hw, hw]), w = rand([c, c, 3, 3]), b = rand([c]), gy = rand([batch, c, hw, hw])
            var sink: Float = 0
            let tf = bestTime(repeats: repeats) { sink += conv2d(x, weight: w, bias: b, padding: 1)[flat: 0] }
            let ti = bestTime(repeats: repeats) {
                sink += conv2dBackward(gradOutput: gy, x: x, weight: w, padding: 1,
                                       needInput: true, needWeight: false, needBias: false).gradInput![flat: 0]
            }
            let tw = bestTime(repeats: repeats) {
                sink += conv2dBackward(gradOutput: gy, x: x, weight: w, padding: 1,
                                       needInput: false, needWeight: true, needBias: true).gradWeight![flat: 0]
            }
            if sink.isNaN { print("(nan)") }
            rows.append(("\(c)→\(c) @ \(hw)² | \(batch)", 2 * Double(batch * c * c * 9 * hw * hw), [tf, ti, tw]))
            peak = max(peak, sgemmRate(n: 512, repeats: repeats), sgemmRate(n: 1024, repeats: 2))
        }
    }
    print("\n3×3 conv2d, stride 1, padding 1: GFLOP/s (% of the best sgemm rate seen in this run, " +
          String(format: "%.1f", peak) + " GFLOP/s), best of \(repeats)")
    print("| shape | batch | GFLOP/pass | forward | backward-input | backward-weight |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows {
        let cells = r.times.map { t -> String in
            let g = r.flops / t * 1e-9
            return String(format: "%.1f (%.0f %%) %.2f ms", g, 100 * g / peak, t * 1e3)
        }
        print("| \(r.label) | \(String(format: "%.3f", r.flops * 1e-9)) | " + cells.joined(separator: " | ") + " |")
    }
}
