import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentInversion
import LatentModels
import LatentCore

/// `latentlab invert IMAGE --out DIR`: project one photo into the generator's latent space.
struct Invert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Invert one image: optimise a latent (W or W+, plus noise maps) that reproduces it.",
        discussion: """
        Writes DIR/latent.npz ('w' [1, numWs, wDim] as NVIDIA's projected_w.npz, plus 'noise.<layer>' maps), \
        DIR/target.png, DIR/reconstruction.png and DIR/metrics.json (MSE, PSNR, SSIM, MS-SSIM, time, arguments).
        """)

    @OptionGroup var net: NetworkOptions
    @OptionGroup var solver: SolverOptions
    @OptionGroup var losses: LossOptions
    @OptionGroup var cropOption: CropOption
    @Argument(help: "Image to invert (PNG or JPEG, any size).") var image: String
    @Option(help: "Optional mask image: only its bright pixels count in the loss (weights = brightness, clamped to [0, 1]).") var mask: String?
    @Option(help: "Output folder.") var out: String
    @Flag(name: .customLong("save-progress"),
          help: "Also write DIR/progress.png: a strip of the target, then the reconstruction after the first step and after every eighth of the steps.")
    var saveProgress = false

    func run() throws {
        let G = try net.loadGenerator()
        let crop = try cropOption.mode()
        let target = try loadProjectionTarget(path: image, resolution: G.resolution, crop: crop)
        let maskTensor = try mask.map { try loadMaskWeights(path: $0, resolution: G.resolution, crop: crop) }
        let options = try solver.projectorOptions(generator: G)
        let loss = try losses.makeLoss()
        let numSteps = options.schedule.numSteps
        let bar = ProgressBar(total: numSteps, label: "invert")
        var frames: [Int: Tensor] = [:]
        let frameSteps = Set([1] + (1...8).map { max(1, numSteps * $0 / 8) })
        let targets = target.reshaped([1] + target.shape)
        let result = try project(generator: G, targets: targets, loss: loss, mask: maskTensor, options: options) { p in
            bar.update(p.step, detail: String(format: "loss %.5f", p.loss[0]))
            if saveProgress && frameSteps.contains(p.step) {
                frames[p.step] = G.synthesis(ws: p.ws, noise: p.noise).row(0)
            }
        }
        let metrics = try inversionMetrics(reconstruction: result.reconstruction, target: targets,
                                           finalLoss: result.finalLoss, steps: result.stepsRun, secondsPerImage: result.seconds)
        var args = solver.record.merging(losses.record) { a, _ in a }
        args["command"] = "invert"; args["image"] = .string(image); args["network"] = .string(net.networkName)
        args["crop"] = .string(cropOption.crop); args["mask"] = RecordValue(mask); args["save_progress"] = .bool(saveProgress)
        let record = InversionRecord(image: image, metrics: metrics[0], generator: G.fingerprint,
                                     space: options.space.rawValue, arguments: args)
        if saveProgress {
            // An early stop ends the strip with the final reconstruction.
            frames[result.stepsRun] = result.reconstruction.row(0)
            let strip = [target] + frames.keys.sorted().map { frames[$0]! }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try saveImage(try imageGrid(strip, columns: strip.count, padding: 1), to: out + "/progress.png")
        }
        try writeInversionOutputs(dir: out, index: 0, result: result, target: targets, record: record)
        let m = metrics[0]
        print(String(format: "%@: PSNR %.2f dB, SSIM %.4f, MS-SSIM %.4f, MSE %.6f, %d steps in %.1f s → %@",
                     image, m.psnr, m.ssim, m.msSSIM, m.mse, m.steps, m.seconds, out))
        if let warning = outOfDomainWarning(image: image, metrics: m) { printError(warning) }
    }
}
