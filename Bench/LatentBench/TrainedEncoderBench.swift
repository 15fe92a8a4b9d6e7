import Foundation
import LatentTensor
import LatentModels
import LatentInversion
import LatentEncoders

/// Quality and speed of a trained encoder (`latentlab train-encoder`) on the test scenes.
///
///     LatentBench trained-encoder --encoder E.safetensors [--network G.safetensors] [--scenes DIR]
///                         [--iterations K] [--repeats 3]
///
/// For each of the 24 scenes (64×64, no resize): the encoder's codes, G(codes) with const noise,
/// PSNR (float, on [0, 1]) against the scene; the mean and per-scene values. Speed: encoder forward
/// alone at batch 1 (best of `repeats` per image, averaged over the scenes), encoder + synthesis at
/// batch 1, and the encoder alone at batch 24 (images per minute). Iterative encoders report
/// every iteration's mean PSNR. Wall and process-CPU seconds are both printed (shared machine).
func runTrainedEncoderBench(arguments: [String]) {
    let a = BenchArguments(arguments)
    do {
        guard let path = a.values["encoder"] else { print("usage: LatentBench trained-encoder --encoder E.safetensors [options]"); return }
        let encoder = try TrainedEncoder(path: path)
        let G = try a.values["network"].map { try StyleGAN2Generator(path: $0) } ?? StyleGAN2Generator.loadDefault()
        if encoder.config.generatorFingerprint != G.fingerprint {
            print("note: the encoder was trained for generator \(encoder.config.generatorFingerprint), this one is \(G.fingerprint)")
        }
        let dir = try scenesDirectory(a.values["scenes"])
        let names = (0..<24).map { String(format: "scene_%03d", $0) }
        let targets = try names.map { try loadProjectionTarget(path: "\(dir)/\($0).png", resolution: G.resolution).reshaped([1, 3, G.resolution, G.resolution]) }
        let all = Tensor.concatenate(targets)
        let iterations = max(1, a.int("iterations", encoder.config.trainingIterations))
        let repeats = max(1, a.int("repeats", 3))
        print("encoder \(path): \(encoder.config.architecture.parameterCount) parameters, steps \(encoder.config.steps), stage \(encoder.config.stage), iterative \(encoder.config.iterative), base \(encoder.config.architecture.baseChannels) max \(encoder.config.architecture.maxChannels) convs/level \(encoder.config.architecture.convsPerLevel)")

        // Quality: every iteration's codes for all scenes at once.
        let codesPerIteration = try encoder.encode(images: all, generator: G, iterations: iterations)
        for (k, codes) in codesPerIteration.enumerated() {
            let psnr = try ImageMetrics.psnr(G.synthesis(ws: codes), all)
            let mean = psnr.reduce(0, +) / Double(psnr.count)
            print(String(format: "iteration %d: mean PSNR %.2f dB (min %.2f, max %.2f)", k + 1, mean, psnr.min()!, psnr.max()!))
            if k == codesPerIteration.count - 1 {
                print("  per scene: " + zip(names, psnr).map { String(format: "%@ %.2f", String($0.dropFirst(6)), $1) }.joined(separator: ", "))
            }
        }

        // Speed at batch 1.
        var encWall = 0.0, encCPU = 0.0, fullWall = 0.0, fullCPU = 0.0
        for t in targets {
            let e = bestTimes(repeats: repeats) { _ = try! encoder.encode(images: t, generator: G, iterations: iterations) }
            let f = bestTimes(repeats: repeats) { _ = G.synthesis(ws: try! encoder.encode(images: t, generator: G, iterations: iterations).last!) }
            encWall += e.wall; encCPU += e.cpu; fullWall += f.wall; fullCPU += f.cpu
        }
        let n = Double(targets.count)
        print(String(format: "batch 1: encoder %.1f ms wall (%.1f ms CPU) per image; encoder + synthesis %.1f ms wall (%.1f ms CPU)",
                     1000 * encWall / n, 1000 * encCPU / n, 1000 * fullWall / n, 1000 * fullCPU / n))
        let b = bestTimes(repeats: repeats) { _ = try! encoder.encode(images: all, generator: G, iterations: iterations) }
        print(String(format: "batch %d: encoder %.1f ms wall per image (%.0f images per minute), %.1f ms CPU",
                     targets.count, 1000 * b.wall / n, 60 * n / b.wall, 1000 * b.cpu / n))
    } catch {
        print("encoder: \(error)")
    }
}
