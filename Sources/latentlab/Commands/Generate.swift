import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels

/// `latentlab generate`: images from seeds or latents, as NVIDIA's gen_images.py.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images from seeds or saved latents.",
        discussion: """
        Seeds give z = np.random.RandomState(seed).randn(1, z_dim) (float64 draws, then float32), exactly as \
        NVIDIA's gen_images.py, so a seed gives the same z on every run and machine, here and in Python.
        --latent-in reads an .npz with 'w' [N, numWs, wDim] or [N, wDim] (one w for every layer), or 'z' \
        [N, zDim] (mapped with --trunc); 'noise.*' arrays (from invert/project) are ignored. A bare .npy is \
        w when its last dimension is wDim, else z. --trunc and --trunc-cutoff apply only when mapping z.
        --out DIR writes seedNNNN.png (or latentNNNN.png) per image plus grid.png and DIR/generate.json; \
        --out FILE.npy writes the raw float32 images [N, 3, H, W] (nominally [-1, 1], not clamped, as G(z) \
        returns them); --out FILE.png (or .jpg) writes one image. File outputs get their record as FILE.json \
        (e.g. images.npy.json).
        --noise-mode random draws each image's noise from its seed (or its index with --latent-in), so it \
        does not depend on the other images in the list.
        """)

    @OptionGroup var net: NetworkOptions
    @Option(help: "Seeds, e.g. 0,3-5.") var seeds: String?
    @Option(name: .customLong("latent-in"), help: "Latents: .npz with 'w' [N, numWs, wDim] or [N, wDim], or 'z' [N, zDim]; or a bare .npy.")
    var latentIn: String?
    @Option(help: "Truncation psi (applied when mapping z).") var trunc: Float = 1
    @Option(name: .customLong("trunc-cutoff"), help: "Apply truncation only to the first N ws.") var truncCutoff: Int?
    @Option(name: .customLong("noise-mode"), help: "const | random | none.") var noiseMode: String = "const"
    @Option(name: .customLong("mix-seed"), help: "Style mixing: seed whose ws replace --mix-layers.") var mixSeed: Int?
    @Option(name: .customLong("mix-layers"), help: "Style mixing layer range a-b (inclusive, 0-based ws rows).") var mixLayers: String?
    @Option(help: "Output folder, .npy file or .png file.") var out: String

    func validate() throws {
        if (seeds == nil) == (latentIn == nil) { throw ValidationError("give exactly one of --seeds or --latent-in") }
        if (mixSeed == nil) != (mixLayers == nil) { throw ValidationError("--mix-seed and --mix-layers go together") }
        guard ["const", "random", "none"].contains(noiseMode) else { throw ValidationError("--noise-mode must be const, random or none") }
        if let seeds {
            let list = try parseIntList(seeds, name: "--seeds")
            guard list.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else {
                throw ValidationError("--seeds must lie in 0...4294967295")
            }
        }
        if let mixSeed, !(0...Int(UInt32.max)).contains(mixSeed) { throw ValidationError("--mix-seed must lie in 0...4294967295") }
        if let mixLayers { _ = try parseLayerRange(mixLayers, numWs: Int.max) }
        guard trunc.isFinite else { throw ValidationError("--trunc must be a finite number") }
        if let truncCutoff, truncCutoff < 0 { throw ValidationError("--trunc-cutoff must be >= 0") }
        guard !out.isEmpty else { throw ValidationError("--out must not be empty") }
    }

    func run() throws {
        let G = try net.loadGenerator()
        var names: [String]
        var ws: Tensor
        /// Per-image seeds for `--noise-mode random`.
        var noiseSeeds: [UInt64]
        if let seeds {
            let list = try parseIntList(seeds, name: "--seeds")
            try requireWorkingSize("--seeds", count: list.count, bytesEach: generatedImageBytes(G), what: "images")
            let z = Tensor.concatenate(list.map { zFromSeed(UInt32($0), zDim: G.zDim) })
            ws = G.mapping(z: z, truncationPsi: trunc, truncationCutoff: truncCutoff)
            names = list.map { String(format: "seed%04d", $0) }
            noiseSeeds = list.map { UInt64($0) }
        } else {
            let latents = try loadLatents(path: latentIn!, generator: G)
            try requireWorkingSize("--latent-in", count: { switch latents { case .w(let t), .z(let t): return t.shape[0] } }(), bytesEach: generatedImageBytes(G), what: "images")
            switch latents {
            case .w(let w):
                if trunc != 1 || truncCutoff != nil {
                    throw CommandFailure("\(latentIn!): holds w latents, which are used as they are; --trunc and --trunc-cutoff apply only to z")
                }
                ws = w
            case .z(let z):
                ws = G.mapping(z: z, truncationPsi: trunc, truncationCutoff: truncCutoff)
            }
            names = (0..<ws.shape[0]).map { String(format: "latent%04d", $0) }
            noiseSeeds = (0..<ws.shape[0]).map { UInt64($0) }
        }
        let output = try GenerateOutput(out, imageCount: ws.shape[0])
        if let mixSeed, let mixLayers {
            // The syntax was checked in validate(); the bounds depend on the generator.
            let layers: Range<Int>
            do { layers = try parseLayerRange(mixLayers, numWs: G.numWs) } catch let e as ValidationError {
                throw CommandFailure("--mix-layers: \(e.message)")
            }
            let zMix = zFromSeed(UInt32(mixSeed), zDim: G.zDim)
            let wMix = G.mapping(z: zMix, truncationPsi: trunc, truncationCutoff: truncCutoff)
            ws = G.mixStyles(ws: ws, mixWs: wMix, layers: layers)
        }
        let images = synthesizeImages(generator: G, ws: ws, noiseMode: noiseMode, noiseSeeds: noiseSeeds)
        let written = try output.write(images, names: names)
        let record: [String: String] = [
            "command": "generate", "network": net.networkName, "generator": G.fingerprint,
            "seeds": seeds ?? "", "latent_in": latentIn ?? "", "trunc": "\(trunc)",
            "trunc_cutoff": truncCutoff.map(String.init) ?? "", "noise_mode": noiseMode,
            "mix_seed": mixSeed.map(String.init) ?? "", "mix_layers": mixLayers ?? "",
            "images": "\(images.count)", "resolution": "\(G.resolution)",
        ]
        let recordPath = try writeRecord(record, besides: out, name: "generate.json")
        print("wrote \(written) and \(recordPath)")
    }
}

/// Synthesis in chunks (a long seed list never holds every activation at once).
/// `random` noise is drawn per image from `noiseSeeds[i]`, so an image does not depend on its
/// neighbours or on the chunk size.
/// - Returns: one `[C, R, R]` image per row of `ws` `[N, numWs, wDim]`.
func synthesizeImages(generator G: StyleGAN2Generator, ws: Tensor, noiseMode: String, noiseSeeds: [UInt64]) -> [Tensor] {
    let n = ws.shape[0]
    let chunk = noiseMode == "random" ? 1 : 8
    var images: [Tensor] = []
    images.reserveCapacity(n)
    let progress = ProgressBar(total: n, label: "generate")
    var i = 0
    while i < n {
        let j = min(i + chunk, n)
        let mode: NoiseMode
        switch noiseMode {
        // Seed 0 and index 0 would collide with a plain counter; the golden-ratio offset keeps
        // image noise streams apart from other seeded uses.
        case "random": mode = .random(seed: noiseSeeds[i] &+ 0x9E37_79B9_7F4A_7C15)
        case "none": mode = .none
        default: mode = .const
        }
        let img = G.synthesis(ws: ws.slice(i..<j), noiseMode: mode)
        for k in 0..<(j - i) { images.append(img.row(k)) }
        i = j
        progress.update(i)
    }
    return images
}

/// Latents from a file, as stored: w (already `[N, numWs, wDim]`) or z `[N, zDim]`.
enum Latents {
    case w(Tensor)
    case z(Tensor)
}

/// Reads latents for `G`: an .npz with `w` `[N, numWs, wDim]` or `[N, wDim]` (broadcast to every
/// layer) or `z` `[N, zDim]`, plus optional `noise.*` maps (ignored); or a bare .npy, taken as w
/// when its last dimension is `wDim`, else as z.
/// - Throws: `CommandFailure` naming the file for unknown arrays, both or neither of w and z, wrong
///   shapes, no latents, or non-finite values.
func loadLatents(path: String, generator G: StyleGAN2Generator) throws -> Latents {
    let isNpy = path.lowercased().hasSuffix(".npy")
    // Missing paths, folders and empty files get the same one-line reasons as in `inspect`.
    _ = try sniffFileKind(path: path)
    let arrays = try readLatentArrays(path: path)
    let wShapes = "[N, \(G.numWs), \(G.wDim)] or [N, \(G.wDim)]"
    func asW(_ t: Tensor, _ what: String) throws -> Tensor {
        switch t.rank {
        case 3 where t.shape[1] == G.numWs && t.shape[2] == G.wDim: return t
        case 2 where t.shape[1] == G.wDim:
            let n = t.shape[0]
            var out = Tensor.zeros([n, G.numWs, G.wDim])
            for i in 0..<n {
                for r in 0..<G.numWs {
                    out.storage.replaceSubrange((i * G.numWs + r) * G.wDim ..< (i * G.numWs + r + 1) * G.wDim,
                                                with: t.storage[i * G.wDim ..< (i + 1) * G.wDim])
                }
            }
            return out
        default:
            throw CommandFailure("\(path): \(what) has shape \(t.shape); this generator needs w \(wShapes)")
        }
    }
    func asZ(_ t: Tensor, _ what: String) throws -> Tensor {
        guard t.rank == 2, t.shape[1] == G.zDim else {
            throw CommandFailure("\(path): \(what) has shape \(t.shape); this generator needs z [N, \(G.zDim)]")
        }
        return t
    }
    let latents: Latents
    if isNpy {
        let t = arrays["arr_0"]!
        guard t.rank == 2 || t.rank == 3, t.shape.last == G.wDim || t.shape.last == G.zDim else {
            throw CommandFailure("\(path): the array has shape \(t.shape); a bare .npy must be w \(wShapes) or z [N, \(G.zDim)]")
        }
        latents = t.shape.last == G.wDim ? .w(try asW(t, "the array (taken as w)")) : .z(try asZ(t, "the array (taken as z)"))
    } else {
        let unknown = arrays.keys.filter { $0 != "w" && $0 != "z" && !$0.hasPrefix("noise.") }.sorted()
        guard unknown.isEmpty else {
            throw CommandFailure("\(path): unknown array\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); expected 'w' or 'z' (plus optional 'noise.*' maps)")
        }
        switch (arrays["w"], arrays["z"]) {
        case (let w?, nil): latents = .w(try asW(w, "'w'"))
        case (nil, let z?): latents = .z(try asZ(z, "'z'"))
        case (_?, _?): throw CommandFailure("\(path): holds both 'w' and 'z'; keep one")
        case (nil, nil): throw CommandFailure("\(path): no array named 'w' or 'z' (found: \(arrays.keys.sorted().joined(separator: ", ")))")
        }
    }
    let t: Tensor
    switch latents { case .w(let x), .z(let x): t = x }
    guard t.shape[0] > 0 else { throw CommandFailure("\(path): holds no latents (N = 0)") }
    guard t.isFinite else { throw CommandFailure("\(path): the latents contain NaN or infinite values") }
    return latents
}

/// Loads latents as ws `[N, numWs, wDim]` (z mapped with the given truncation); see `loadLatents`.
func loadLatentsAsWs(path: String, generator G: StyleGAN2Generator, truncationPsi: Float, truncationCutoff: Int?) throws -> Tensor {
    switch try loadLatents(path: path, generator: G) {
    case .w(let w): return w
    case .z(let z): return G.mapping(z: z, truncationPsi: truncationPsi, truncationCutoff: truncationCutoff)
    }
}

/// Reads every array of an .npz (or the single array of an .npy, as "arr_0") as float tensors.
func readLatentArrays(path: String) throws -> [String: Tensor] {
    if path.lowercased().hasSuffix(".npy") {
        return ["arr_0": try readNpy(path: path).toTensor()]
    }
    var out: [String: Tensor] = [:]
    for (k, v) in try readNpz(path: path) { out[k] = v.toTensor() }
    return out
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
    func write(_ images: [Tensor], names: [String]) throws -> String {
        switch self {
        case .npy(let path):
            let stacked = Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) })
            do { try writeNpy(NpyArray(stacked), to: path) } catch { throw CommandFailure(error, context: path) }
            return "\(path) (float32 \(stacked.shape))"
        case .image(let path):
            do { try saveImage(images[0], to: path) } catch { throw CommandFailure(error, context: path) }
            return path
        case .folder(let dir):
            try writeImages(images, names: names, out: dir)
            return "\(images.count) image\(images.count == 1 ? "" : "s") and grid.png to \(dir)"
        }
    }
}

/// Writes images to a folder (one PNG each plus grid.png), a .npy ([N, C, H, W] float32, raw) or
/// a single .png/.jpg.
func writeImages(_ images: [Tensor], names: [String], out: String) throws {
    let lower = out.lowercased()
    if lower.hasSuffix(".npy") || lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
        _ = try GenerateOutput(out, imageCount: images.count).write(images, names: names)
        return
    }
    do {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    } catch {
        throw CommandFailure(error, context: out)
    }
    for (img, name) in zip(images, names) { try saveImage(img, to: out + "/" + name + ".png") }
    let cols = Int(Double(images.count).squareRoot().rounded(.up))
    try saveImage(imageGrid(images, columns: cols), to: out + "/grid.png")
}

/// Writes the command's arguments as JSON next to its results (inside a folder output as
/// `name`, or as `<file>.json` beside a file output) so every result can be reproduced.
/// - Returns: the record's path.
@discardableResult
func writeRecord(_ record: [String: String], besides out: String, name: String) throws -> String {
    var isDir: ObjCBool = false
    let path: String
    if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), isDir.boolValue {
        path = (out.hasSuffix("/") ? out : out + "/") + name
    } else {
        path = out + ".json"
    }
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    do { try writeAtomically(enc.encode(record), to: path) } catch { throw CommandFailure(error, context: path) }
    return path
}
