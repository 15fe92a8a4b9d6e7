import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentInversion
import LatentModels
import LatentCLIP
import LatentCore
import LatentEditing

/// `generate --like latent.npz --vary fine|middle|coarse|a-b --samples N --seed S`: diverse
/// outputs of one latent with the chosen rows resampled (`resampleLayers`).
struct VaryOptions: ParsableArguments {
    @Option(help: "Diverse outputs: the latent whose rows not in --vary stay fixed (one latent, .npz/.npy).") var like: String?
    @Option(help: "With --like: the rows resampled from fresh z: coarse, middle, fine (see `edit --help`) or a-b.") var vary: String = "fine"
    @Option(help: "With --like: how many samples (seeds S … S+N−1).") var samples: Int = 20
    @Option(help: "With --like: first seed of the fresh z.") var seed: Int = 0
    @Option(name: .customLong("lpips-weights"), help: "With --like: also report LPIPS diversity with these weights (see invert --lpips-weights).")
    var lpipsWeights: String?
    @Option(name: .customLong("lpips-net"), help: "LPIPS backbone of --lpips-weights: vgg or alex.") var lpipsNet: LPIPSNet = .vgg

    func validate() throws {
        guard like != nil || (vary == "fine" && samples == 20 && seed == 0 && lpipsWeights == nil) else {
            throw ValidationError("--vary, --samples, --seed and --lpips-weights apply with --like")
        }
        guard seed >= 0, seed + samples - 1 <= Int(UInt32.max) else { throw ValidationError("--seed must lie in 0...4294967295") }
    }
}

extension Generate {
    /// Renders `--samples` variants of `--like` (its noise maps kept), writes them as `--out`
    /// says (a folder gets sampleNNNN.png/.npz, grid.png and generate.json) with the
    /// consecutive-pair diversity (pixel L1 and the embedded CLIP's image-feature cosine
    /// distance) in the record, and prints it.
    func runLike(_ G: StyleGAN2Generator) throws {
        let path = vary.like!
        let file = try LatentFile.read(path: path, generator: G)
        guard file.count == 1 else { throw CommandFailure("\(path): holds \(file.count) latents; --like takes one") }
        if case .w = file.codes, truncCutoff != nil { throw CommandFailure("--trunc-cutoff does not apply with --like (--trunc truncates the fresh w)") }
        let layers: Range<Int>
        do { layers = try parseLayerSelection(vary.vary, numWs: G.numWs) } catch { throw CommandFailure("--vary: \(error)") }
        try requireWorkingSize("--samples", count: vary.samples, bytesEach: generatedImageBytes(G), what: "images")
        let seeds = (0..<vary.samples).map { UInt32(vary.seed + $0) }
        let ws = try resampleLayers(generator: G, ws: file.ws(generator: G), layers: layers, seeds: seeds, truncationPsi: trunc)
        let baseNoise = file.renderNoise(generator: G)
        let noise = baseNoise.map { m in NoiseMaps(m.maps.mapValues { t in Tensor.concatenate(Array(repeating: t, count: vary.samples)) }) }
        let output = try GenerateOutput(out, imageCount: vary.samples)
        let bar = ProgressBar(total: vary.samples, label: "generate")
        let (images, used) = G.synthesizeImages(ws: ws, noiseMode: noiseMode, noiseSeeds: seeds.map(UInt64.init), noise: noise) { bar.update($0) }
        let latents = (0..<vary.samples).map { i in LatentFile(ws: ws.slice(i ..< i + 1), noise: used[i]) }
        let names = seeds.map { String(format: "sample%04d", $0) }
        let written = try output.write(images, names: names, latents: latents, scale: image.scale)
        let stacked = Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) })
        let diversity = try SampleDiversity(images: stacked, clip: try CLIPModel.loadDefault())
        // LPIPS over the same consecutive pairs, when weights are given.
        let lpips: Double? = try vary.lpipsWeights.map { path in
            let net: LPIPS
            do { net = try LPIPS(net: vary.lpipsNet, weightsPath: path) } catch { throw CommandFailure(error, context: "--lpips-weights") }
            let d = try net.distance(stacked.slice(0 ..< vary.samples - 1), stacked.slice(1 ..< vary.samples))
            return d.reduce(0) { $0 + Double($1) } / Double(d.count)
        }
        let record = RunRecord(command: "generate", [
            "network": .string(net.networkName), "generator": .string(G.fingerprint), "like": .string(path),
            "vary": .string(vary.vary), "layers": .string(wsRangeText(layers)), "samples": .int(vary.samples), "seed": .int(vary.seed),
            "trunc": RecordValue(trunc), "noise_mode": .string(noiseMode.rawValue), "scale": .int(image.scale),
            "diversity": ["protocol": "BicycleGAN: mean distance over consecutive pairs", "pairs": .int(diversity.pairs),
                          "pixel_l1": .double(diversity.pixelL1), "clip_cosine": diversity.clipCosine.map { .double($0) } ?? .null,
                          "clip_model": "default:clip-scenes64", "lpips": lpips.map { .double($0) } ?? .null,
                          "lpips_weights": RecordValue(vary.lpipsWeights), "lpips_net": .string(vary.lpipsNet.rawValue)],
        ])
        let recordPath = try writeRecord(record, besides: out, name: "generate.json")
        print(String(format: "wrote %@ and %@; diversity over %d pairs: pixel L1 %.4f, CLIP cosine distance %.4f",
                     written, recordPath, diversity.pairs, diversity.pixelL1, diversity.clipCosine ?? .nan)
              + (lpips.map { String(format: ", LPIPS %.4f", $0) } ?? ""))
    }
}
