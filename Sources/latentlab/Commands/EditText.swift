import ArgumentParser
import Foundation
import LatentTensor
import LatentModels
import LatentCLIP
import LatentCore
import LatentEditing

/// Options of `edit --text` / `--text-from --text-to` (StyleCLIP latent optimisation). Defaults:
/// `TextGuidedEditOptions.recommended`, the settings measured in Bench/clip-edit.md.
struct TextEditOptions: ParsableArguments {
    static let recommended = TextGuidedEditOptions.recommended

    @Option(help: "Text-guided edit: the text the image should match (describe the whole scene, not only the change).")
    var text: String?
    @Option(name: .customLong("text-from"), help: "Directional text edit: what the image shows now (with --text-to).") var textFrom: String?
    @Option(name: .customLong("text-to"), help: "Directional text edit: what it should show (with --text-from).") var textTo: String?
    @Option(help: "Text edit: w+ (each row of --layers moves on its own) or w (one offset added to all of them).")
    var space: LatentSpace = .wPlus
    @Option(help: "Text edit: confine the offsets to the span of directions FILE[:count] (e.g. ganspace:12).")
    var subspace: String?
    @Option(name: .customLong("lambda-l2"), help: "Weight λ of ‖w − w₀‖² (StyleCLIP's 0.008 barely moves colours here).")
    var lambdaL2: Float = recommended.lambdaL2
    @Option(name: [.customLong("steps"), .customLong("num-steps")], help: "Text edit: Adam steps.") var steps: Int = recommended.steps
    @Option(help: "Text edit: peak learning rate.") var lr: Float = recommended.learningRate
    @Option(help: "Mask image (white = may change; any edit, see below), or a folder of <name>.png masks for a folder of latents.")
    var mask: String?
    @Option(name: .customLong("mask-weight"), help: "Text edit: weight of the pixel term outside the mask.")
    var maskWeight: Float = recommended.maskPixelWeight
    @Option(help: "Text edit: random views (shifted, flipped, cropped) CLIP also scores each step.") var augment: Int = recommended.augmentations
    @Option(help: "Text edit: largest shift of an augmented view, in pixels.") var jitter: Int = recommended.jitter
    @Flag(inversion: .prefixedNo, help: "Text edit: mirror augmented views left–right at random.") var flips = recommended.flips
    @Option(name: .customLong("min-crop"), help: "Text edit: smallest random square crop of an augmented view, as a fraction of the image (1 = none).")
    var minCrop: Double = recommended.minCrop
    @Option(help: "Text edit: seed of the augmentation shifts.") var seed: Int = 0
    @Option(help: "Text edit: latents optimised together (folder input).") var batch: Int = 8
    @Option(name: .customLong("clip-model"), help: "CLIP checkpoint (.safetensors, OpenAI key names). Default: the embedded clip-scenes64.")
    var clipModel: String?

    var isTextEdit: Bool { text != nil || textFrom != nil || textTo != nil }

    func validate() throws {
        guard isTextEdit else { return }
        if text != nil && (textFrom != nil || textTo != nil) { throw ValidationError("give --text or --text-from/--text-to, not both") }
        if text == nil && (textFrom == nil || textTo == nil) { throw ValidationError("--text-from and --text-to go together") }
        guard (1...100_000).contains(steps) else { throw ValidationError("--steps must be 1-100000") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard lambdaL2 >= 0, lambdaL2.isFinite else { throw ValidationError("--lambda-l2 must be ≥ 0") }
        guard maskWeight >= 0, maskWeight.isFinite else { throw ValidationError("--mask-weight must be ≥ 0") }
        guard (0...256).contains(augment), (0...1024).contains(jitter) else { throw ValidationError("--augment must be 0-256 and --jitter 0-1024") }
        guard minCrop > 0, minCrop <= 1 else { throw ValidationError("--min-crop must be in (0, 1]") }
        guard seed >= 0 else { throw ValidationError("--seed must be ≥ 0") }
        guard (1...1024).contains(batch) else { throw ValidationError("--batch must be 1-1024") }
    }

    var record: [String: RecordValue] {
        ["text": RecordValue(text), "text_from": RecordValue(textFrom), "text_to": RecordValue(textTo), "space": .string(space.rawValue),
         "subspace": RecordValue(subspace), "lambda_l2": RecordValue(lambdaL2), "steps": .int(steps), "lr": RecordValue(lr),
         "mask": RecordValue(mask), "mask_weight": RecordValue(maskWeight), "augment": .int(augment), "jitter": .int(jitter),
         "flips": .bool(flips), "min_crop": .double(minCrop), "seed": .int(seed), "batch": .int(batch),
         "clip_model": .string(clipModel ?? "default:clip-scenes64")]
    }

    /// The mask for the latent `name` (a file, or `<name>.png` in a mask folder, or a named region
    /// `object`/`wall`/`floor` of its `original` render, see `SceneRegion`) as `[1, 1, R, R]`, or nil.
    func loadMask(for name: String, resolution r: Int, original: () -> Tensor) throws -> Tensor? {
        guard let mask else { return nil }
        if let region = namedRegion(mask) { return region.mask(image: original()) }
        var isDir: ObjCBool = false
        var path = mask
        if FileManager.default.fileExists(atPath: mask, isDirectory: &isDir), isDir.boolValue {
            path = (mask as NSString).appendingPathComponent((name.isEmpty ? "mask" : name) + ".png")
            guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("--mask \(mask): no \(path) for latent '\(name)'") }
        }
        return try loadEditMask(path: path, resolution: r)
    }

    /// The library options for generator `G`.
    func editOptions(_ G: StyleGAN2Generator, layers: String?) throws -> TextGuidedEditOptions {
        var o = TextGuidedEditOptions.recommended
        o.steps = steps; o.learningRate = lr; o.lambdaL2 = lambdaL2; o.space = space
        o.maskPixelWeight = maskWeight; o.augmentations = augment; o.jitter = jitter; o.flips = flips
        o.minCrop = minCrop; o.seed = UInt64(seed)
        o.layers = try layers.map { try parseWsRangeOption($0, numWs: G.numWs, option: "--layers") }
        if let sub = subspace {
            let (file, entry) = parseDirectionReference(sub)
            let set = try DirectionSet.load(path: try DirectionLibrary.resolve(file: file))
            guard set.wDim == G.wDim else { throw CommandFailure("\(file): directions have wDim \(set.wDim), generator \(G.wDim)") }
            warnIfForeign(set, G)
            let count = try entry.map { e -> Int in
                guard let k = Int(e), k >= 1, k <= set.count else { throw CommandFailure("--subspace \(sub): count must be 1-\(set.count)") }
                return k
            } ?? set.count
            o.subspace = set.directions.slice(0 ..< count)
        }
        return o
    }

    /// Runs the text edit on every input, `batch` latents optimised together; unreadable latents
    /// are listed and skipped, a failed optimisation fails its batch.
    /// The CLIP model the edits are scored with (`--clip-model` or the embedded one).
    func loadCLIP() throws -> CLIPModel { try clipModel.map { try CLIPModel(safetensorsPath: $0) } ?? CLIPModel.loadDefault() }

    /// - Parameter clip: `loadCLIP()`, loaded once by a caller that runs several groups.
    func run(generator G: StyleGAN2Generator, inputs: [(name: String, path: String)], layers: String?, out: String, scale: Int,
             record: inout RunRecord, guidance: GuidanceOptions, clip preloaded: CLIPModel? = nil) throws -> EditOutcome {
        let clip = try preloaded ?? loadCLIP()
        // --target-image: CLIP's embedding of an image takes the text's place (GuidanceOptions).
        let (texts, textFeatures) = try guidance.targetImage != nil ? guidance.imageTarget(clip: clip, generator: G)
            : { let t = text.map { [$0] } ?? [textFrom!, textTo!]; return (t, try clip.encodeText(t, tokenizer: try CLIPTokenizer.loadDefault())) }()
        let target: TextGuidedEditTarget = texts.count == 1 ? .text(textFeatures)
            : .direction(from: textFeatures.slice(0 ..< 1), to: textFeatures.slice(1 ..< 2))
        let options = try editOptions(G, layers: layers)
        record.merge(self.record)
        if mask != nil || guidance.targetImage != nil { record.merge(guidance.record) }
        if mask != nil { record["blend_res"] = .int(guidance.blendResolution(G)) }
        record["layers"] = .string(wsRangeText(options.layers ?? 0 ..< G.numWs))
        var outcome = EditOutcome()
        var loaded: [Int: (file: LatentFile, mask: Tensor?)] = [:]
        let bar = ProgressBar(total: inputs.count * steps, label: "edit")
        try textGuidedEditInBatches(generator: G, clip: clip, count: inputs.count, target: target, options: options, batchSize: batch, load: { i in
            let file = try LatentFile.read(path: inputs[i].path, generator: G)
            let item = TextEditItem(ws: try singleLatent(file, G), noise: file.renderNoise(generator: G),
                                    mask: try loadMask(for: inputs[i].name, resolution: G.resolution) {
                                        G.synthesis(ws: file.ws(generator: G), noise: file.renderNoise(generator: G)).row(0)
                                    })
            loaded[i] = (file, item.mask)
            return item
        }, progress: { done, _, clipLoss in
            bar.update(done, detail: String(format: "clip loss %.4f", clipLoss))
        }, completed: { i, result, k in
            let (item, source) = (inputs[i], loaded.removeValue(forKey: i)!)
            do {
                let dir = item.name.isEmpty ? out : out + "/" + item.name
                let before = result.initialImage.row(k)
                // With a mask, the edit is confined by feature blending (GuidanceOptions).
                let after = try confinedTextEdit(G, image: result.image.row(k), ws: result.ws.slice(k ..< k + 1), source: source.file,
                                                 mask: source.mask, guidance: guidance)
                var scores = try judgeTextEdit(clip: clip, before: before, after: after, texts: texts, textFeatures: textFeatures, mask: source.mask)
                scores["loss_clip"] = Double(result.finalLoss.clip[k]); scores["loss_l2"] = Double(result.finalLoss.l2[k])
                scores["loss_pixel"] = Double(result.finalLoss.pixel[k])
                var itemRecord = record
                itemRecord["latent_in"] = .string(item.path)
                itemRecord["scores"] = .object(scores.mapValues { .double($0) })
                itemRecord["seconds_per_latent"] = .double(result.seconds / Double(result.ws.shape[0]))
                let edited = [EditedResult(tag: "", ws: result.ws.slice(k ..< k + 1), image: after)]
                try writeEditResult(dir: dir, original: before, results: edited, source: source.file, scale: scale, record: itemRecord)
                outcome.rows.append(labelledCells(original: before, results: edited))
                outcome.items.append(["name": .string(item.name), "folder": .string(dir), "scores": itemRecord["scores"]!])
                print("\(item.name.isEmpty ? item.path : item.name): \(summaryLine(scores)) → \(dir)/strip.png")
            } catch { outcome.failures.append((item.path, CommandFailure(error, context: item.path).description)) }
        }, failed: { i, error in
            loaded[i] = nil
            outcome.failures.append((inputs[i].path, CommandFailure(error, context: inputs[i].path).description))
        })
        return outcome
    }

    /// The judged result in one line: CLIP's cosine before → after, the held-out views' verdict
    /// and, with a mask, how still the rest stayed.
    func summaryLine(_ s: [String: Double]) -> String {
        let cos = s["cos_text_before"] != nil ? String(format: "cos(image, text) %.4f → %.4f", s["cos_text_before"]!, s["cos_text_after"]!)
            : String(format: "cos(Δimage, Δtext) %.4f; cos(image, to) %.4f → %.4f", s["cos_direction"]!, s["cos_to_before"]!, s["cos_to_after"]!)
        let verdict = s["judge_passed"] == 1 ? "edit holds" : "edit does NOT hold (a pattern only CLIP sees?)"
        let judge = String(format: "; unseen views (mirror, blur) %.4f → %.4f: ", s["judge_cos_before"]!, s["judge_cos_after"]!) + verdict
        let still = s["psnr_outside_mask"].map { String(format: "; outside the mask %.1f dB from the original", $0) } ?? ""
        return cos + judge + still
    }
}
