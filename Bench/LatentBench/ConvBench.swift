// conv2d throughput at the StyleGAN2 shapes, as a share of the measured sgemm peak.
import Foundation
import LatentTensor

/// Forward, backward-input and backward-weight GFLOP/s for 3×3 convolutions (padding 1) at
/// 128→128 @ 32², 256→256 @ 16², 64→64 @ 64², batch 1 and 8. Options: `--repeats N`.
func runConvBench(arguments: [String]) {
    let repeats = repeatsOption(arguments, default: 5)
    let peak = measuredGemmPeak ?? {
        print("(measuring the sgemm peak first)")
        return runGemmBench(arguments: arguments)
    }()
    print("\n3×3 conv2d, stride 1, padding 1; GFLOP/s (% of the \(String(format: "%.0f", peak)) GFLOP/s sgemm peak)")
    print("| shape | batch | GFLOP/pass | forward | backward-input | backward-weight |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (c, hw) in [(128, 32), (256, 16), (64, 64)] {
        for batch in [1, 8] {
            var rng = SystemRandomNumberGenerator()
            func rand(_ shape: [Int]) -> Tensor {
                Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
            }
            let x = rand([batch, c, hw, hw]), w = rand([c, c, 3, 3]), b = rand([c]), gy = rand([batch, c, hw, hw])
            let flops = 2 * Double(batch * c * c * 9 * hw * hw)
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
            func cell(_ t: Double) -> String {
                let g = flops / t * 1e-9
                return String(format: "%.1f (%.0f %%) %.2f ms", g, 100 * g / peak, t * 1e3)
            }
            print("| \(c)→\(c) @ \(hw)² | \(batch) | \(String(format: "%.3f", flops * 1e-9)) | \(cell(tf)) | \(cell(ti)) | \(cell(tw)) |")
            if sink.isNaN { print("(nan)") }
        }
    }
}
