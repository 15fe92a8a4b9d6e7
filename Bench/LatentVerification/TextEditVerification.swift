import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentInversion
import LatentCLIP
import LatentCore
import LatentEditing

/// Verification of text-guided editing on the rendered test scenes (the figures of
/// `Bench/clip-edit.md`): every inverted scene is edited to each other colour of
/// `--colours` and, for the scenes whose shape is in `--shapes`, to each other shape there;
/// the edited image (8-bit, as saved) is then classified by CLIP zero-shot among the eight
/// colour words ("a red object", …) and the four shapes ("a sphere", …).
///
/// Arguments (`--key value`):
/// - `--scenes DIR` (images + `factors.json`), `--inversions DIR` (`<scene>/latent.npz`, e.g.
///   `latentlab project DIR --out INV --space w+ --no-noise --steps 500`).
/// - Prompts: `--prompts full` (default: the whole scene described, with the object's colour
///   or shape replaced: "a red sphere on a purple floor in front of a yellow wall"), `short`
///   ("a red sphere", "a purple cube") or `generic` ("a red object", "a cube");
///   `--directional 1` uses the directional loss from the current description to the edited one.
/// - Edit options as `latentlab edit --text`: `--steps`, `--lr`, `--lambda-l2`, `--space w+|w`,
///   `--layers a-b`, `--subspace FILE[:K]`, `--augment`, `--jitter`, `--flips 0|1`, `--min-crop`, `--mask box|none`
///   (box: the object's box from the factors may change), `--mask-weight`, `--seed`, `--batch`.
/// - `--colours red,blue,green`, `--shapes sphere,cube`, `--shape-sources targets|all` (edit the
///   shape of scenes whose shape is one of `--shapes` (default) or of every scene).
/// - `--only scene_000,scene_004`: a subset of the scenes.
/// - `--out DIR`: `edits.json` (every edit's measurements) and `examples.png`.
///
/// Per edit: success = CLIP zero-shot picks the requested class; robust = it still does on the
/// mirrored image and on a blurred one (down to half size and back), views never used during the
/// edit; hue (colour edits) = the saturation-weighted mean hue of the photo's object pixels in
/// the edited image falls in the requested colour's bin (a check without CLIP); kept = the
/// other attribute's zero-shot class is unchanged; PSNR outside / inside the object box
/// against the unedited reconstruction.
@discardableResult
public func runTextEditVerification(arguments: [String]) -> Bool {
    if arguments.first == "help" || arguments.first == "--help" {
        print("see runTextEditVerification's documentation (Bench/LatentVerification/TextEditVerification.swift)")
        return true
    }
    do {
        let ctx = try VerificationContext(try VerificationArguments(arguments))
        try ctx.verifyTextEdits()
        return true
    } catch {
        FileHandle.standardError.write("text-edit verification: \(error)\n".data(using: .utf8)!)
        return false
    }
}

/// One requested edit and what it produced.
struct TextEditCase {
    enum Kind: String { case colour, shape }
    var kind: Kind
    var target: String
    var scene: Int
    var prompt: String
    var fromPrompt: String
    // Measurements.
    var predictedColour = "", predictedShape = ""
    var success = false, robust = false, kept = false
    var hueSuccess: Bool? = nil
    /// Shape edits between sphere and another shape: the outline's ellipse misfit crosses the
    /// threshold that separates the sphere photos from the others.
    var outlineSuccess: Bool? = nil
    var misfitBefore = 0.0, misfitAfter = 0.0
    var psnrOutside = 0.0, psnrInside = 0.0
    var cosBefore = 0.0, cosAfter = 0.0
}

extension VerificationContext {
    func verifyTextEdits() throws {
        var scenes = try TestScene.loadAll(directory: try args.require("scenes"))
        if let only = args.string("only") {
            let keep = Set(only.split(separator: ",").map(String.init))
            scenes = scenes.filter { keep.contains($0.stem) }
            guard !scenes.isEmpty else { throw EditingError("--only \(only): no such scenes") }
        }
        let invDir = try args.require("inversions")
        let r = generator.resolution
        guard scenes.allSatisfy({ $0.photo.shape == [3, r, r] }) else { throw EditingError("the scenes must be \(r)×\(r) images") }
        let latents = try scenes.map { try loadInversionLatent(invDir + "/" + $0.stem + "/latent.npz") }
        let colours = args.string("colours").map { $0.split(separator: ",").map(String.init) } ?? ["red", "blue", "green"]
        let shapes = args.string("shapes").map { $0.split(separator: ",").map(String.init) } ?? ["sphere", "cube"]
        let allShapes = ["sphere", "cube", "cone", "cylinder"]
        guard colours.allSatisfy(TestScene.colourWords.contains), shapes.allSatisfy(allShapes.contains) else {
            throw EditingError("--colours must name \(TestScene.colourWords.joined(separator: ",")); --shapes \(allShapes.joined(separator: ","))")
        }
        let scheme = args.string("prompts") ?? "full"
        guard ["full", "short", "generic"].contains(scheme) else { throw EditingError("--prompts must be full, short or generic") }
        let shapeSources = args.string("shape-sources") ?? "targets"
        let kinds = Set((args.string("kinds") ?? "colour,shape").split(separator: ",").map(String.init))

        func prompt(_ s: TestScene, colour: String? = nil, shape: String? = nil) -> String {
            switch scheme {
            case "full": return s.description(colour: colour, shape: shape)
            case "short": return "a \(colour ?? s.colour) \(shape ?? s.shapeName)"
            default: return colour.map { "a \($0) object" } ?? "a \(shape ?? s.shapeName)"
            }
        }
        var cases: [TextEditCase] = []
        for (i, s) in scenes.enumerated() {
            if kinds.contains("colour") {
                for c in colours where c != s.colour {
                    cases.append(TextEditCase(kind: .colour, target: c, scene: i, prompt: prompt(s, colour: c),
                                              fromPrompt: scheme == "generic" ? "a \(s.colour) object" : prompt(s)))
                }
            }
            if kinds.contains("shape"), shapeSources == "all" || shapes.contains(s.shapeName) {
                for t in shapes where t != s.shapeName {
                    cases.append(TextEditCase(kind: .shape, target: t, scene: i, prompt: prompt(s, shape: t),
                                              fromPrompt: scheme == "generic" ? "a \(s.shapeName)" : prompt(s)))
                }
            }
        }
        guard !cases.isEmpty else { throw EditingError("no edits to make (check --colours, --shapes, --kinds)") }

        var options = TextGuidedEditOptions()
        options.steps = try args.int("steps", options.steps)
        options.learningRate = Float(try args.double("lr", Double(options.learningRate)))
        options.lambdaL2 = Float(try args.double("lambda-l2", Double(options.lambdaL2)))
        guard let space = LatentSpace(rawValue: args.string("space") ?? "w+") else { throw EditingError("--space must be w or w+") }
        options.space = space
        options.layers = try args.string("layers").map { try parseWsRange($0, numWs: generator.numWs) }
        options.augmentations = try args.int("augment", 0)
        options.jitter = try args.int("jitter", options.jitter)
        options.flips = try args.int("flips", 0) != 0
        options.minCrop = try args.double("min-crop", 1)
        options.maskPixelWeight = Float(try args.double("mask-weight", Double(options.maskPixelWeight)))
        options.seed = UInt64(try args.int("seed", 0))
        if let sub = args.string("subspace") {
            let (file, entry) = parseDirectionReference(sub)
            let set = try DirectionSet.load(path: file)
            let k = try entry.map { e -> Int in
                guard let k = Int(e), k >= 1, k <= set.count else { throw EditingError("--subspace \(sub): count must be 1-\(set.count)") }
                return k
            } ?? set.count
            options.subspace = set.directions.slice(0 ..< k)
        }
        let maskMode = args.string("mask") ?? "none"
        guard maskMode == "box" || maskMode == "none" else { throw EditingError("--mask must be box or none") }
        let useMask = maskMode == "box"
        let directional = try args.int("directional", 0) != 0
        let batch = max(1, try args.int("batch", 8))

        let clip = try CLIPModel.loadDefault(), tokenizer = try CLIPTokenizer.loadDefault()
        let colourClassifier = try ZeroShotClassifier(clip: clip, tokenizer: tokenizer, classes: TestScene.colourWords.map { ["a \($0) object"] })
        let shapeClassifier = try ZeroShotClassifier(clip: clip, tokenizer: tokenizer, classes: allShapes.map { ["a \($0)"] })
        /// Zero-shot colour and shape class of images `[N, 3, R, R]`.
        func classify(_ images: Tensor) throws -> [(colour: String, shape: String)] {
            let f = try colourClassifier.imageFeatures(images)
            let c = colourClassifier.similarities(features: f), s = shapeClassifier.similarities(features: f)
            func argmax(_ t: Tensor, _ i: Int) -> Int { let k = t.shape[1]; return (0..<k).max { t[flat: i * k + $0] < t[flat: i * k + $1] }! }
            return (0 ..< images.shape[0]).map { (TestScene.colourWords[argmax(c, $0)], allShapes[argmax(s, $0)]) }
        }
        func stack(_ images: [Tensor]) -> Tensor { Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) }) }

        // Baselines: how the classifiers read the photos and the unedited reconstructions.
        let reconstructions = latents.map { quantized8Bit(generator.synthesis(ws: $0.0, noise: $0.1).row(0)) }
        let photoClasses = try classify(stack(scenes.map(\.photo)))
        let reconClasses = try classify(stack(reconstructions))
        let boxMasks = scenes.map { $0.boxMask(resolution: r) }
        let reconPSNROutside = scenes.indices.map { maskedPSNR(reconstructions[$0], scenes[$0].photo, pixels: boxMasks[$0].map(!)) }

        // The edits, `batch` at a time (each latent with its own prompt).
        var edited = [Tensor](repeating: Tensor.zeros([3, r, r]), count: cases.count)
        let wallStart = Date(), cpuStart = processCPUSeconds()
        var start = 0
        while start < cases.count {
            let chunk = Array(start ..< min(start + batch, cases.count))
            let ws = Tensor.concatenate(chunk.map { latents[cases[$0].scene].0 })
            let noise = generator.stackedNoise(chunk.map { latents[cases[$0].scene].1 })
            let to = try clip.encodeText(chunk.map { cases[$0].prompt }, tokenizer: tokenizer)
            let target: TextGuidedEditTarget = directional
                ? .direction(from: try clip.encodeText(chunk.map { cases[$0].fromPrompt }, tokenizer: tokenizer), to: to) : .text(to)
            var o = options
            if useMask {
                o.mask = Tensor(shape: [chunk.count, 1, r, r], data: chunk.flatMap { boxMasks[cases[$0].scene].map { $0 ? Float(1) : 0 } })
            }
            let result = try textGuidedEdit(generator: generator, clip: clip, ws: ws, noise: noise, target: target, options: o)
            let unitTo = CLIPModel.l2Normalized(to)
            let before = CLIPModel.l2Normalized(result.initialImageFeatures), after = CLIPModel.l2Normalized(result.imageFeatures)
            let e = unitTo.shape[1]
            for (k, idx) in chunk.enumerated() {
                edited[idx] = quantized8Bit(result.image.row(k))
                cases[idx].cosBefore = (0..<e).reduce(0) { $0 + Double(before[k, $1]) * Double(unitTo[k, $1]) }
                cases[idx].cosAfter = (0..<e).reduce(0) { $0 + Double(after[k, $1]) * Double(unitTo[k, $1]) }
            }
            start += chunk.count
            print("  \(start)/\(cases.count) edits, \(String(format: "%.0f", Date().timeIntervalSince(wallStart))) s")
        }
        let wall = Date().timeIntervalSince(wallStart), cpu = processCPUSeconds() - cpuStart

        // Measurements.
        let editedStack = stack(edited)
        let classes = try classify(editedStack)
        let mirrored = try classify(flipImages(editedStack))
        let blurred = try classify(halfResolutionBlur(editedStack))
        let objectPixels = scenes.map { $0.objectPixels() }
        // Outline check without CLIP: a sphere's outline is an ellipse (misfit ≈ 0), a cube's,
        // cone's or cylinder's is not. The threshold is the midpoint between the largest sphere
        // misfit and the smallest other misfit on the photos (nil if they overlap).
        let photoMisfit = scenes.map { sceneStatistics(image: $0.photo).ellipseMisfit }
        let sphereMax = scenes.indices.filter { scenes[$0].shapeName == "sphere" }.map { photoMisfit[$0] }.max() ?? 0
        let otherMin = scenes.indices.filter { scenes[$0].shapeName != "sphere" }.map { photoMisfit[$0] }.min() ?? 1
        let misfitThreshold: Double? = sphereMax < otherMin ? (sphereMax + otherMin) / 2 : nil
        for i in cases.indices {
            let s = cases[i].scene
            func hit(_ p: (colour: String, shape: String)) -> Bool { cases[i].kind == .colour ? p.colour == cases[i].target : p.shape == cases[i].target }
            cases[i].predictedColour = classes[i].colour
            cases[i].predictedShape = classes[i].shape
            cases[i].success = hit(classes[i])
            cases[i].robust = hit(classes[i]) && hit(mirrored[i]) && hit(blurred[i])
            cases[i].kept = cases[i].kind == .colour ? classes[i].shape == reconClasses[s].shape : classes[i].colour == reconClasses[s].colour
            if cases[i].kind == .colour {
                cases[i].hueSuccess = TestScene.colourName(hue: meanHue(edited[i], pixels: objectPixels[s])) == cases[i].target
            }
            if cases[i].kind == .shape, let t = misfitThreshold, (cases[i].target == "sphere") != (scenes[s].shapeName == "sphere") {
                cases[i].misfitBefore = sceneStatistics(image: reconstructions[s]).ellipseMisfit
                cases[i].misfitAfter = sceneStatistics(image: edited[i]).ellipseMisfit
                cases[i].outlineSuccess = (cases[i].misfitAfter < t) == (cases[i].target == "sphere")
            }
            cases[i].psnrOutside = maskedPSNR(edited[i], reconstructions[s], pixels: boxMasks[s].map(!))
            cases[i].psnrInside = maskedPSNR(edited[i], reconstructions[s], pixels: boxMasks[s])
        }

        // Report.
        let n = Double(scenes.count)
        print("\n\(scenes.count) scenes; \(cases.count) edits; prompts \(scheme)\(directional ? " (directional)" : ""); steps \(options.steps), lr \(options.learningRate), λ \(options.lambdaL2), space \(options.space.rawValue), layers \(args.string("layers") ?? "all")\(args.string("subspace").map { ", subspace " + $0 } ?? ""), augment \(options.augmentations)\(options.flips ? " + flips" : "")\(options.minCrop < 1 ? ", crops ≥ \(options.minCrop)" : ""), mask \(useMask ? "box, weight \(options.maskPixelWeight)" : "none")")
        print(String(format: "zero-shot on the photos: colour %.3f, shape %.3f; on the reconstructions: colour %.3f, shape %.3f; reconstruction PSNR outside the box vs photo %.2f dB",
                     Double(scenes.indices.filter { photoClasses[$0].colour == scenes[$0].colour }.count) / n,
                     Double(scenes.indices.filter { photoClasses[$0].shape == scenes[$0].shapeName }.count) / n,
                     Double(scenes.indices.filter { reconClasses[$0].colour == scenes[$0].colour }.count) / n,
                     Double(scenes.indices.filter { reconClasses[$0].shape == scenes[$0].shapeName }.count) / n,
                     reconPSNROutside.reduce(0, +) / n))
        print(misfitThreshold.map { String(format: "outline ellipse misfit on the photos: spheres ≤ %.3f, others ≥ %.3f; threshold %.3f", sphereMax, otherMin, $0) }
              ?? String(format: "outline ellipse misfit does not separate the sphere photos (≤ %.3f) from the others (≥ %.3f): no outline check", sphereMax, otherMin))
        print(String(format: "time: %.1f s wall, %.1f CPU-s; %.2f s wall per edit", wall, cpu, wall / Double(cases.count)))
        print("\n| edit | n | CLIP zero-shot success | robust (+ mirror, blur) | hue check (colour) / outline check (sphere ↔ other) | other attribute kept | target already before | cos(image, prompt) before → after | PSNR outside box (mean / min) | PSNR inside box |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        func row(_ label: String, _ sel: [TextEditCase]) {
            guard !sel.isEmpty else { return }
            let k = Double(sel.count)
            func rate(_ f: (TextEditCase) -> Bool) -> String { String(format: "%.3f (%d/%d)", Double(sel.filter(f).count) / k, sel.filter(f).count, sel.count) }
            let pixelChecked = sel.filter { ($0.hueSuccess ?? $0.outlineSuccess) != nil }
            let hue = pixelChecked.isEmpty ? "–" : String(format: "%.3f (%d/%d)", Double(pixelChecked.filter { ($0.hueSuccess ?? $0.outlineSuccess)! }.count)
                                                          / Double(pixelChecked.count), pixelChecked.filter { ($0.hueSuccess ?? $0.outlineSuccess)! }.count, pixelChecked.count)
            let already = rate { c in c.kind == .colour ? reconClasses[c.scene].colour == c.target : reconClasses[c.scene].shape == c.target }
            print("| \(label) | \(sel.count) | \(rate(\.success)) | \(rate(\.robust)) | \(hue) | \(rate(\.kept)) | \(already) | "
                  + String(format: "%.3f → %.3f | %.2f / %.2f | %.2f |", sel.map(\.cosBefore).reduce(0, +) / k, sel.map(\.cosAfter).reduce(0, +) / k,
                           sel.map(\.psnrOutside).reduce(0, +) / k, sel.map(\.psnrOutside).min()!, sel.map(\.psnrInside).reduce(0, +) / k))
        }
        for kind in [TextEditCase.Kind.colour, .shape] {
            let sel = cases.filter { $0.kind == kind }
            row("**\(kind.rawValue), all**", sel)
            for t in (kind == .colour ? colours : shapes) { row("→ \(t)", sel.filter { $0.target == t }) }
            if kind == .shape {
                row("sphere ↔ cube", sel.filter { ["sphere", "cube"].contains(scenes[$0.scene].shapeName) && ["sphere", "cube"].contains($0.target) })
            }
        }
        row("**colour and shape**", cases)

        if let out = args.string("out") {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let records: [[String: Any]] = cases.map { c in
                var d: [String: Any] = ["kind": c.kind.rawValue, "target": c.target, "scene": scenes[c.scene].name, "prompt": c.prompt,
                                        "predicted_colour": c.predictedColour, "predicted_shape": c.predictedShape, "success": c.success,
                                        "robust_success": c.robust, "other_kept": c.kept, "psnr_outside_box": c.psnrOutside,
                                        "psnr_inside_box": c.psnrInside, "cos_prompt_before": c.cosBefore, "cos_prompt_after": c.cosAfter]
                if directional { d["from_prompt"] = c.fromPrompt }
                if let h = c.hueSuccess { d["hue_success"] = h }
                if let o = c.outlineSuccess { d["outline_success"] = o; d["ellipse_misfit_before"] = c.misfitBefore; d["ellipse_misfit_after"] = c.misfitAfter }
                d["image"] = "edits/\(scenes[c.scene].stem)_\(c.kind.rawValue)_\(c.target).png"
                return d
            }
            let data = try JSONSerialization.data(withJSONObject: ["arguments": args.values, "seconds_wall": wall, "cpu_seconds": cpu, "edits": records],
                                                  options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try writeAtomically(data, to: out + "/edits.json")
            try FileManager.default.createDirectory(atPath: out + "/edits", withIntermediateDirectories: true)
            for i in cases.indices { try saveImage(edited[i], to: out + "/" + (records[i]["image"] as! String)) }
            // One row per scene: photo, reconstruction, then its edits in order (blank tiles pad).
            let perScene = scenes.indices.map { s in cases.indices.filter { cases[$0].scene == s } }
            let columns = 2 + (perScene.map(\.count).max() ?? 0)
            let blank = Tensor(shape: [3, r, r], repeating: 1)
            let rows = try scenes.indices.prefix(try args.int("example-rows", 12)).map { s -> Tensor in
                let tiles = [scenes[s].photo, reconstructions[s]] + perScene[s].map { edited[$0] }
                return try imageGrid(tiles + Array(repeating: blank, count: columns - tiles.count), columns: columns, padding: 1)
            }
            try saveImage(try imageGrid(rows, columns: 1, padding: 1), to: out + "/examples.png")
            print("\n\(out)/edits.json, \(out)/examples.png (rows: photo, reconstruction, edits in the order of the table's targets)")
        }
    }
}
