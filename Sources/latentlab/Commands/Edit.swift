import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentCore
import LatentEditing

/// `latentlab edit`: move inverted latents along a direction, by a recipe, or by text.
struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Edit latents: linear directions, recipes from Edits/, or text prompts (CLIP-guided).",
        discussion: """
        --direction FILE[:name|index] --strength s[,s2,…] [--layers a-b] moves the latent along one direction, once \
        per strength. FILE may name the shipped library (sefa:0, interfacegan-size-clip:size). --recipe Edits/X.json \
        applies a saved edit; --strength s multiplies every step of it (-1 undoes it).

        --text "…" optimises W+ (StyleCLIP latent optimisation) to minimise 1 − cos(CLIP(G(w)), CLIP(text)) \
        + λ‖w − w₀‖² over the ws rows of --layers (--space w: one shared offset), with Adam for --steps at --lr \
        (ramped as NVIDIA's projector); --text-from/--text-to use the directional loss instead. --mask M.png \
        (white = may change) adds --mask-weight · mean((1 − M)(G(w) − G(w₀))²); --augment K scores K random \
        views per step (shifted by --jitter, mirrored unless --no-flips, cropped to --min-crop) so the edit cannot \
        hide in CLIP's patch grid; --subspace ganspace:12 keeps the offsets in the span of 12 directions. Noise \
        maps stay the latent's own. Defaults are the settings measured best in Bench/clip-edit.md (λ 0.0005, 8 \
        views with flips and crops to 0.6, mask weight 50). The summary judges each edit on two views it never \
        optimised (mirrored, blurred) and, with a mask, by the PSNR outside it.

        Every kind writes, per latent: original.png (the latent rendered as it is), edited.png and latent.npz (one \
        result) or edited_<strength>.png and latent_<strength>.npz (several), strip.png (original, then the edits) \
        and edit.json. With --latent-in pointing at a `project` output folder, every latent.npz under it is edited \
        into a matching sub-folder, plus contact_sheet.png and a summary edit.json; a latent that cannot be read or \
        edited is listed and skipped (exit code 2), and its folder gets no files.

        \(GuidanceOptions.discussion)
        """)

    @OptionGroup var net: NetworkOptions
    @Option(name: .customLong("latent-in"), help: "latent.npz (from invert/project/generate), or a project output folder.")
    var latentIn: String
    @Option(help: "Direction FILE[:name|index], or a shipped set by name (sefa:0).") var direction: String?
    @Option(parsing: .unconditional, help: "Strengths, e.g. -3,-1.5,0,1.5,3 (a leading minus is fine); with --recipe one factor on every step.")
    var strength: String?
    @Option(help: "ws rows to edit, a-b (default: the direction file's range; all rows for text edits).") var layers: String?
    @Option(help: "Edit recipe (JSON, see Edits/).") var recipe: String?
    @OptionGroup var textOptions: TextEditOptions
    @OptionGroup var guidance: GuidanceOptions
    @OptionGroup var image: ImageScaleOption
    @Option(help: "Output folder.") var out: String

    func validate() throws {
        let modes = [direction != nil, recipe != nil, textOptions.isTextEdit, guidance.exemplar != nil, guidance.targetImage != nil]
        guard modes.filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --direction, --recipe, --exemplar, --target-image, --text or --text-from/--text-to")
        }
        try textOptions.validate()
        if textOptions.isTextEdit || guidance.exemplar != nil || guidance.targetImage != nil, strength != nil {
            throw ValidationError("--strength applies to --direction and --recipe, not text or exemplar edits")
        }
        try guidance.validate(mask: textOptions.mask ?? (recipe != nil ? "recipe" : nil))
        if recipe != nil, layers != nil { throw ValidationError("--layers applies to --direction and text edits; a recipe names its own rows") }
        let s = try parsedStrengths()
        if recipe != nil, s.count != 1 { throw ValidationError("--recipe takes one --strength factor, got \(s.count)") }
    }

    /// `--strength` as numbers (checked in `validate`, so a typo gets the usage, exit 64).
    func parsedStrengths() throws -> [Float] { try parseStrengths(strength ?? "1") }

    func run() throws {
        let G = try net.loadGenerator()
        let inputs = try findLatentFiles(latentIn)
        var record = RunRecord(command: "edit", ["latent_in": .string(latentIn), "network": .string(net.networkName),
                                                 "generator": .string(G.fingerprint), "scale": .int(image.scale)])
        let outcome: EditOutcome
        if textOptions.isTextEdit || guidance.targetImage != nil {
            outcome = try runTextEdits(G, inputs: inputs, record: &record)
        } else {
            let plan = guidance.exemplar == nil ? try linearPlan(G, record: &record) : nil
            if let plan, textOptions.mask == nil, plan.recipeMask == nil {
                outcome = editEach(inputs, generator: G, out: out, scale: image.scale, record: record) { file in
                    let ws = try singleLatent(file, G)
                    return (ws, try plan.apply(ws: ws))
                } render: { ws, file, g in g.synthesis(ws: ws, noise: file.renderNoise(generator: g)).row(0) }
            } else {
                // An exemplar, or a direction/recipe confined to a mask (GuidanceOptions).
                outcome = try guidance.run(generator: G, inputs: inputs, plan: plan, layers: layers, masks: textOptions, out: out,
                                           scale: image.scale, record: &record)
            }
        }
        try outcome.finish(inputs: inputs, out: out, scale: image.scale, record: record,
                           announce: !textOptions.isTextEdit && guidance.targetImage == nil)
    }

    /// Text (or CLIP-image target) edits optimise a batch with one generator, so the latents are
    /// grouped by the generator that reproduces them: the base, or base + the PTI delta in their
    /// folder (one group per delta file); each item's record names its tuned generator.
    func runTextEdits(_ G: StyleGAN2Generator, inputs: [(name: String, path: String)], record: inout RunRecord) throws -> EditOutcome {
        var groups: [(tuned: TunedGenerator?, inputs: [(name: String, path: String)])] = []
        var groupOf: [String: Int] = [:]
        var outcome = EditOutcome()
        for item in inputs {
            // A delta that cannot be read (or was made for another base) fails its latent only.
            let tuned: TunedGenerator?
            do { tuned = try TunedGenerator.forLatent(at: item.path, base: G) } catch {
                outcome.failures.append((item.path, "\(error)")); continue
            }
            let key = tuned?.deltaPath ?? ""
            if let g = groupOf[key] { groups[g].inputs.append(item) } else { groupOf[key] = groups.count; groups.append((tuned, [item])) }
        }
        var summary = record
        let clip = groups.count > 1 ? try textOptions.loadCLIP() : nil
        for group in groups {
            var groupRecord = record
            if let tuned = group.tuned { groupRecord.merge(tuned.record) }
            let o = try textOptions.run(generator: group.tuned?.generator ?? G, inputs: group.inputs, layers: layers, out: out,
                                        scale: image.scale, record: &groupRecord, guidance: guidance, clip: clip)
            outcome.rows += o.rows; outcome.items += o.items; outcome.failures += o.failures
            for (k, v) in groupRecord.values where group.tuned?.record[k] == nil { summary[k] = v }
        }
        let tunedCount = groups.filter { $0.tuned != nil }.reduce(0) { $0 + $1.inputs.count }
        if tunedCount > 0 { summary["tuned_generator_latents"] = .int(tunedCount) }
        record = summary
        return outcome
    }

    /// The direction or recipe to apply, recorded in `record`.
    func linearPlan(_ G: StyleGAN2Generator, record: inout RunRecord) throws -> LinearEditPlan {
        let strengths = try parsedStrengths()
        if let recipe {
            let r = try EditRecipe.load(path: recipe)
            record.merge(["recipe": .string(recipe), "recipe_name": .string(r.name), "strength": RecordValue(strengths[0])])
            return .recipe(r, directory: parentPath(recipe), scale: strengths[0])
        }
        let (set, i, file) = try DirectionLibrary.load(reference: direction!)
        warnIfForeign(set, G)
        guard set.wDim == G.wDim else { throw CommandFailure("\(file): directions have wDim \(set.wDim), generator \(G.wDim)") }
        let range = try layers.map { try parseWsRangeOption($0, numWs: G.numWs, option: "--layers") } ?? set.layers.clamped(to: 0 ..< G.numWs)
        record.merge(["direction": .string(direction!), "direction_file": .string(file), "entry": .string(set.names[i]),
                      "strength": .array(strengths.map { RecordValue($0) }), "layers": .string(wsRangeText(range))])
        return .direction(set.direction(i), layers: range, strengths: strengths)
    }
}

/// The ws `[1, numWs, wDim]` of a file that must hold exactly one latent.
func singleLatent(_ file: LatentFile, _ G: StyleGAN2Generator) throws -> Tensor {
    guard file.count == 1 else { throw CommandFailure("holds \(file.count) latents; edit takes one per file (put each in its own folder)") }
    return file.ws(generator: G)
}

/// Directions found for other weights still apply mechanically but may mean something else.
func warnIfForeign(_ set: DirectionSet, _ G: StyleGAN2Generator) {
    if !set.generatorFingerprint.isEmpty && set.generatorFingerprint != G.fingerprint {
        printError("warning: directions were discovered for generator \(set.generatorFingerprint), this is \(G.fingerprint)")
    }
}
