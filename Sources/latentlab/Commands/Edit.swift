import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentEditing

/// `latentlab edit`: move an inverted latent along a direction, by a recipe, or by text.
struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Edit latents: linear directions with strengths and layer ranges, or recipes from Edits/.",
        discussion: """
        --direction FILE[:name|index] --strength s[,s2,…] [--layers a-b] writes one edited latent and image per
        strength plus strip.png (original first). --recipe Edits/X.json applies a saved edit to one latent, or with
        --latent-in pointing at a `project` output folder, to every latent in it.
        """)

    @OptionGroup var net: NetworkOptions
    @Option(name: .customLong("latent-in"), help: "latent.npz (from invert/project), or a project output folder with --recipe.")
    var latentIn: String
    @Option(help: "Direction file and entry: FILE[:name|index].") var direction: String?
    @Option(help: "Strengths, e.g. -3,-1.5,0,1.5,3.") var strength: String = "1"
    @Option(help: "ws rows to edit, a-b (default: the direction file's range).") var layers: String?
    @Option(help: "Edit recipe (JSON, see Edits/).") var recipe: String?
    @Option(help: "Output folder.") var out: String

    func validate() throws {
        guard (direction == nil) != (recipe == nil) else { throw ValidationError("give exactly one of --direction or --recipe") }
    }

    func run() throws {
        let G = try net.loadGenerator()
        if let recipe { try runRecipe(G, path: recipe); return }
        let (file, entry) = parseDirectionReference(direction!)
        let set = try DirectionSet.load(path: file)
        warnIfForeign(set, G)
        let i = try entry.map { try set.index(of: $0) } ?? 0
        guard set.wDim == G.wDim else { throw ValidationError("\(file): directions have wDim \(set.wDim), generator \(G.wDim)") }
        let range = try layers.map { try parseWsRange($0, numWs: G.numWs) } ?? set.layers.clamped(to: 0 ..< G.numWs)
        let strengths = try strength.split(separator: ",").map { s -> Float in
            guard let v = Float(s.trimmingCharacters(in: .whitespaces)), v.isFinite else { throw ValidationError("bad strength '\(s)'") }
            return v
        }
        let (ws, noise) = try loadInversion(path: latentIn, generator: G)
        var images = [G.synthesis(ws: ws, noise: noise).row(0)]
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for s in strengths {
            let edited = try applyDirection(ws: ws, direction: set.direction(i), strength: s, layers: range)
            let img = G.synthesis(ws: edited, noise: noise).row(0)
            images.append(img)
            let tag = String(format: "%+.2f", s)
            try saveLatent(ws: edited, noise: noise, to: out + "/edit_\(tag).npz")
            try saveImage(img, to: out + "/edit_\(tag).png")
        }
        try saveImage(imageGrid(images, columns: images.count), to: out + "/strip.png")
        try writeRecord(["command": "edit", "latent_in": latentIn, "direction": direction!, "entry": set.names[i],
                         "strength": strength, "layers": "\(range.lowerBound)-\(range.upperBound - 1)",
                         "network": net.networkName, "generator": G.fingerprint], besides: out, name: "edit.json")
        print("\(set.names[i]) × [\(strength)] on ws \(range.lowerBound)-\(range.upperBound - 1) → \(out)/strip.png")
    }

    func runRecipe(_ G: StyleGAN2Generator, path: String) throws {
        let r = try EditRecipe.load(path: path)
        var isDir: ObjCBool = false
        FileManager.default.fileExists(atPath: latentIn, isDirectory: &isDir)
        let inputs: [(name: String, path: String)]
        if isDir.boolValue {
            let base = URL(fileURLWithPath: latentIn)
            let walker = FileManager.default.enumerator(atPath: latentIn)
            var found: [(String, String)] = []
            while let rel = walker?.nextObject() as? String {
                if rel.hasSuffix("latent.npz") {
                    found.append(((rel as NSString).deletingLastPathComponent, base.appendingPathComponent(rel).path))
                }
            }
            inputs = found.sorted { $0.0 < $1.0 }
            guard !inputs.isEmpty else { throw ValidationError("\(latentIn): no latent.npz files found") }
        } else {
            inputs = [("", latentIn)]
        }
        let bar = ProgressBar(total: inputs.count, label: "edit")
        for (k, item) in inputs.enumerated() {
            let (ws, noise) = try loadInversion(path: item.path, generator: G)
            let edited = try applyRecipe(r, ws: ws, recipeDirectory: (path as NSString).deletingLastPathComponent)
            let dir = item.name.isEmpty ? out : out + "/" + item.name
            let before = G.synthesis(ws: ws, noise: noise).row(0)
            let after = G.synthesis(ws: edited, noise: noise).row(0)
            try saveLatent(ws: edited, noise: noise, to: dir + "/latent.npz")
            try saveImage(after, to: dir + "/edited.png")
            try saveImage(imageGrid([before, after], columns: 2), to: dir + "/before_after.png")
            bar.update(k + 1)
        }
        try writeRecord(["command": "edit", "recipe": path, "latent_in": latentIn, "network": net.networkName,
                         "generator": G.fingerprint, "images": "\(inputs.count)"], besides: out, name: "edit.json")
        print("recipe '\(r.name)' applied to \(inputs.count) latent(s) → \(out)")
    }
}

/// Reads an inversion's latent: `w` `[1, numWs, wDim]` (or `[numWs, wDim]`, `[wDim]`) plus
/// optional `noise.<layer>` maps (`[H, W]`); layers without a stored map use const noise.
func loadInversion(path: String, generator G: StyleGAN2Generator) throws -> (Tensor, NoiseMaps?) {
    let arrays = try readLatentArrays(path: path)
    let ws = try loadLatentsAsWs(path: path, generator: G, truncationPsi: 1, truncationCutoff: nil)
    guard ws.shape[0] == 1 else { throw ValidationError("\(path): holds \(ws.shape[0]) latents; edit takes one") }
    var noise = NoiseMaps()
    var any = false
    for name in G.noiseLayerNames {
        if let m = arrays["noise.\(name)"] {
            guard m.count == G.noiseShape(layer: name)!.reduce(1, *) else {
                throw ValidationError("\(path): noise.\(name) has shape \(m.shape), expected \(G.noiseShape(layer: name)!)")
            }
            noise[name] = m.reshaped([1] + G.noiseShape(layer: name)!)
            any = true
        } else {
            noise[name] = G.constNoise[name]!.reshaped([1] + G.noiseShape(layer: name)!)
        }
    }
    return (ws, any ? noise : nil)
}

/// Writes `w` `[1, numWs, wDim]` and the noise maps as `latent.npz` (NVIDIA's projected_w layout).
func saveLatent(ws: Tensor, noise: NoiseMaps?, to path: String) throws {
    var arrays: [(name: String, array: NpyArray)] = [("w", try NpyArray(ws))]
    if let noise { for name in noise.layerNames { arrays.append(("noise.\(name)", try NpyArray(noise[name]!.row(0)))) } }
    try writeNpz(arrays, to: path, compressed: false)
}

/// Directions found for other weights still apply mechanically but may mean something else.
func warnIfForeign(_ set: DirectionSet, _ G: StyleGAN2Generator) {
    if !set.generatorFingerprint.isEmpty && set.generatorFingerprint != G.fingerprint {
        printError("warning: directions were discovered for generator \(set.generatorFingerprint), this is \(G.fingerprint)")
    }
}
