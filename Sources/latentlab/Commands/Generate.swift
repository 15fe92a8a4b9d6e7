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
        Seeds give z = np.random.RandomState(seed).randn(1, z_dim), exactly as NVIDIA's gen_images.py, so the same
        seed gives the same image here and there.
        --out DIR writes seedNNNN.png (or latentNNNN.png) per image plus grid.png; --out FILE.npy writes float32
        images [N, 3, H, W] in [-1, 1]; --out FILE.png writes one image.
        """)

    @OptionGroup var net: NetworkOptions
    @Option(help: "Seeds, e.g. 0,3-5.") var seeds: String?
    @Option(name: .customLong("latent-in"), help: "Latents: .npz with 'w' [N, numWs, wDim] or [N, wDim], or 'z' [N, zDim]; or a bare .npy.")
    var latentIn: String?
    @Option(help: "Truncation psi.") var trunc: Float = 1
    @Option(name: .customLong("trunc-cutoff"), help: "Apply truncation only to the first N ws.") var truncCutoff: Int?
    @Option(name: .customLong("noise-mode"), help: "const | random | none.") var noiseMode: String = "const"
    @Option(name: .customLong("mix-seed"), help: "Style mixing: seed whose ws replace --mix-layers.") var mixSeed: Int?
    @Option(name: .customLong("mix-layers"), help: "Style mixing layer range a-b (inclusive).") var mixLayers: String?
    @Option(help: "Output folder, .npy file or .png file.") var out: String

    func validate() throws {
        if (seeds == nil) == (latentIn == nil) { throw ValidationError("give exactly one of --seeds or --latent-in") }
        if (mixSeed == nil) != (mixLayers == nil) { throw ValidationError("--mix-seed and --mix-layers go together") }
        guard ["const", "random", "none"].contains(noiseMode) else { throw ValidationError("--noise-mode must be const, random or none") }
    }

    func run() throws {
        let G = try net.loadGenerator()
        var names: [String] = []
        var ws: Tensor
        if let seeds {
            let list = try parseIntList(seeds)
            guard list.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else { throw ValidationError("seeds must be in 0...4294967295") }
            let z = Tensor.concatenate(list.map { zFromSeed(UInt32($0), zDim: G.zDim).reshaped([1, G.zDim]) })
            ws = G.mapping(z: z, truncationPsi: trunc, truncationCutoff: truncCutoff)
            names = list.map { String(format: "seed%04d", $0) }
        } else {
            ws = try loadLatentsAsWs(path: latentIn!, generator: G, truncationPsi: trunc, truncationCutoff: truncCutoff)
            names = (0..<ws.shape[0]).map { String(format: "latent%04d", $0) }
        }
        if let mixSeed, let mixLayers {
            let layers = try parseLayerRange(mixLayers, numWs: G.numWs)
            guard mixSeed >= 0 && mixSeed <= Int(UInt32.max) else { throw ValidationError("--mix-seed must be in 0...4294967295") }
            let zMix = zFromSeed(UInt32(mixSeed), zDim: G.zDim).reshaped([1, G.zDim])
            let wMix = G.mapping(z: zMix, truncationPsi: trunc, truncationCutoff: truncCutoff)
            ws = G.mixStyles(ws: ws, mixWs: Tensor.concatenate(Array(repeating: wMix, count: ws.shape[0])), layers: layers)
        }
        let mode: NoiseMode
        switch noiseMode {
        case "random":
            // Seeded from the first seed (or 0) so a rerun reproduces the same noise.
            let first = seeds.flatMap { try? parseIntList($0) }?.first ?? 0
            mode = .random(seed: UInt64(first))
        case "none": mode = .none
        default: mode = .const
        }
        // Generate in chunks so a long seed list does not hold every activation at once.
        var images: [Tensor] = []
        let progress = ProgressBar(total: ws.shape[0], label: "generate")
        var i = 0
        while i < ws.shape[0] {
            let j = min(i + 8, ws.shape[0])
            let img = G.synthesis(ws: ws.slice(i..<j), noiseMode: mode)
            for k in 0..<(j - i) { images.append(img.row(k)) }
            i = j
            progress.update(i)
        }
        try writeImages(images, names: names, out: out)
        let record: [String: String] = [
            "command": "generate", "network": net.networkName, "generator": G.fingerprint,
            "seeds": seeds ?? "", "latent_in": latentIn ?? "", "trunc": "\(trunc)",
            "trunc_cutoff": truncCutoff.map(String.init) ?? "", "noise_mode": noiseMode,
            "mix_seed": mixSeed.map(String.init) ?? "", "mix_layers": mixLayers ?? "",
        ]
        try writeRecord(record, besides: out, name: "generate.json")
    }
}

/// Loads latents for generation: `w` [N, numWs, wDim] or [N, wDim] (broadcast), or `z` [N, zDim]
/// (mapped with the given truncation); a bare .npy is w if its last dimension is wDim, else z.
func loadLatentsAsWs(path: String, generator G: StyleGAN2Generator, truncationPsi: Float, truncationCutoff: Int?) throws -> Tensor {
    let arrays = try readLatentArrays(path: path)
    func asW(_ t: Tensor) throws -> Tensor {
        switch t.rank {
        case 3 where t.shape[1] == G.numWs && t.shape[2] == G.wDim: return t
        case 2 where t.shape[1] == G.wDim:
            let n = t.shape[0]
            var out = Tensor.zeros([n, G.numWs, G.wDim])
            for i in 0..<n { for r in 0..<G.numWs { for c in 0..<G.wDim { out[i, r, c] = t[i, c] } } }
            return out
        case 1 where t.shape[0] == G.wDim: return try asW(t.reshaped([1, G.wDim]))
        default: throw ValidationError("\(path): w has shape \(t.shape); this generator needs [N, \(G.numWs), \(G.wDim)] or [N, \(G.wDim)]")
        }
    }
    func asZ(_ t: Tensor) throws -> Tensor {
        let z = t.rank == 1 ? t.reshaped([1, t.count]) : t
        guard z.rank == 2, z.shape[1] == G.zDim else {
            throw ValidationError("\(path): z has shape \(t.shape); this generator needs [N, \(G.zDim)]")
        }
        return G.mapping(z: z, truncationPsi: truncationPsi, truncationCutoff: truncationCutoff)
    }
    if path.lowercased().hasSuffix(".npy") {
        let t = arrays["arr_0"]!
        return t.shape.last == G.wDim ? try asW(t) : try asZ(t)
    }
    if let w = arrays["w"] { return try asW(w) }
    if let z = arrays["z"] { return try asZ(z) }
    throw ValidationError("\(path): no array named 'w' or 'z' (found: \(arrays.keys.sorted().joined(separator: ", ")))")
}

/// Reads every array of an .npz (or the single array of an .npy, as "arr_0") as float tensors.
func readLatentArrays(path: String) throws -> [String: Tensor] {
    if path.lowercased().hasSuffix(".npy") {
        return ["arr_0": try readNpy(path: path).toTensor()]
    }
    var out: [String: Tensor] = [:]
    for (k, v) in try readNpz(path: path) { out[k] = try v.toTensor() }
    return out
}

/// Writes images to a folder (one PNG each plus grid.png), a .npy ([N, C, H, W] float32 in
/// [-1, 1]) or a single .png/.jpg.
func writeImages(_ images: [Tensor], names: [String], out: String) throws {
    let lower = out.lowercased()
    if lower.hasSuffix(".npy") {
        let stacked = Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) })
        try writeNpy(NpyArray(stacked), to: out)
    } else if lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
        guard images.count == 1 else {
            throw ValidationError("--out \(out) holds one image but \(images.count) were generated; give a folder")
        }
        try saveImage(images[0], to: out)
    } else {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for (img, name) in zip(images, names) { try saveImage(img, to: out + "/" + name + ".png") }
        let cols = Int(Double(images.count).squareRoot().rounded(.up))
        try saveImage(imageGrid(images, columns: cols), to: out + "/grid.png")
    }
}

/// Writes the command's arguments as JSON next to its results (inside a folder output, or as
/// `<file>.json` beside a file output) so every result can be reproduced.
func writeRecord(_ record: [String: String], besides out: String, name: String) throws {
    var isDir: ObjCBool = false
    let path: String
    if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), isDir.boolValue {
        path = out + "/" + name
    } else {
        path = out + ".json"
    }
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    try writeAtomically(enc.encode(record), to: path)
}
