import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentFormats
import LatentInversion
import LatentModels
import LatentCore
import LatentEditing
import LatentCLIP

/// Options of `edit` for region- and exemplar-guided edits: `--blend-res` (with `--mask`, which
/// `TextEditOptions` declares for every kind of edit), `--exemplar`, `--alpha`, `--exemplar-steps`.
struct GuidanceOptions: ParsableArguments {
    @Option(name: .customLong("blend-res"),
            help: "With --mask: the first synthesis block (4, 8, … resolution) whose features are blended (default: a quarter of the resolution, 16 at 64²).")
    var blendRes: Int?
    @Option(help: "With --mask: the edit fades in over this many pixels (Gaussian σ) inside the mask's edge; outside stays exact (0 = a hard edge). Default: a recipe's own \"feather\", else 1.")
    var feather: Double?
    /// The feather the confinement uses: `--feather`, else the recipe's, else `MaskedEdit.defaultFeather`.
    func effectiveFeather(recipe: Double? = nil) -> Double { feather ?? recipe ?? MaskedEdit.defaultFeather }
    @Option(help: "Exemplar: an image (inverted first, as `invert` with --exemplar-steps) or a latent .npz/.npy; the latent takes its --layers rows.")
    var exemplar: String?
    @Option(help: "Exemplar: 1 = the exemplar's rows, 0 = the latent's own, between = interpolate.") var alpha: Float = 1
    @Option(name: .customLong("exemplar-steps"), help: "Exemplar image: projector steps (other solver settings: invert's defaults).")
    var exemplarSteps: Int = 1000
    @Option(help: "Exemplar: a StyleSpace channel set (e.g. Latents/scenes64-colour-channels.json): those channels take the exemplar's values instead of --layers rows.")
    var channels: String?
    @Option(name: .customLong("target-image"),
            help: "Text-edit machinery with CLIP's embedding of this image as the target instead of a sentence (same options as --text).")
    var targetImage: String?

    /// `edit --help`'s paragraph on masks and exemplars.
    static let discussion = """
        --mask M.png (white = may change; any size, resized with a note; or a folder of <name>.png; or object, wall \
        or floor: that region of each latent's render, for tabletop scenes such as the default generator's) confines any edit \
        (direction, recipe, text, exemplar) to a region by feature blending: the edited and the original latent are \
        rendered side by side, and from the block of --blend-res on (default a quarter of the resolution) each block's \
        features and skip image become mask·edited + (1 − mask)·original, so the later blocks generate the seam and the \
        outside stays the original reconstruction; --feather σ (default 1 pixel, or a recipe's "feather") fades the edit in over the mask's \
        inner rim, so a hard mask leaves no step at the seam. edit.json records per result the PSNR outside the mask \
        (psnr_outside_mask), the same for the unconfined edit, and psnr_inside_vs_unconfined. A text edit with a mask \
        also keeps its --mask-weight pixel term. --target-image IMG runs the text-edit machinery (same options, mask \
        and views) toward CLIP's embedding of IMG instead of a sentence. --exemplar IMAGE|latent.npz --layers a-b|coarse|middle|fine [--alpha t] \
        takes the exemplar's ws rows (Image2StyleGAN crossover, pSp --latent_mask; alpha interpolates; default layers \
        fine). Presets: with numWs ≥ 10 coarse = rows 0-3 (4²–8²), middle = 4-7 (16²–32²), fine = 8 to the last (64² \
        and up); smaller generators split their rows in three. An image exemplar is inverted first (invert's \
        defaults, --exemplar-steps) into OUT/exemplar/; OUT/exemplar.png shows the exemplar as rendered; a latent of another generator's shape is refused. With --mask, \
        only the region takes the exemplar's style. --exemplar X --channels SET.json moves a StyleSpace channel set \
        instead of whole rows (Latents/scenes64-colour-channels.json: the default generator's colour channels, whose \
        colour rows also move the object): those channels of every layer take the exemplar's style values and the \
        result is lowered to an ordinary W+ latent (exactly, when no ws row feeds more than wDim style channels). \
        A recipe may carry "mask": "object" (or wall, floor, or a mask \
        image next to it); --mask overrides it.
        """

    /// `--target-image` as the text edit's target: its label (`image:PATH`, for the judge's
    /// records) and CLIP's image features `[1, embedDim]` of the image as the generator would
    /// show it (centre-cropped and resized to its resolution first, then CLIP's preprocessing).
    func imageTarget(clip: CLIPModel, generator G: StyleGAN2Generator) throws -> (texts: [String], features: Tensor) {
        let path = targetImage!
        let image: Tensor
        do { image = try loadProjectionTarget(path: path, resolution: G.resolution) } catch { throw CommandFailure(error, context: "--target-image") }
        return (["image:" + path], try clip.encodeImage(try clip.preprocess(imagesInMinusOneOne: image.reshaped([1] + image.shape))))
    }

    /// Checks against the other options of `edit`: `--blend-res` needs a mask (`--mask`, or a
    /// recipe, which may carry one: pass `"recipe"`).
    func validate(mask: String?) throws {
        if blendRes != nil, mask == nil { throw ValidationError("--blend-res applies with --mask (or a recipe with a mask)") }
        if exemplar == nil, alpha != 1 { throw ValidationError("--alpha applies to --exemplar") }
        if exemplar == nil, channels != nil { throw ValidationError("--channels applies to --exemplar") }
    }

    /// `--blend-res` or its default for `G`.
    func blendResolution(_ G: StyleGAN2Generator) -> Int { blendRes ?? MaskedEdit.defaultBlendResolution(imageResolution: G.resolution) }

    func validate() throws {
        if let r = blendRes, r < 4 || r & (r - 1) != 0 { throw ValidationError("--blend-res must be a power of two ≥ 4, got \(r)") }
        if let feather, !(0...64).contains(feather) { throw ValidationError("--feather must be 0-64 pixels") }
        guard exemplarSteps >= 1 else { throw ValidationError("--exemplar-steps must be ≥ 1") }
    }

    var record: [String: RecordValue] {
        ["blend_res": RecordValue(blendRes), "feather": .double(effectiveFeather()), "exemplar": RecordValue(exemplar), "target_image": RecordValue(targetImage), "alpha": RecordValue(alpha),
         "exemplar_steps": .int(exemplarSteps), "channels": RecordValue(channels)]
    }

    /// The confinement for a mask `[1, 1, R, R]` (nil without one).
    func maskedEdit(_ mask: Tensor?, _ G: StyleGAN2Generator, recipeFeather: Double? = nil) throws -> MaskedEdit? {
        guard let mask else { return nil }
        do {
            return try MaskedEdit(mask: mask, blendResolution: blendResolution(G), feather: effectiveFeather(recipe: recipeFeather), generator: G)
        } catch { throw CommandFailure(error, context: "--blend-res") }
    }

    /// The exemplar's ws `[1, numWs, wDim]`: read from a latent file (refused with one line when
    /// its shape is another generator's), or an image inverted with invert's solver defaults and
    /// `--exemplar-steps`, its inversion written to `out/exemplar/` (latent.npz, target.png,
    /// reconstruction.png, metrics.json).
    func exemplarWs(_ G: StyleGAN2Generator, out: String) throws -> (ws: Tensor, record: [String: RecordValue]) {
        let path = exemplar!
        let kind = try sniffFileKind(path: path)
        if kind == .npz || kind == .npy || path.lowercased().hasSuffix(".npz") || path.lowercased().hasSuffix(".npy") {
            let file: LatentFile
            do { file = try LatentFile.read(path: path, generator: G) } catch { throw CommandFailure(error, context: "--exemplar") }
            guard file.count == 1 else { throw CommandFailure("--exemplar \(path): holds \(file.count) latents, expected 1") }
            return (file.ws(generator: G), ["exemplar_kind": "latent"])
        }
        let target: Tensor
        do { target = try loadProjectionTarget(path: path, resolution: G.resolution) } catch { throw CommandFailure(error, context: "--exemplar") }
        let solver = try SolverOptions.parse(["--steps", String(exemplarSteps)])
        let options = try solver.projectorOptions(generator: G)
        let losses = try LossOptions.parse([])
        let targets = target.reshaped([1] + target.shape)
        let bar = ProgressBar(total: options.schedule.numSteps, label: "invert exemplar")
        let result = try project(generator: G, targets: targets, loss: try losses.makeLoss(), options: options) { p in
            bar.update(p.step, detail: String(format: "loss %.5f", p.loss[0]))
        }
        let metrics = try inversionMetrics(reconstruction: result.reconstruction, target: targets, finalLoss: result.finalLoss,
                                           steps: result.stepsRun, secondsPerImage: result.seconds)
        var args = solver.record().merging(losses.record) { a, _ in a }
        args["command"] = "edit --exemplar"; args["image"] = .string(path)
        let record = InversionRecord(image: path, metrics: metrics[0], generator: G.fingerprint, space: options.space.rawValue, arguments: args)
        do { try writeInversionOutputs(dir: out + "/exemplar", index: 0, result: result, target: targets, record: record) } catch {
            throw CommandFailure(error, context: out + "/exemplar")
        }
        return (result.ws, ["exemplar_kind": "image", "exemplar_psnr": .double(metrics[0].psnr),
                            "exemplar_latent": .string(out + "/exemplar/latent.npz")])
    }

    /// `edit --exemplar` (with or without `--mask`) and direction/recipe edits with `--mask`:
    /// every latent edited on its own, the edited images confined by feature blending where a
    /// mask is given, the PSNR outside the mask recorded per result.
    /// - Parameters:
    ///   - plan: the direction or recipe (nil for an exemplar edit).
    ///   - masks: `TextEditOptions`, whose `--mask` (file or folder of `<name>.png`) is read here.
    func run(generator G: StyleGAN2Generator, inputs: [(name: String, path: String)], plan: LinearEditPlan?, layers: String?,
             masks: TextEditOptions, out: String, scale: Int, record: inout RunRecord) throws -> EditOutcome {
        // --mask, else the recipe's own region or mask image (and its feather).
        let recipeMask = masks.mask == nil ? plan?.recipeMask : nil
        let recipeFeather = recipeMask == nil ? nil : plan?.recipeFeather
        record.merge(self.record)
        record["feather"] = .double(effectiveFeather(recipe: recipeFeather))
        record["mask"] = RecordValue(masks.mask ?? recipeMask?.mask)
        if recipeMask != nil { record["mask_from"] = "recipe" }
        var edit: (Tensor) throws -> [(tag: String, ws: Tensor)]
        if let plan {
            edit = { try plan.apply(ws: $0) }
        } else {
            // Either whole ws rows (--layers) or a StyleSpace channel set (--channels), checked
            // before the exemplar is inverted.
            var range: Range<Int>? = nil, set: StyleChannelSet? = nil
            if let channels {
                if layers != nil { throw CommandFailure("--layers and --channels: give one (rows or a channel set)") }
                do {
                    let s = try StyleChannelSet(path: channels)
                    if let note = try s.check(against: G) { printError("note: \(note)") }
                    set = s
                } catch { throw CommandFailure(error, context: "--channels") }
            } else {
                do { range = try parseLayerSelection(layers ?? "fine", numWs: G.numWs) } catch { throw CommandFailure("--layers: \(error)") }
            }
            let (exWs, exRecord) = try exemplarWs(G, out: out)
            record.merge(exRecord)
            // The exemplar as the generator renders it (const noise), beside the strips.
            try makeFolder(out)
            try saveScaled(G.synthesis(ws: exWs).row(0), to: out + "/exemplar.png", scale: scale)
            if let set {
                record["channel_set"] = .string(set.name); record["channel_count"] = .int(set.count)
                edit = { [alpha] ws in
                    [("", try exemplarStyleTransfer(generator: G, ws: ws, exemplarWs: exWs, channels: set, alpha: alpha).ws)]
                }
            } else {
                record["layers"] = .string(wsRangeText(range!))
                edit = { [alpha] ws in [("", try exemplarCrossover(ws: ws, exemplarWs: exWs, layers: range!, alpha: alpha))] }
            }
        }
        if masks.mask != nil || recipeMask != nil { record["blend_res"] = .int(blendResolution(G)) }
        return confinedEditEach(inputs, generator: G, out: out, scale: scale, record: record, mask: { name, original in
            if let (m, dir) = recipeMask {
                if let region = namedRegion(m) { return try maskedEdit(region.mask(image: original), G, recipeFeather: recipeFeather) }
                return try maskedEdit(try loadEditMask(path: resolveRecipeMaskPath(m, directory: dir), resolution: G.resolution), G,
                                      recipeFeather: recipeFeather)
            }
            return try maskedEdit(try masks.loadMask(for: name, resolution: G.resolution) { original }, G)
        }, edit: edit)
    }
}

/// `--mask object|wall|floor` (when no file of that name exists): a region computed from each
/// latent's original render.
func namedRegion(_ mask: String) -> SceneRegion? {
    guard let region = SceneRegion(rawValue: mask), !FileManager.default.fileExists(atPath: mask) else { return nil }
    return region
}

/// Loads an edit mask (PNG/JPEG) as `maskWeights` `[1, 1, R, R]`; a mask of another size is
/// centre-cropped and resized with a note on stderr; a file that is no image is one line.
func loadEditMask(path: String, resolution r: Int, crop: CropMode = .center) throws -> Tensor {
    let loaded: LoadedImage
    do { loaded = try loadImage(path: path) } catch { throw CommandFailure(error, context: "--mask \(path)") }
    if loaded.info.width != r || loaded.info.height != r {
        printError("note: --mask \(path) is \(loaded.info.width)×\(loaded.info.height); cropped and resized to \(r)×\(r)")
    }
    do { return maskWeights(image: try preprocess(loaded.tensor, crop: crop, size: r)) } catch {
        throw CommandFailure(error, context: "--mask \(path)")
    }
}

/// A text edit's image confined to `mask` (nil: the optimised latent's own image, unchanged):
/// the edited latent `[1, numWs, wDim]` blended against the file's original one.
func confinedTextEdit(_ G: StyleGAN2Generator, image: Tensor, ws: Tensor, source: LatentFile, mask: Tensor?, guidance: GuidanceOptions) throws -> Tensor {
    guard let m = try guidance.maskedEdit(mask, G) else { return image }
    return m.render(generator: G, editedWs: ws, originalWs: source.ws(generator: G), noise: source.renderNoise(generator: G)).row(0)
}

/// `editEach` with each latent's edits confined to its mask (`mask(name)`, nil = none) by
/// feature blending. Per result, the record's `metrics` hold, with a mask, the PSNR outside it
/// against the original render (`psnr_outside_mask`), the same for the unconfined edit
/// (`psnr_outside_mask_unconfined`, what blending bought) and how much of the edit the inside
/// kept (`psnr_inside_vs_unconfined`).
func confinedEditEach(_ inputs: [(name: String, path: String)], generator G: StyleGAN2Generator, out: String, scale: Int,
                      record base: RunRecord, mask: (String, Tensor) throws -> MaskedEdit?,
                      edit: (Tensor) throws -> [(tag: String, ws: Tensor)]) -> EditOutcome {
    var outcome = EditOutcome()
    let bar = inputs.count > 1 ? ProgressBar(total: inputs.count, label: "edit") : nil
    for (k, item) in inputs.enumerated() {
        do {
            // A PTI folder renders with its tuned generator, as `editEach` does.
            let tuned = try TunedGenerator.forLatent(at: item.path, base: G)
            if let tuned { printError("note: \(item.path) renders with the tuned generator \(tuned.deltaPath)") }
            let g = tuned?.generator ?? G
            let file = try LatentFile.read(path: item.path, generator: G)
            let ws = try singleLatent(file, G)
            let noise = file.renderNoise(generator: G)
            let original = g.synthesis(ws: ws, noise: noise).row(0)
            let confine = try mask(item.name, original)
            var results: [EditedResult] = [], metrics: [String: RecordValue] = [:], summary: String? = nil
            for e in try edit(ws) {
                let free = g.synthesis(ws: e.ws, noise: noise).row(0)
                guard let confine else { results.append(EditedResult(tag: e.tag, ws: e.ws, image: free)); continue }
                let image = confine.render(generator: g, editedWs: e.ws, originalWs: ws, noise: noise).row(0)
                results.append(EditedResult(tag: e.tag, ws: e.ws, image: image))
                let (outside, outsideFree) = (confine.psnrOutside(image, original), confine.psnrOutside(free, original))
                metrics[e.tag.isEmpty ? "edited" : e.tag] = .object([
                    "psnr_outside_mask": .double(outside), "psnr_outside_mask_unconfined": .double(outsideFree),
                    "psnr_inside_vs_unconfined": .double(confine.psnrInside(image, free))])
                summary = summary ?? String(format: "outside the mask %.1f dB from the original (unconfined edit: %.1f dB)", outside, outsideFree)
            }
            let dir = item.name.isEmpty ? out : out + "/" + item.name
            var record = base
            record["latent_in"] = .string(item.path)
            if let tuned { record.merge(tuned.record) }
            var entry: [String: RecordValue] = ["name": .string(item.name), "folder": .string(dir)]
            if !metrics.isEmpty { record["metrics"] = .object(metrics); entry["metrics"] = .object(metrics) }
            try writeEditResult(dir: dir, original: original, results: results, source: file, scale: scale, record: record)
            outcome.rows.append(labelledCells(original: original, results: results))
            outcome.items.append(.object(entry))
            if let summary { print("\(item.name.isEmpty ? item.path : item.name): \(summary)") }
        } catch {
            outcome.failures.append((item.path, CommandFailure(error, context: item.path).description))
        }
        bar?.update(k + 1)
    }
    return outcome
}
