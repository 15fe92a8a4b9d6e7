import Foundation
import LatentTensor
import LatentInversion

/// LPIPS-VGG at 256² (the projector's loss network at FFHQ-256): the distance to precomputed target
/// features ("fwd") and the distance with its gradient w.r.t. the image ("step"), per image.
///
///     LatentBench lpips [--batches 1] [--iterations 5] [--size 256] [--json]
///
/// Random weights (He-scaled normal convolutions, positive linear heads): the cost does not depend
/// on them. FLOPs are
/// the VGG16 convolutions up to conv5_3 (the backward w.r.t. the input repeats each GEMM once;
/// the first layer's input gradient included).
func runLPIPSBench(arguments: [String]) {
    let args = BenchArguments(arguments)
    let json = args.flag("json"), size = args.int("size", 256)
    var weightRNG = NumpyRandomState(seed: 0)
    var params = [String: Tensor]()
    for (name, shape) in LPIPS.parameterShapes(.vgg) {
        let count = shape.reduce(1, *)
        if name.hasPrefix("lin") { params[name] = Tensor(shape: shape, repeating: 1 / Float(count)); continue }
        let scale = name.hasSuffix(".bias") ? 0.01 : (2 / Double(shape[1] * shape[2] * shape[3])).squareRoot()
        params[name] = Tensor(shape: shape, data: weightRNG.randn(count: count).map { Float($0 * scale) })
    }
    let lpips: LPIPS
    do { lpips = try LPIPS(net: .vgg, parameters: params, source: "random") } catch { report("lpips: \(error)", args.flag("json")); return }
    let peak = measureSgemmPeak()
    report(String(format: "load average %@; sgemm peak %.1f GFLOP/s (n = 1024, %d threads)", loadAverage(), peak.wall,
                  Parallel.threadCount), json)
    // VGG16 conv layers up to conv5_3: (in, out, downsampling factor of the input grid).
    let vgg: [(Int, Int, Int)] = [(3, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 2), (128, 256, 4), (256, 256, 4),
                                  (256, 256, 4), (256, 512, 8), (512, 512, 8), (512, 512, 8), (512, 512, 16),
                                  (512, 512, 16), (512, 512, 16)]
    let flops = vgg.reduce(0.0) { f, l in f + 2 * Double(l.0 * l.1 * 9) * Double((size / l.2) * (size / l.2)) }
    for b in args.ints("batches", [1]) {
        ScratchPool.shared.drain()
        ProcessMemory.resetPeak()
        var rng = NumpyRandomState(seed: 1)
        let x0 = Tensor(shape: [b, 3, size, size], data: rng.randn(count: b * 3 * size * size).map { Float(tanh($0)) })
        let x1 = Tensor(shape: [b, 3, size, size], data: rng.randn(count: b * 3 * size * size).map { Float(tanh($0)) })
        do {
            let target = try lpips.features(x1)
            let iterations = args.int("iterations", 5)
            _ = try lpips.distance(x0, target: target)
            let fwd = measure(iterations) { _ = try? lpips.distance(x0, target: target) }
            let step = measure(iterations) { _ = try? lpips.distance(x0, target: target, wantGradient: true) }
            let rss = Double(ProcessMemory.peakResidentBytes) / 1_048_576, per = 1000 / Double(b)
            let fwdPct = 100 * flops * Double(b) / fwd.best / 1e9 / peak.wall
            let stepPct = 100 * 2 * flops * Double(b) / step.best / 1e9 / peak.wall
            if json {
                print(String(format: "{\"config\": \"lpips-vgg%d\", \"batch\": %d, \"fwd_ms\": %.2f, \"step_ms\": %.2f, \"step_weights_ms\": null, "
                             + "\"fwd_pct_peak\": %.1f, \"step_pct_peak\": %.1f, \"peak_rss_mb\": %.0f, \"sgemm_gflops\": %.1f, "
                             + "\"gflop_fwd\": %.3f, \"load_avg\": \"%@\"}", size, b, fwd.best * per, step.best * per,
                             fwdPct, stepPct, rss, peak.wall, flops / 1e9, loadAverage() as NSString))
            } else {
                print(String(format: "lpips-vgg%d batch %d: fwd %.2f ms (median %.2f, %.0f%% of peak), fwd+bwd %.2f ms (median %.2f, %.0f%%), "
                             + "peak RSS %.0f MB, %.2f GFLOP forward", size, b, fwd.best * per, fwd.wall * per, fwdPct,
                             step.best * per, step.wall * per, stepPct, rss, flops / 1e9))
            }
        } catch {
            report("lpips: \(error)", json)
        }
    }
}
