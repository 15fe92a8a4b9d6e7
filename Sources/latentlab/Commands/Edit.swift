import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentEditing
import LatentInversion

/// `latentlab edit`: move an inverted latent along a direction, by a recipe, or by text.
struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Edit latents: linear directions, recipes from Edits/, or text prompts (CLIP-guided).",
        discussion: """
        --direction FILE[:name|index] --strength s[,s2,…] [--layers a-b] writes one edited latent and image per \
        strength plus strip.png (original first). --recipe Edits/X.json applies a saved edit to one latent, or with \
        --latent-in pointing at a `project` output folder, to every latent in it.

        --text "a red cube" optimises W+ (StyleCLIP latent optimisation) to minimise 1 − cos(CLIP(G(w)), CLIP(text)) \
        + λ‖w − w₀‖² over the ws rows of --layers (default all; --space w moves them by one shared offset), with \
        Adam for --steps at --lr (ramped as NVIDIA's projector). --text-from "a sphere" --text-to "a cube" uses the directional loss \
        1 − cos(CLIP(G(w)) − CLIP(G(w₀)), CLIP(to) − CLIP(from)) instead. --mask M.png (white = may change) adds \
        --mask-weight · mean((1 − M)(G(w) − G(w₀))²), which keeps the rest of the image still. --augment K also \
        scores K random views per step (shifted up to --jitter pixels, mirrored with --flips, cropped to at least \
        --min-crop of the image), so the edit cannot hide in CLIP's patch grid. --subspace \
        Latents/ganspace.safetensors:12 keeps the offsets in the span of the first 12 directions of that file \
        (edits along the generator's factors instead of arbitrary patterns). Noise maps stay fixed (the latent's \
        stored maps, else the generator's const noise). Settings measured on the test scenes: Bench/clip-edit.md. \
        Writes latent.npz, edited.png, original.png, before_after.png and edit.json (arguments, CLIP scores before \
        and after, loss terms); with a `project` output folder as --latent-in, one sub-folder per latent.
        """)

    @OptionGroup var net: NetworkOptions
    @Option(name: .customLong("latent-in"), help: "latent.npz (from invert/project), or a project output folder with --recipe or --text.")
    var latentIn: String
    @Option(help: "Direction file and entry: FILE[:name|index].") var direction: String?
    @Option(parsing: .unconditional, help: "Strengths, e.g. -3,-1.5,0,1.5,3 (a leading minus is fine).") var strength: String = "1"
    @Option(help: "ws rows to edit, a-b (default: the direction file's range; all rows for text edits).") var layers: String?
    @Option(help: "Edit recipe (JSON, see Edits/).") var recipe: String?
    @OptionGroup var textOptions: TextEditOptions
    @Option(help: "Output folder.") var out: String

    func validate() throws {
        let modes = [direction != nil, recipe != nil, textOptions.isTextEdit].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError("give exactly one of --direction, --recipe, --text or --text-from/--text-to")
        }
        try textOptions.validate()
        if direction != nil { _ = try parsedStrengths() }
    }

    /// `--strength` as numbers (checked in `validate`, so a typo gets the usage, exit 64).
    func parsedStrengths() throws -> [Float] {
        try strength.split(separator: ",").map { s -> Float in
            guard let v = Float(s.trimmingCharacters(in: .whitespaces)), v.isFinite else { throw ValidationError("bad strength '\(s)'") }
            return v
        }
    }

    func run() throws {
        let G = try net.loadGenerator()
        if let recipe { try runRecipe(G, path: recipe); return }
        if textOptions.isTextEdit { try runText(G); return }
        let (file, entry) = parseDirectionReference(direction!)
        let set = try DirectionSet.load(path: file)
        warnIfForeign(set, G)
        let i = try entry.map { try set.index(of: $0) } ?? 0
        guard set.wDim == G.wDim else { throw CommandFailure("\(file): directions have wDim \(set.wDim), generator \(G.wDim)") }
        let range = try layers.map { try parseWsRange($0, numWs: G.numWs) } ?? set.layers.clamped(to: 0 ..< G.numWs)
        let strengths = try parsedStrengths()
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
        let inputs = try findLatentInputs(latentIn)
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

/// The latents to edit: `latentIn` itself, or every `latent.npz` under a folder (e.g. a
/// `project` output), named by their sub-folder and sorted.
func findLatentInputs(_ latentIn: String) throws -> [(name: String, path: String)] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: latentIn, isDirectory: &isDir) else {
        throw CommandFailure("\(latentIn): no such file or folder")
    }
    guard isDir.boolValue else { return [("", latentIn)] }
    let base = URL(fileURLWithPath: latentIn)
    let walker = FileManager.default.enumerator(atPath: latentIn)
    var found: [(String, String)] = []
    while let rel = walker?.nextObject() as? String {
        if rel.hasSuffix("latent.npz") {
            found.append(((rel as NSString).deletingLastPathComponent, base.appendingPathComponent(rel).path))
        }
    }
    guard !found.isEmpty else { throw CommandFailure("\(latentIn): no latent.npz files found") }
    return found.sorted { $0.0 < $1.0 }
}

/// Reads an inversion's latent: `w` `[1, numWs, wDim]` (or `[numWs, wDim]`, `[wDim]`) plus
/// optional `noise.<layer>` maps (`[H, W]`); layers without a stored map use const noise.
func loadInversion(path: String, generator G: StyleGAN2Generator) throws -> (Tensor, NoiseMaps?) {
    let arrays = try readLatentArrays(path: path)
    let ws = try loadLatentsAsWs(path: path, generator: G, truncationPsi: 1, truncationCutoff: nil)
    guard ws.shape[0] == 1 else { throw CommandFailure("\(path): holds \(ws.shape[0]) latents; edit takes one") }
    var noise = NoiseMaps()
    var any = false
    for name in G.noiseLayerNames {
        if let m = arrays["noise.\(name)"] {
            guard m.count == G.noiseShape(layer: name)!.reduce(1, *) else {
                throw CommandFailure("\(path): noise.\(name) has shape \(m.shape), expected \(G.noiseShape(layer: name)!)")
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

// MARK: - Text-guided edits

/// Options of `edit --text` / `--text-from --text-to` (StyleCLIP latent optimisation).
struct TextEditOptions: ParsableArguments {
    @Option(help: "Text-guided edit: the text the image should match.") var text: String?
    @Option(name: .customLong("text-from"), help: "Directional text edit: what the image shows now (with --text-to).") var textFrom: String?
    @Option(name: .customLong("text-to"), help: "Directional text edit: what it should show (with --text-from).") var textTo: String?
    @Option(help: "Text edit: w+ (each row of --layers moves on its own) or w (one offset added to all of them).") var space: String = "w+"
    @Option(help: "Text edit: confine the offsets to the span of directions FILE[:count] (e.g. GANSpace components).")
    var subspace: String?
    @Option(name: .customLong("lambda-l2"), help: "Weight λ of ‖w − w₀‖² (StyleCLIP l2_lambda).") var lambdaL2: Float = 0.008
    @Option(name: [.customLong("steps"), .customLong("num-steps")], help: "Text edit: Adam steps.") var steps: Int = 100
    @Option(help: "Text edit: peak learning rate.") var lr: Float = 0.1
    @Option(help: "Text edit: mask image (white = may change), or a folder of <name>.png masks for a folder of latents.")
    var mask: String?
    @Option(name: .customLong("mask-weight"), help: "Text edit: weight of the pixel term outside the mask.") var maskWeight: Float = 10
    @Option(help: "Text edit: random views (shifted, --flips, --min-crop) CLIP also scores each step.") var augment: Int = 0
    @Option(help: "Text edit: largest shift of an augmented view, in pixels.") var jitter: Int = 4
    @Flag(help: "Text edit: mirror augmented views left–right at random.") var flips = false
    @Option(name: .customLong("min-crop"), help: "Text edit: smallest random square crop of an augmented view, as a fraction of the image (1 = none).")
    var minCrop: Double = 1
    @Option(help: "Text edit: seed of the augmentation shifts.") var seed: Int = 0
    @Option(help: "Text edit: latents optimised together (folder input).") var batch: Int = 8
    @Option(name: .customLong("clip-model"), help: "CLIP checkpoint (.safetensors, OpenAI key names). Default: the embedded clip-scenes64.")
    var clipModel: String?

    var isTextEdit: Bool { text != nil || textFrom != nil || textTo != nil }

    func validate() throws {
        guard isTextEdit else { return }
        if text != nil && (textFrom != nil || textTo != nil) { throw ValidationError("give --text or --text-from/--text-to, not both") }
        if text == nil && (textFrom == nil || textTo == nil) { throw ValidationError("--text-from and --text-to go together") }
        guard steps >= 1 else { throw ValidationError("--steps must be positive") }
        guard LatentSpace(rawValue: space) != nil else { throw ValidationError("--space must be w or w+") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard lambdaL2 >= 0, lambdaL2.isFinite else { throw ValidationError("--lambda-l2 must be ≥ 0") }
        guard maskWeight >= 0, maskWeight.isFinite else { throw ValidationError("--mask-weight must be ≥ 0") }
        guard augment >= 0, jitter >= 0 else { throw ValidationError("--augment and --jitter must be ≥ 0") }
        guard minCrop > 0, minCrop <= 1 else { throw ValidationError("--min-crop must be in (0, 1]") }
        guard seed >= 0 else { throw ValidationError("--seed must be ≥ 0") }
        guard batch >= 1 else { throw ValidationError("--batch must be positive") }
    }

    func loadCLIP() throws -> CLIPModel {
        guard let clipModel else { return try CLIPModel.loadDefault() }
        return try CLIPModel(safetensorsPath: clipModel)
    }

    /// The mask for the latent `name` as `[1, 1, R, R]` weights in [0, 1] (mean brightness), or nil.
    func loadMask(for name: String, resolution r: Int) throws -> Tensor? {
        guard let mask else { return nil }
        var isDir: ObjCBool = false
        var path = mask
        if FileManager.default.fileExists(atPath: mask, isDirectory: &isDir), isDir.boolValue {
            path = (mask as NSString).appendingPathComponent((name.isEmpty ? "mask" : name) + ".png")
            guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("--mask \(mask): no \(path) for latent '\(name)'") }
        }
        let m = try preprocess(try loadImage(path: path).tensor, crop: .center, size: r)
        var w = Tensor.zeros([1, 1, r, r])
        for y in 0..<r { for x in 0..<r { w[0, 0, y, x] = min(max(((m[0, y, x] + m[1, y, x] + m[2, y, x]) / 3 + 1) / 2, 0), 1) } }
        return w
    }

    var record: [String: Any] {
        ["text": text ?? "", "text_from": textFrom ?? "", "text_to": textTo ?? "", "space": space, "lambda_l2": lambdaL2, "steps": steps,
         "lr": lr, "subspace": subspace ?? "", "mask": mask ?? "", "mask_weight": maskWeight, "augment": augment, "jitter": jitter, "flips": flips, "min_crop": minCrop, "seed": seed,
         "clip_model": clipModel ?? "default:clip-scenes64"]
    }
}

extension Edit {
    func runText(_ G: StyleGAN2Generator) throws {
        let o = textOptions
        let clip = try o.loadCLIP()
        let tokenizer = try CLIPTokenizer.loadDefault()
        let texts = o.text.map { [$0] } ?? [o.textFrom!, o.textTo!]
        let textFeatures = try clip.encodeText(texts, tokenizer: tokenizer)
        let target: TextGuidedEditTarget = o.text != nil ? .text(textFeatures)
            : .direction(from: textFeatures.slice(0 ..< 1), to: textFeatures.slice(1 ..< 2))
        var options = TextGuidedEditOptions()
        options.steps = o.steps
        options.learningRate = o.lr
        options.lambdaL2 = o.lambdaL2
        options.space = LatentSpace(rawValue: o.space)!
        if let sub = o.subspace {
            let (file, entry) = parseDirectionReference(sub)
            let set = try DirectionSet.load(path: file)
            guard set.wDim == G.wDim else { throw CommandFailure("\(file): directions have wDim \(set.wDim), generator \(G.wDim)") }
            warnIfForeign(set, G)
            let count = try entry.map { e -> Int in
                guard let k = Int(e), k >= 1, k <= set.count else {
                    throw CommandFailure("--subspace \(sub): count must be 1-\(set.count)")
                }
                return k
            } ?? set.count
            options.subspace = set.directions.slice(0 ..< count)
        }
        options.layers = try layers.map { try parseWsRange($0, numWs: G.numWs) }
        options.maskPixelWeight = o.maskWeight
        options.augmentations = o.augment
        options.jitter = o.jitter
        options.flips = o.flips
        options.minCrop = o.minCrop
        options.seed = UInt64(o.seed)
        let range = options.layers ?? 0 ..< G.numWs

        let inputs = try findLatentInputs(latentIn)
        let bar = ProgressBar(total: inputs.count * o.steps, label: "edit")
        var summary: [[String: Any]] = []
        var start = 0
        while start < inputs.count {
            let chunk = Array(inputs[start ..< min(start + o.batch, inputs.count)])
            let loaded = try chunk.map { try loadInversion(path: $0.path, generator: G) }
            let ws = Tensor.concatenate(loaded.map(\.0))
            let noise = G.stackedNoise(loaded.map(\.1))
            let masks = try chunk.map { try o.loadMask(for: $0.name, resolution: G.resolution) }
            if masks.contains(where: { $0 != nil }) { options.mask = Tensor.concatenate(masks.map { $0! }) }
            let done = start * o.steps
            let result = try textGuidedEdit(generator: G, clip: clip, ws: ws, noise: noise, target: target, options: options) { p in
                bar.update(done + p.step * chunk.count,
                           detail: String(format: "loss %.4f clip %.4f", p.loss.reduce(0, +) / Float(p.loss.count),
                                          p.clipLoss.reduce(0, +) / Float(p.clipLoss.count)))
            }
            for (k, item) in chunk.enumerated() {
                let dir = item.name.isEmpty ? out : out + "/" + item.name
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let before = result.initialImage.row(k), after = result.image.row(k)
                try saveLatent(ws: result.ws.slice(k ..< k + 1), noise: loaded[k].1, to: dir + "/latent.npz")
                try saveImage(after, to: dir + "/edited.png")
                try saveImage(before, to: dir + "/original.png")
                try saveImage(imageGrid([before, after], columns: 2), to: dir + "/before_after.png")
                var scores = textEditScores(before: result.initialImageFeatures.slice(k ..< k + 1),
                                            after: result.imageFeatures.slice(k ..< k + 1), texts: texts, textFeatures: textFeatures)
                scores["loss_clip"] = result.finalLoss.clip[k]
                scores["loss_l2"] = result.finalLoss.l2[k]
                scores["loss_pixel"] = result.finalLoss.pixel[k]
                var record: [String: Any] = ["command": "edit", "latent_in": item.path, "network": net.networkName,
                                             "generator": G.fingerprint, "layers": "\(range.lowerBound)-\(range.upperBound - 1)",
                                             "scores": scores, "seconds_per_latent": result.seconds / Double(chunk.count)]
                record.merge(o.record) { a, _ in a }
                try writeJSONObject(record, to: dir + "/edit.json")
                summary.append(["name": item.name.isEmpty ? item.path : item.name, "scores": scores])
                let line = o.text != nil
                    ? String(format: "cos(image, text) %.4f → %.4f", scores["cos_text_before"] as! Double, scores["cos_text_after"] as! Double)
                    : String(format: "cos(Δimage, Δtext) %.4f; cos(image, to) %.4f → %.4f", scores["cos_direction"] as! Double,
                             scores["cos_to_before"] as! Double, scores["cos_to_after"] as! Double)
                print("\(item.name.isEmpty ? item.path : item.name): \(line) → \(dir)/before_after.png")
            }
            start += chunk.count
        }
        if inputs.count > 1 || !inputs[0].name.isEmpty {
            var record: [String: Any] = ["command": "edit", "latent_in": latentIn, "network": net.networkName,
                                         "generator": G.fingerprint, "layers": "\(range.lowerBound)-\(range.upperBound - 1)",
                                         "latents": summary]
            record.merge(o.record) { a, _ in a }
            try writeJSONObject(record, to: out + "/edit.json")
        }
    }
}

/// CLIP cosines of the images before and after an edit with the prompt texts (one text: `text`;
/// two: `from`, `to` plus the cosine between the image change and the text change).
func textEditScores(before: Tensor, after: Tensor, texts: [String], textFeatures: Tensor) -> [String: Any] {
    func cos(_ a: [Double], _ b: [Double]) -> Double {
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let na = a.reduce(0) { $0 + $1 * $1 }.squareRoot(), nb = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return na > 0 && nb > 0 ? dot / (na * nb) : 0
    }
    let fb = before.doubles, fa = after.doubles
    let t = (0..<texts.count).map { textFeatures.row($0).doubles }
    if texts.count == 1 {
        return ["cos_text_before": cos(fb, t[0]), "cos_text_after": cos(fa, t[0])]
    }
    return ["cos_from_before": cos(fb, t[0]), "cos_from_after": cos(fa, t[0]),
            "cos_to_before": cos(fb, t[1]), "cos_to_after": cos(fa, t[1]),
            "cos_direction": cos(zip(fa, fb).map { $0 - $1 }, zip(t[1], t[0]).map { $0 - $1 })]
}

/// Writes a JSON object (sorted keys, pretty) atomically.
func writeJSONObject(_ object: [String: Any], to path: String) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    try writeAtomically(data, to: path)
}
