import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentCore
import LatentModels
import LatentCLIP
import LatentEditing
import LatentEncoders
import LatentInversion

/// `translate MAP --samples N --vary fine|a-b --seed S` (BicycleGAN / INADE: many outputs for one
/// map) and `translate MAP --exemplar IMG|latent.npz [--layers a-b]` (CoCosNet: the map's layout,
/// the exemplar's appearance).
struct TranslateVariantOptions: ParsableArguments {
    @Option(help: "Diverse outputs: how many samples (≥ 2) with the --vary rows resampled from fresh z.") var samples: Int?
    @Option(help: "With --samples: the rows resampled (coarse, middle, fine or a-b); the map gives the rest. On scenes64 the middle rows move the colours but also the object's place: fine keeps the layout.") var vary: String = "fine"
    @Option(help: "With --samples: first seed of the fresh z (seeds S … S+N−1).") var seed: Int = 0
    @Option(name: .customLong("trunc"), help: "With --samples: truncation ψ of the fresh w towards w_avg.") var truncationPsi: Float = 1
    @Option(help: "Exemplar (image, inverted with the embedded image encoder + a short hybrid optimisation, or a latent .npz) whose --layers rows the output takes.")
    var exemplar: String?
    @Option(help: "With --exemplar or --region-style: rows taken from the exemplar (default: all but the coarse rows, i.e. the map keeps the layout).")
    var layers: String?
    @Option(name: .customLong("region-style"), parsing: .singleValue,
            help: "CLASS=IMG|latent.npz (repeatable; CLASS: wall, floor, shadow, sphere, cube, cylinder, cone, object or a class id): that region of the map takes the exemplar's --layers rows, confined by feature blending; later ones win where regions overlap.")
    var regionStyle: [String] = []
    @Option(name: .customLong("blend-res"), help: "With --region-style: the first blended synthesis block (default: a quarter of the resolution, 16 at 64²).")
    var blendRes: Int?

    func validate() throws {
        if let samples { guard (2...256).contains(samples) else { throw ValidationError("--samples must be 2-256 (diversity is measured over consecutive pairs)") } }
        guard seed >= 0, seed + max(samples ?? 1, 1) - 1 <= Int(UInt32.max) else { throw ValidationError("--seed must lie in 0...4294967295") }
        guard truncationPsi.isFinite else { throw ValidationError("--trunc must be finite") }
        if layers != nil && exemplar == nil && regionStyle.isEmpty { throw ValidationError("--layers applies with --exemplar or --region-style") }
        if blendRes != nil && regionStyle.isEmpty { throw ValidationError("--blend-res applies with --region-style") }
        if !regionStyle.isEmpty && (samples != nil || exemplar != nil) {
            throw ValidationError("--region-style does not combine with --samples or --exemplar (run them separately)")
        }
    }

    var active: Bool { samples != nil || exemplar != nil || !regionStyle.isEmpty }
}

extension Translate {
    /// The map's codes with the variant options applied: `--exemplar` rows crossed over (the
    /// output), and `--samples` diverse outputs written to `out/samples/` with `samples.png`
    /// (map, then the samples) and their consecutive-pair diversity.
    /// - Returns: the final codes, the pictures for the strip, and the record's measurements.
    func applyVariants(ws: Tensor, map: GuidanceMap, kind: GuidanceKind, generator G: StyleGAN2Generator)
        throws -> (ws: Tensor, stripExtras: [Tensor], record: [String: RecordValue]) {
        var out = ws, extras: [Tensor] = [], record: [String: RecordValue] = [:]
        if let exemplar = variants.exemplar {
            let exWs = try exemplarLatent(exemplar, generator: G)
            let text = variants.layers ?? "\(LayerPreset.middle.range(numWs: G.numWs).lowerBound)-\(G.numWs - 1)"
            let layers: Range<Int>
            do { layers = try parseLayerSelection(text, numWs: G.numWs) } catch { throw CommandFailure("--layers: \(error)") }
            do { out = try exemplarCrossover(ws: ws, exemplarWs: exWs, layers: layers) } catch { throw CommandFailure(error, context: exemplar) }
            extras.append(G.synthesis(ws: exWs).row(0).map { min(max($0, -1), 1) })
            record["exemplar"] = .string(exemplar)
            record["exemplar_layers"] = .string(wsRangeText(layers))
        }
        if let count = variants.samples {
            let layers: Range<Int>
            do { layers = try parseLayerSelection(variants.vary, numWs: G.numWs) } catch { throw CommandFailure("--vary: \(error)") }
            let seeds = (0..<count).map { UInt32(variants.seed + $0) }
            let sampleWs = try resampleLayers(generator: G, ws: out, layers: layers, seeds: seeds, truncationPsi: variants.truncationPsi)
            let images = G.synthesis(ws: sampleWs).map { min(max($0, -1), 1) }
            let dir = self.out + "/samples"
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for (k, s) in seeds.enumerated() {
                    try saveImage(images.row(k), to: dir + String(format: "/sample%04d.png", s))
                    try LatentFile(ws: sampleWs.slice(k ..< k + 1)).write(to: dir + String(format: "/sample%04d.npz", s))
                }
                let tiles = [guidanceMapPicture(map, kind: kind)] + (0..<count).map { images.row($0) }
                try saveImage(try imageGrid(tiles, columns: min(tiles.count, 11), padding: 1), to: self.out + "/samples.png")
            } catch { throw CommandFailure(error, context: dir) }
            let diversity = try SampleDiversity(images: images, clip: try CLIPModel.loadDefault())
            record["samples"] = .int(count)
            record["vary"] = .string(wsRangeText(layers))
            record["diversity_pixel_l1"] = .double(diversity.pixelL1)
            if let c = diversity.clipCosine { record["diversity_clip_cosine"] = .double(c) }
            print(String(format: "%d samples (rows %d-%d varied): diversity pixel L1 %.4f, CLIP cosine %.4f → %@/samples.png", count,
                         layers.lowerBound, layers.upperBound - 1, diversity.pixelL1, diversity.clipCosine ?? .nan, self.out))
        }
        return (out, extras, record)
    }

    /// An exemplar's latent: a latent file as is; an image inverted with the embedded image
    /// encoder and a short hybrid optimisation (the embedded generator only).
    /// - Parameter option: the option named in refusals.
    func exemplarLatent(_ path: String, option: String = "--exemplar", generator G: StyleGAN2Generator) throws -> Tensor {
        let lower = path.lowercased()
        if lower.hasSuffix(".npz") || lower.hasSuffix(".npy") {
            let ws = try LatentFile.read(path: path, generator: G).ws(generator: G)
            guard ws.shape[0] == 1 else { throw CommandFailure("\(path): holds \(ws.shape[0]) latents; \(option) takes one") }
            return ws
        }
        guard net.network == nil else {
            throw CommandFailure("\(option) \(path): with --network, give the exemplar as a latent (.npz from invert or encode)")
        }
        let target = try loadProjectionTarget(path: path, resolution: G.resolution, crop: .center)
        let encoderSolver = try EncoderSolver(generator: G, encoder: try DefaultEncoder.load())
        var o = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: MethodDefaults.hybrid.steps, initialLearningRate: MethodDefaults.hybrid.lr,
                                                                 initialNoiseFactor: MethodDefaults.hybrid.latentNoise))
        o.noiseInit = MethodDefaults.hybrid.noiseInit
        let solved = try HybridSolver(encoderSolver: encoderSolver, loss: PixelL2Loss(), options: o)
            .invert(targets: target.reshaped([1] + target.shape), mask: nil, progress: nil)
        return solved.result.ws
    }
}
