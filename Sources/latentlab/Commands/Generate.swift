import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentCore

/// `latentlab generate`: images from seeds or latents, as NVIDIA's gen_images.py.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images from seeds or saved latents.",
        discussion: """
        Seeds give z = np.random.RandomState(seed).randn(1, z_dim) (float64 draws, then float32), exactly as \
        NVIDIA's gen_images.py, so a seed gives the same z on every run and machine, here and in Python.
        --latent-in reads a latent file (see LatentFile: 'w' [N, numWs, wDim], [N, wDim] or [wDim], or 'z' \
        [N, zDim] mapped with --trunc, plus the 'noise.<layer>' maps invert/project store, which replace the \
        noise of their layers, so an inversion renders exactly as its reconstruction.png). A bare .npy is w when \
        its last dimension is wDim, else z. --trunc and --trunc-cutoff apply only when mapping z.
        --out DIR writes seedNNNN.png (or latentNNNN.png) and its latent seedNNNN.npz, with the noise maps it was \
        rendered with unless const (editable with \
        `latentlab edit --latent-in`) per image, plus grid.png and DIR/generate.json; \
        --out FILE.npy writes the raw float32 images [N, 3, H, W] (nominally [-1, 1], not clamped, as G(z) \
        returns them); --out FILE.png (or .jpg) writes one image. File outputs get their record as FILE.json \
        (e.g. images.npy.json).
        --noise-mode random draws each image's noise from its seed (or its index with --latent-in), so it \
        does not depend on the other images in the list.
        --like latent.npz --vary fine|middle|coarse|a-b --samples N --seed S keeps the latent's other rows and \
        resamples the --vary rows from fresh z (seeds S…S+N−1, truncated by --trunc), writing sampleNNNN.png/.npz \
        and grid.png, and the diversity (BicycleGAN protocol: mean distance over the N−1 consecutive pairs; pixel L1 \
        and CLIP image-feature cosine distance) in generate.json.
        """)

    @OptionGroup var net: NetworkOptions
    @Option(help: "Seeds, e.g. 0,3-5.") var seeds: String?
    @Option(name: .customLong("latent-in"), help: "Latents: .npz with 'w' [N, numWs, wDim] or [N, wDim], or 'z' [N, zDim]; or a bare .npy.")
    var latentIn: String?
    @Option(help: "Truncation psi (applied when mapping z).") var trunc: Float = 1
    @Option(name: .customLong("trunc-cutoff"), help: "Apply truncation only to the first N ws.") var truncCutoff: Int?
    @Option(name: .customLong("noise-mode"), help: "const | random | none (layers without stored maps).") var noiseMode: NoiseModeName = .const
    @Option(name: .customLong("mix-seed"), help: "Style mixing: seed whose ws replace --mix-layers.") var mixSeed: Int?
    @Option(name: .customLong("mix-layers"), help: "Style mixing layer range a-b (inclusive, 0-based ws rows).") var mixLayers: String?
    @OptionGroup var vary: VaryOptions
    @OptionGroup var image: ImageScaleOption
    @Option(help: "Output folder, .npy file or .png file.") var out: String

    func validate() throws {
        if vary.like != nil, seeds != nil || latentIn != nil { throw ValidationError("--like replaces --seeds and --latent-in; give one") }
        if vary.like == nil, (seeds == nil) == (latentIn == nil) { throw ValidationError("give exactly one of --seeds or --latent-in (or --like)") }
        if vary.like != nil, mixSeed != nil { throw ValidationError("--mix-seed does not apply with --like") }
        if (mixSeed == nil) != (mixLayers == nil) { throw ValidationError("--mix-seed and --mix-layers go together") }
        if let seeds {
            let list = try parseIntList(seeds, name: "--seeds")
            guard list.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else {
                throw ValidationError("--seeds must lie in 0...4294967295")
            }
        }
        if let mixSeed, !(0...Int(UInt32.max)).contains(mixSeed) { throw ValidationError("--mix-seed must lie in 0...4294967295") }
        if let mixLayers { _ = try parseWsRangeOption(mixLayers, numWs: Int.max, option: "--mix-layers") }
        guard trunc.isFinite else { throw ValidationError("--trunc must be a finite number") }
        if let truncCutoff, truncCutoff < 0 { throw ValidationError("--trunc-cutoff must be >= 0") }
        guard !out.isEmpty else { throw ValidationError("--out must not be empty") }
    }

    func run() throws {
        let G = try net.loadGenerator()
        if vary.like != nil { return try runLike(G) }
        var names: [String]
        var ws: Tensor
        var noise: NoiseMaps? = nil
        /// Per-image seeds for `--noise-mode random`.
        var noiseSeeds: [UInt64]
        if let seeds {
            let list = try parseIntList(seeds, name: "--seeds")
            try requireWorkingSize("--seeds", count: list.count, bytesEach: generatedImageBytes(G), what: "images")
            ws = G.mapping(z: zFromSeeds(list.map { UInt32($0) }, zDim: G.zDim), truncationPsi: trunc, truncationCutoff: truncCutoff)
            names = list.map { String(format: "seed%04d", $0) }
            noiseSeeds = list.map { UInt64($0) }
        } else {
            let file = try LatentFile.read(path: latentIn!, generator: G)
            try requireWorkingSize("--latent-in", count: file.count, bytesEach: generatedImageBytes(G), what: "images")
            if case .w = file.codes, trunc != 1 || truncCutoff != nil {
                throw CommandFailure("\(latentIn!): holds w latents, which are used as they are; --trunc and --trunc-cutoff apply only to z")
            }
            ws = file.ws(generator: G, truncationPsi: trunc, truncationCutoff: truncCutoff)
            noise = file.renderNoise(generator: G)
            names = (0..<ws.shape[0]).map { String(format: "latent%04d", $0) }
            noiseSeeds = (0..<ws.shape[0]).map { UInt64($0) }
        }
        let output = try GenerateOutput(out, imageCount: ws.shape[0])
        if let mixSeed, let mixLayers {
            // The syntax was checked in validate(); the bounds depend on the generator.
            let layers: Range<Int>
            do { layers = try parseWsRange(mixLayers, numWs: G.numWs) } catch { throw CommandFailure("--mix-layers: \(error)") }
            let wMix = G.mapping(z: zFromSeed(UInt32(mixSeed), zDim: G.zDim), truncationPsi: trunc, truncationCutoff: truncCutoff)
            ws = G.mixStyles(ws: ws, mixWs: wMix, layers: layers)
        }
        let progress = ProgressBar(total: ws.shape[0], label: "generate")
        let (images, used) = G.synthesizeImages(ws: ws, noiseMode: noiseMode, noiseSeeds: noiseSeeds, noise: noise) { progress.update($0) }
        // Each latent keeps the noise it was rendered with, so it renders (and edits) the same again.
        let latents = (0..<ws.shape[0]).map { i in LatentFile(ws: ws.slice(i ..< i + 1), noise: used[i]) }
        let written = try output.write(images, names: names, latents: latents, scale: image.scale)
        let record = RunRecord(command: "generate", [
            "network": .string(net.networkName), "generator": .string(G.fingerprint),
            "seeds": RecordValue(seeds), "latent_in": RecordValue(latentIn), "trunc": RecordValue(trunc),
            "trunc_cutoff": RecordValue(truncCutoff), "noise_mode": .string(noiseMode.rawValue),
            "mix_seed": RecordValue(mixSeed), "mix_layers": RecordValue(mixLayers), "scale": .int(image.scale),
            "images": .int(images.count), "resolution": .int(G.resolution),
        ])
        let recordPath = try writeRecord(record, besides: out, name: "generate.json")
        print("wrote \(written) and \(recordPath)")
    }
}

/// Where `generate` writes, decided from `--out` before any work is done.
enum GenerateOutput {
    case folder(String)
    case npy(String)
    case image(String)

    /// - Throws: `CommandFailure` when a single-image file is asked for several images, or a
    ///   folder path is an existing file.
    init(_ out: String, imageCount: Int) throws {
        let lower = out.lowercased()
        if lower.hasSuffix(".npy") {
            self = .npy(out)
        } else if lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
            guard imageCount == 1 else {
                throw CommandFailure("--out \(out) holds one image but \(imageCount) are to be generated; give a folder or an .npy file")
            }
            self = .image(out)
        } else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
                throw CommandFailure("--out \(out): exists and is not a folder (file outputs end in .npy, .png or .jpg)")
            }
            self = .folder(out)
        }
    }

    /// Writes the images; returns what was written, for the summary line.
    /// Folder outputs also get each image's latent as `<name>.npz`.
    func write(_ images: [Tensor], names: [String], latents: [LatentFile] = [], scale: Int = 1) throws -> String {
        switch self {
        case .npy(let path):
            let stacked = Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) })
            do { try writeNpy(NpyArray(stacked), to: path) } catch { throw CommandFailure(error, context: path) }
            return "\(path) (float32 \(stacked.shape))"
        case .image(let path):
            try saveScaled(images[0], to: path, scale: scale)
            return path
        case .folder(let dir):
            try makeFolder(dir)
            for (k, (img, name)) in zip(images, names).enumerated() {
                try saveScaled(img, to: dir + "/" + name + ".png", scale: scale)
                if k < latents.count {
                    do { try latents[k].write(to: dir + "/" + name + ".npz") } catch { throw CommandFailure(error, context: dir + "/" + name + ".npz") }
                }
            }
            let cols = Int(Double(images.count).squareRoot().rounded(.up))
            try saveScaled(try imageGrid(images, columns: cols), to: dir + "/grid.png", scale: scale)
            return "\(images.count) image\(images.count == 1 ? "" : "s") with their latents and grid.png to \(dir)"
        }
    }
}
