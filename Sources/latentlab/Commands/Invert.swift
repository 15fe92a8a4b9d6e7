import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentInversion
import LatentModels
import LatentCore
import LatentEncoders

/// `latentlab invert IMAGE --out DIR`: project one photo into the generator's latent space.
struct Invert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Invert one image: find a latent (W or W+, plus noise maps) that reproduces it.",
        discussion: """
        Writes DIR/latent.npz ('w' [1, numWs, wDim] as NVIDIA's projected_w.npz, plus 'noise.<layer>' maps), \
        DIR/target.png, DIR/reconstruction.png and DIR/metrics.json (MSE, PSNR, SSIM, MS-SSIM, time, arguments).
        --method optimize (default) runs NVIDIA's projector schedule; encoder runs one encoder pass (ms); \
        hybrid starts a short optimisation (100 steps by default) from the encoder's code.
        """)

    @OptionGroup var net: NetworkOptions
    @OptionGroup var methodOptions: MethodOptions
    @OptionGroup var solver: SolverOptions
    @OptionGroup var losses: LossOptions
    @OptionGroup var cropOption: CropOption
    @Argument(help: "Image to invert (PNG or JPEG, any size).") var image: String
    @Option(help: "Optional mask image: only its bright pixels count in the loss (weights = brightness, clamped to [0, 1]).") var mask: String?
    @Option(help: "Output folder.") var out: String
    @Flag(name: .customLong("save-progress"),
          help: "Also write DIR/progress.png: a strip of the target, then the reconstruction after the first step and after every eighth of the steps.")
    var saveProgress = false

    func run() throws { try runInvert(command: "invert") }

    /// The whole command; `encode IMAGE` runs it as `--method encoder` under its own name.
    func runInvert(command: String) throws {
        let G = try net.loadGenerator()
        let crop = try cropOption.mode()
        let target = try loadProjectionTarget(path: image, resolution: G.resolution, crop: crop)
        let maskTensor = try mask.map { try loadMaskWeights(path: $0, resolution: G.resolution, crop: crop) }
        let (inverter, note) = try methodOptions.makeSolver(generator: G, net: net, solver: solver, losses: losses)
        if let note { printError("note: \(note)") }
        if maskTensor != nil && methodOptions.method == .encoder {
            throw CommandFailure("--mask needs an optimising method (optimize or hybrid): an encoder pass cannot weight pixels")
        }
        let numSteps = inverter.numSteps
        let bar = ProgressBar(total: numSteps, label: "invert")
        var frames: [Int: Tensor] = [:]
        let frameSteps = Set([1] + (1...8).map { max(1, numSteps * $0 / 8) })
        let targets = target.reshaped([1] + target.shape)
        let solved = try inverter.invert(targets: targets, mask: maskTensor) { p in
            bar.update(p.step, detail: String(format: "loss %.5f", p.loss[0]))
            if saveProgress && frameSteps.contains(p.step) {
                frames[p.step] = G.synthesis(ws: p.ws, noise: p.noise).row(0)
            }
        }
        let result = solved.result
        let metrics = try inversionMetrics(reconstruction: result.reconstruction, target: targets,
                                           finalLoss: result.finalLoss, steps: result.stepsRun, secondsPerImage: result.seconds)
        var args = methodOptions.record(solver: solver, losses: losses)
        args["command"] = .string(command); args["image"] = .string(image); args["network"] = .string(net.networkName)
        args["crop"] = .string(cropOption.crop); args["mask"] = RecordValue(mask); args["save_progress"] = .bool(saveProgress)
        let record = InversionRecord(image: image, metrics: metrics[0], generator: G.fingerprint,
                                     space: inverter.space.rawValue, arguments: args, solver: solved.extraRecord[0])
        if saveProgress {
            // An early stop ends the strip with the final reconstruction.
            frames[result.stepsRun] = result.reconstruction.row(0)
            let strip = [target] + frames.keys.sorted().map { frames[$0]! }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try saveImage(try imageGrid(strip, columns: strip.count, padding: 1), to: out + "/progress.png")
        }
        try writeInversionOutputs(dir: out, index: 0, result: result, target: targets, record: record,
                                  extraFiles: solved.extraFiles[0])
        let m = metrics[0]
        let unit = methodOptions.method == .encoder ? "passes" : "steps"
        print(String(format: "%@: PSNR %.2f dB, SSIM %.4f, MS-SSIM %.4f, MSE %.6f, %d %@ in %.2f s (%@) → %@",
                     image, m.psnr, m.ssim, m.msSSIM, m.mse, m.steps, unit, m.seconds, methodOptions.method.rawValue, out))
        if let warning = outOfDomainWarning(image: image, metrics: m) { printError(warning) }
    }
}
