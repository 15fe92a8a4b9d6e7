import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentInversion
import LatentModels
import LatentCore

/// `latentlab inpaint IMAGE --mask HOLE.png --out DIR`: fill a hole by masked projection
/// (Image2StyleGAN++): only the known pixels are fitted, the generator fills the rest.
struct Inpaint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill a hole in an image: fit the known pixels only, let the generator fill the rest.",
        discussion: """
        The mask is black where the image is missing (the hole) and white where it is known (soft masks weigh pixels); \
        any size, resized with a note. The projection is invert's (same options) with the loss restricted to the known \
        pixels. Writes DIR/filled.png (the generator's image), DIR/composite.png (the input outside the hole, the fill \
        inside, the seam feathered over --feather pixels on the known side), DIR/latent.npz, DIR/strip.png (input with \
        the hole greyed, filled, composite; enlarged --scale times) and DIR/metrics.json (PSNR of the fill against the input outside the hole, \
        hole fraction, arguments).
        """)

    @OptionGroup var net: NetworkOptions
    @OptionGroup var solver: SolverOptions
    @OptionGroup var losses: LossOptions
    @OptionGroup var cropOption: CropOption
    @Argument(help: "Image with a hole (PNG or JPEG, any size).") var image: String
    @Option(help: "Mask image: black = hole to fill, white = known.") var mask: String
    @Option(help: "Gaussian σ (pixels) of the composite's seam (0 = hard).") var feather: Double = 1.5
    @OptionGroup var image2: ImageScaleOption
    @Option(help: "Output folder.") var out: String

    func validate() throws {
        guard feather >= 0, feather <= 64 else { throw ValidationError("--feather must be 0-64 pixels") }
    }

    func run() throws {
        let G = try net.loadGenerator()
        let crop = try cropOption.mode()
        let input: Tensor
        do { input = try loadProjectionTarget(path: image, resolution: G.resolution, crop: crop) } catch { throw CommandFailure(error, context: image) }
        let keep = try loadEditMask(path: mask, resolution: G.resolution, crop: crop)
        let known = keep.storage.reduce(0, +) / Float(keep.count)
        guard known > 0 else { throw CommandFailure("--mask \(mask): all black; no known pixel to fit") }
        if known >= 1 { printError("note: --mask \(mask) has no hole (all white); the result is a plain inversion") }
        let options = try solver.projectorOptions(generator: G)
        let bar = ProgressBar(total: options.schedule.numSteps, label: "inpaint")
        let targets = input.reshaped([1] + input.shape)
        let result = try project(generator: G, targets: targets, loss: try losses.makeLoss(), mask: keep, options: options) { p in
            bar.update(p.step, detail: String(format: "loss %.5f", p.loss[0]))
        }
        let fill = result.reconstruction.row(0)
        let composite = Inpainting.composite(input: input, fill: fill, keep: Inpainting.featheredKeepMask(keep, sigma: feather))
        let greyed = Inpainting.composite(input: input, fill: Tensor.zeros(input.shape), keep: keep)
        try makeFolder(out)
        do {
            try LatentFile(ws: result.ws, noise: result.noise).write(to: out + "/latent.npz")
            try saveImage(fill, to: out + "/filled.png")
            try saveImage(composite, to: out + "/composite.png")
            try saveScaled(try imageGrid([labelled(greyed, "input"), labelled(fill, "filled"), labelled(composite, "composite")],
                                         columns: 3, padding: 1), to: out + "/strip.png", scale: image2.scale)
        } catch { throw CommandFailure(error, context: out) }
        let outside = Inpainting.regionPSNR(fill, input, weights: keep.storage)
        let compositeOutside = Inpainting.regionPSNR(composite, input, weights: keep.storage)
        var record = RunRecord(command: "inpaint", solver.record().merging(losses.record) { a, _ in a })
        record.merge(["image": .string(image), "mask": .string(mask), "network": .string(net.networkName), "generator": .string(G.fingerprint),
                      "crop": .string(cropOption.crop), "feather": .double(feather), "scale": .int(image2.scale)])
        record["metrics"] = .object(["psnr_outside_hole": outside.map { .double($0) } ?? .null,
                                     "psnr_outside_hole_composite": compositeOutside.map { .double($0) } ?? .null,
                                     "hole_fraction": .double(Double(1 - known)), "loss": .double(Double(result.finalLoss[0])),
                                     "steps": .int(result.stepsRun), "seconds": .double(result.seconds)])
        do { try record.write(to: out + "/metrics.json") } catch { throw CommandFailure(error, context: out + "/metrics.json") }
        print(String(format: "%@: filled %.0f %% of the image; fill vs input outside the hole %.2f dB, %d steps in %.1f s → %@/composite.png",
                     image, Double(1 - known) * 100, outside ?? .nan, result.stepsRun, result.seconds, out))
    }
}
