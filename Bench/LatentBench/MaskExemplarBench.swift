import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentInversion
import LatentCLIP
import LatentCore
import LatentEditing
import LatentEncoders
import _LatentVerification

/// The figures of `Bench/mask-exemplar.md` on the rendered test scenes:
/// 1. inpainting: a hole over each object's box (`TestScene.boxMask`), filled by masked
///    projection; PSNR of the fill inside the hole against the true scene and outside it against
///    the input;
/// 2. confined edits: the red-object recipe inside the object's box and red-wall inside the wall
///    (rows above the horizon, box excluded) by feature blending at 16² and 32²; PSNR outside the
///    mask against the unedited reconstruction, blended and unconfined;
/// 3. exemplar transfer: each scene takes the next scene's appearance (row ranges; with
///    `--exemplar-study 1` the other transfers of `ExemplarTransfer.study`; with `--channels
///    SET.json` a StyleSpace channel set); circular distance of the object's and wall's mean hue
///    to the exemplar's, before and after, and the object's centroid-x / height change
///    (`sceneStatistics`). Measured first, so `--only exemplar` stops after it;
/// 4. diversity: 20 samples per scene with fine / middle / coarse rows resampled; BicycleGAN's
///    consecutive-pair pixel L1 and CLIP cosine distance, and how the layout holds (object
///    centroid x, height, horizon row).
///
/// Arguments: `--scenes DIR` (default ../shared/testdata/scenes), `--steps N` (projector steps,
/// default 200), `--count K` (first K scenes, default all), `--diversity-count K` (scenes for
/// part 4, default 8), `--out DIR` (mask-exemplar.json and mask-exemplar-sheet.png, and the
/// cached inversions), `--latents encoder|DIR` (the scenes' latents from the embedded encoder or
/// a project folder, e.g. PTI, instead of the projector), `--space w` (W inversions), `--only
/// exemplar`, `--exemplar-study 1`, `--channels SET.json`.
func runMaskExemplarBench(arguments: [String]) {
    runWithOptions("mask-exemplar", arguments, maskExemplarBench)
}

/// Wall pixels of a scene: rows above its horizon (from the factors), object box excluded.
private func wallPixels(_ s: TestScene, r: Int) -> [Bool] {
    let horizon = Int((s.factors["horizon"] ?? 0.5) * Double(r)) - 2
    let box = s.boxMask(resolution: r)
    return (0 ..< r * r).map { $0 / r < horizon && !box[$0] }
}

/// The horizon row: the split of the row-mean colours (object columns excluded) into a wall
/// part above and a floor part below with the least squared error (a two-segment fit, robust
/// to the soft edges of a blurry render).
private func horizonRow(_ image: Tensor) -> Int {
    let h = image.shape[1], w = image.shape[2], hw = h * w
    let stats = sceneStatistics(image: image)
    let hasBox = stats.box.right >= stats.box.left
    var rows: [[Double]] = []
    for y in 0..<h {
        var acc = [0.0, 0.0, 0.0], n = 0.0
        for x in 0..<w where !(hasBox && x >= stats.box.left - 1 && x <= stats.box.right + 1) {
            for c in 0..<3 { acc[c] += Double(image[flat: c * hw + y * w + x]) }
            n += 1
        }
        rows.append(acc.map { $0 / max(n, 1) })
    }
    func sse(_ part: ArraySlice<[Double]>) -> Double {
        var total = 0.0
        for c in 0..<3 {
            var m = 0.0
            for v in part { m += v[c] }
            m /= Double(part.count)
            for v in part { total += (v[c] - m) * (v[c] - m) }
        }
        return total
    }
    var best = 1, bestE = Double.infinity
    for y in 2..<(h - 2) {
        let e = sse(rows[0..<y]) + sse(rows[y...])
        if e < bestE { bestE = e; best = y }
    }
    return best
}

/// The scenes' latents for the measurements, and what they are.
private struct SceneLatents {
    var latents: (ws: Tensor, noise: NoiseMaps, images: Tensor)
    /// Per scene, the generator that renders its latent (a project folder's deltas), nil = the base.
    var generators: [StyleGAN2Generator]?
    var description: String
}

/// `kind` nil: `project()` (the projector, cached); `encoder`: the embedded encoder's codes
/// (const noise); otherwise a project folder with `<scene name>/latent.npz` per scene, each
/// rendered as `edit` renders it (with the folder's generator delta, e.g. PTI).
private func sceneLatents(_ kind: String?, space: LatentSpace, scenes: [TestScene], photos: Tensor, generator G: StyleGAN2Generator,
                          project: () throws -> (ws: Tensor, noise: NoiseMaps, images: Tensor)) throws -> SceneLatents {
    switch kind {
    case nil:
        return SceneLatents(latents: try project(), generators: nil, description: "projector (\(space.rawValue))")
    case "encoder"?:
        let ws = try DefaultEncoder.load().encode(images: photos)
        return SceneLatents(latents: (ws, NoiseMaps(), G.synthesis(ws: ws)), generators: nil, description: "embedded encoder")
    case let folder?:
        let files = try scenes.map { try RenderableLatent(path: "\(folder)/\(($0.name as NSString).deletingPathExtension)/latent.npz", base: G) }
        let noise = files[0].noise == nil ? NoiseMaps() : concatenateNoise(files.map { $0.noise! })
        let images = Tensor.concatenate(files.map { let t = $0.render(); return t.reshaped([1] + t.shape) })
        return SceneLatents(latents: (Tensor.concatenate(files.map(\.ws)), noise, images), generators: files.map(\.generator),
                            description: "\(folder) (\(files.filter(\.tuned).count) of \(files.count) with a generator delta)")
    }
}

private func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

private func maskExemplarBench(_ opts: [String: String]) throws {
    let scenesDir = opts["scenes"] ?? "../shared/testdata/scenes"
    let steps = Int(opts["steps"] ?? "200")!
    let outDir = opts["out"] ?? "mask-exemplar-out"
    try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
    let G = try StyleGAN2Generator.loadDefault()
    let clip = try CLIPModel.loadDefault()
    var scenes = try TestScene.loadAll(directory: scenesDir)
    if let k = opts["count"].flatMap(Int.init) { scenes = Array(scenes.prefix(k)) }
    let n = scenes.count, r = G.resolution, hw = r * r
    let photos = Tensor.concatenate(scenes.map { $0.photo.reshaped([1] + $0.photo.shape) })
    var options = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: steps, initialLearningRate: ProjectorOptions.defaultInitialLearningRate,
                                                                   regularizeNoiseWeight: 1e5))
    options.seed = 0
    if opts["space"] == "w" { options.space = .w }     // W inversions (one w for every row) instead of W+
    /// Every scene projected, cached in `--out` (`<name>-<count>-<steps>.npz`).
    func projectAll(mask: Tensor?, name: String) throws -> (ws: Tensor, noise: NoiseMaps, images: Tensor) {
        let p = try projectInBatches(generator: G, targets: photos, mask: mask, options: options, cache: outDir + "/\(name)-\(n)-\(steps).npz")
        return (p.ws, p.noise, p.reconstructions ?? G.synthesis(ws: p.ws, noise: p.noise))
    }
    func noiseOf(_ k: Int, _ noise: NoiseMaps) -> NoiseMaps { NoiseMaps(noise.maps.mapValues { $0.slice(k ..< k + 1) }) }

    // 1. Reconstruction and inpainting. The scenes' latents: the projector's (default), the
    // embedded encoder's (--latents encoder) or a project folder's (--latents DIR, e.g. PTI
    // folders, each rendered with its own generator delta).
    let source = try sceneLatents(opts["latents"], space: options.space, scenes: scenes, photos: photos, generator: G,
                                  project: { try projectAll(mask: nil, name: options.space == .w ? "reconstructions-w" : "reconstructions") })
    let rec = source.latents
    print("scene latents: \(source.description)")
    var results: [String: RecordValue] = ["scenes": .int(n), "steps": .int(steps), "latents": .string(source.description)]
    // Exemplar transfer (part 3 of the summary above, measured first so that --only exemplar
    // skips the rest): scene k takes scene k+1's appearance.
    var exemplar: [String: RecordValue] = [:]
    var sheetExemplar: [String: [Int: Tensor]] = [:]
    var transfers: [ExemplarTransfer] = [.rows(LayerPreset.fine.range(numWs: G.numWs)), .rows(LayerPreset.middle.range(numWs: G.numWs))]
        + [4 ..< 10, 5 ..< 10, 6 ..< 10, 7 ..< 10, 6 ..< 8, 4 ..< 6, 5 ..< 6].filter { $0.upperBound <= G.numWs }.map { .rows($0) }
    if opts["exemplar-study"] != nil { transfers += ExemplarTransfer.study(numWs: G.numWs) }
    if let path = opts["channels"] { transfers.append(.channels(try StyleChannelSet(path: path))) }
    let pcaBasis = opts["exemplar-study"] != nil
        ? try principalComponents(data: sampleW(generator: G, samples: 10_000, seed: 0), count: 64).components : nil
    let exemplarOf = (0..<n).map { ($0 + 1) % n }
    let measure = ExemplarTransferMeasure(before: (0..<n).map { rec.images.row($0) }, exemplarOf: exemplarOf,
                                          objectPixels: scenes.map { $0.objectPixels() }, wallPixels: scenes.map { wallPixels($0, r: r) })
    for transfer in transfers {
        let after = try (0..<n).map { k in
            try transfer.render(generator: source.generators?[k] ?? G, ws: rec.ws.slice(k ..< k + 1),
                                exemplarWs: rec.ws.slice(exemplarOf[k] ..< exemplarOf[k] + 1), noise: noiseOf(k, rec.noise), pcaBasis: pcaBasis)
        }
        for k in 0 ..< min(4, n) { sheetExemplar[transfer.label, default: [:]][k] = after[k] }
        let f = measure.measure(after: after), dx = f.centroidXChange, dh = f.heightChange
        exemplar[transfer.label] = ["object_hue_distance_before": .double(f.objectBefore), "object_hue_distance_after": .double(f.objectAfter),
                                    "wall_hue_distance_before": .double(f.wallBefore), "wall_hue_distance_after": .double(f.wallAfter),
                                    "centroid_x_change": .double(mean(dx)), "max_centroid_x_change": .double(dx.max()!),
                                    "height_change": .double(mean(dh)), "max_height_change": .double(dh.max()!)]
        print(String(format: "exemplar, %@: object hue distance %.3f → %.3f, wall %.3f → %.3f; centroid x change %.3f (max %.3f), height %.3f (max %.3f)",
                     transfer.label, f.objectBefore, f.objectAfter, f.wallBefore, f.wallAfter, mean(dx), dx.max()!, mean(dh), dh.max()!))
    }
    results["exemplar"] = .object(exemplar)
    if opts["only"] == "exemplar" {
        try RunRecord(command: "LatentBench mask-exemplar", results).write(to: outDir + "/mask-exemplar.json")
        return
    }
    var keep = Tensor.ones([n, 1, r, r])
    let boxes = scenes.map { $0.boxMask(resolution: r) }
    for k in 0..<n { for q in 0..<hw where boxes[k][q] { keep.storage[k * hw + q] = 0 } }
    print("inpainting the object boxes")
    let inp = try projectAll(mask: keep, name: "inpainted")
    var inside: [Double] = [], outside: [Double] = [], recInside: [Double] = [], holeFraction: [Double] = [], rowFill: [Double] = []
    for k in 0..<n {
        // Baseline without a model: each hole pixel takes the mean of its row's known pixels
        // (wall and floor are uniform along a row, so this is the scene without its object).
        var filled = photos.row(k)
        for y in 0..<r {
            let known = (0..<r).filter { !boxes[k][y * r + $0] }
            for c in 0..<3 {
                let m = known.isEmpty ? 0 : known.reduce(Float(0)) { $0 + filled.storage[c * hw + y * r + $1] } / Float(known.count)
                for x in 0..<r where boxes[k][y * r + x] { filled.storage[c * hw + y * r + x] = m }
            }
        }
        rowFill.append(maskedPSNR(filled, photos.row(k), pixels: boxes[k]))
        inside.append(maskedPSNR(inp.images.row(k), photos.row(k), pixels: boxes[k]))
        outside.append(maskedPSNR(inp.images.row(k), photos.row(k), pixels: boxes[k].map(!)))
        recInside.append(maskedPSNR(rec.images.row(k), photos.row(k), pixels: boxes[k]))
        holeFraction.append(Double(boxes[k].filter { $0 }.count) / Double(hw))
    }
    results["inpainting"] = ["psnr_inside_hole_vs_truth": .double(mean(inside)), "psnr_outside_hole_vs_input": .double(mean(outside)),
                       "reconstruction_psnr_inside_box": .double(mean(recInside)),
                       "row_mean_fill_psnr_inside_hole": .double(mean(rowFill)), "hole_fraction": .double(mean(holeFraction)),
                       "min_inside": .double(inside.min()!), "max_inside": .double(inside.max()!)]
    print(String(format: "inpainting: inside the hole %.2f dB vs truth (full inversion there %.2f dB, row-mean fill %.2f dB), outside %.2f dB vs input, hole %.0f %% of the image",
                 mean(inside), mean(recInside), mean(rowFill), mean(outside), mean(holeFraction) * 100))

    // 2. Confined edits.
    var confined: [String: RecordValue] = [:]
    var sheetEdits: [Int: (Tensor, Tensor)] = [:]
    for (recipeName, region) in [("red-object", "box"), ("red-wall", "wall")] {
        let recipe = try EditRecipe.load(path: "Edits/\(recipeName).json")
        for blendRes in [16, 32] {
            var inOut: [Double] = [], freeOut: [Double] = [], kept: [Double] = [], oneOut: [Double] = []
            for k in 0..<n {
                let pixels = region == "box" ? boxes[k] : wallPixels(scenes[k], r: r)
                let mask = Tensor(shape: [1, 1, r, r], data: pixels.map { $0 ? 1 : 0 })
                let m = try MaskedEdit(mask: mask, blendResolution: blendRes, generator: G)
                let ws = rec.ws.slice(k ..< k + 1), noise = noiseOf(k, rec.noise)
                let edited = try applyRecipe(recipe, ws: ws, recipeDirectory: "Edits")
                let original = G.synthesis(ws: ws, noise: noise).row(0)
                let blended = m.render(generator: G, editedWs: edited, originalWs: ws, noise: noise).row(0)
                let free = G.synthesis(ws: edited, noise: noise).row(0)
                inOut.append(m.psnrOutside(blended, original)); freeOut.append(m.psnrOutside(free, original))
                kept.append(m.psnrInside(blended, free))
                // The variant not chosen: blend at the one block, the later blocks on the edited ws.
                let one = G.blendedSynthesis(editedWs: edited, originalWs: ws, mask: mask, blendResolution: blendRes, noise: noise,
                                             onlyAtBlendResolution: true).row(0)
                oneOut.append(m.psnrOutside(one, original))
                if recipeName == "red-object", blendRes == 16, k < 4 { sheetEdits[k] = (blended, free) }
            }
            confined["\(recipeName)@\(blendRes)"] = ["psnr_outside_mask": .double(mean(inOut)), "min_psnr_outside_mask": .double(inOut.min()!),
                                                     "psnr_outside_mask_unconfined": .double(mean(freeOut)),
                                                     "psnr_outside_mask_one_block_blend": .double(mean(oneOut)),
                                                     "psnr_inside_blended_vs_unconfined": .double(mean(kept))]
            print(String(format: "confined %@ in the %@ at %d²: outside %.1f dB (min %.1f), one-block blend %.1f dB, unconfined %.1f dB; inside vs unconfined %.1f dB",
                         recipeName, region, blendRes, mean(inOut), inOut.min()!, mean(oneOut), mean(freeOut), mean(kept)))
        }
    }
    results["confined_edits"] = .object(confined)


    // 4. Diversity against layout hold.
    let dn = min(n, Int(opts["diversity-count"] ?? "8")!)
    var diversity: [String: RecordValue] = [:]
    var sheetSamples: [Int: [Tensor]] = [:]
    for preset in LayerPreset.allCases {
        var l1: [Double] = [], cosd: [Double] = [], dx: [Double] = [], dh: [Double] = [], dz: [Double] = []
        for k in 0..<dn {
            let ws = try resampleLayers(generator: G, ws: rec.ws.slice(k ..< k + 1), layers: preset.range(numWs: G.numWs),
                                        seeds: (0..<20).map { UInt32($0) })
            let noise = NoiseMaps(noiseOf(k, rec.noise).maps.mapValues { Tensor.concatenate(Array(repeating: $0, count: 20)) })
            let images = G.synthesis(ws: ws, noise: noise)
            let d = try SampleDiversity(images: images, clip: clip)
            l1.append(d.pixelL1); cosd.append(d.clipCosine!)
            let base = sceneStatistics(image: rec.images.row(k)), baseHorizon = horizonRow(rec.images.row(k))
            for s in 0..<20 {
                let st = sceneStatistics(image: images.row(s))
                dx.append(abs(st.centroidX - base.centroidX)); dh.append(abs(st.objectHeight - base.objectHeight))
                dz.append(Double(abs(horizonRow(images.row(s)) - baseHorizon)) / Double(r))
            }
            if preset == .fine, k < 4 { sheetSamples[k] = (0..<3).map { images.row($0) } }
        }
        diversity[preset.rawValue] = ["rows": .string(wsRangeText(preset.range(numWs: G.numWs))), "pixel_l1": .double(mean(l1)),
                                      "clip_cosine": .double(mean(cosd)), "centroid_x_change": .double(mean(dx)),
                                      "height_change": .double(mean(dh)), "horizon_change": .double(mean(dz))]
        print(String(format: "vary %@ (rows %@): diversity pixel L1 %.4f, CLIP cosine %.4f; layout change: centroid x %.3f, height %.3f, horizon %.3f",
                     preset.rawValue, wsRangeText(preset.range(numWs: G.numWs)), mean(l1), mean(cosd), mean(dx), mean(dh), mean(dz)))
    }
    results["diversity"] = .object(diversity)
    try RunRecord(command: "LatentBench mask-exemplar", results).write(to: outDir + "/mask-exemplar.json")

    // Example sheet, one scene per row: photo, hole, inpainted composite, red-object confined to
    // the box, unconfined, the exemplar (next scene), its rows 8-9 and 4-7 taken, two samples
    // with the fine rows resampled.
    var cells: [Tensor] = []
    // With --channels, the channel set's transfer follows the row crossovers.
    let channelLabel = transfers.first { if case .channels = $0 { return true }; return false }?.label
    let titles = ["photo", "hole", "inpaint", "in box", "free", "exemplar", "rows 8-9", "rows 4-7"] + (channelLabel == nil ? [] : ["channels"])
        + ["vary fine", "vary fine"]
    for k in 0..<min(4, n) {
        let e = (k + 1) % n
        let holed = Inpainting.composite(input: photos.row(k), fill: Tensor.zeros([3, r, r]), keep: keep.slice(k ..< k + 1))
        let composite = Inpainting.composite(input: photos.row(k), fill: inp.images.row(k),
                                             keep: Inpainting.featheredKeepMask(keep.slice(k ..< k + 1), sigma: 1.5))
        let rowsFine = sheetExemplar[ExemplarTransfer.rows(LayerPreset.fine.range(numWs: G.numWs)).label]![k]!
        let rowsMiddle = sheetExemplar[ExemplarTransfer.rows(LayerPreset.middle.range(numWs: G.numWs)).label]![k]!
        let row = [photos.row(k), holed, composite, sheetEdits[k]!.0, sheetEdits[k]!.1, photos.row(e), rowsFine, rowsMiddle]
            + (channelLabel.map { [sheetExemplar[$0]![k]!] } ?? [])
            + Array(sheetSamples[k, default: Array(repeating: Tensor.ones([3, r, r]), count: 3)].prefix(2))
        cells += zip(row, titles).map { labelled($0, $1) }
    }
    try saveImage(nearestUpscale(try imageGrid(cells, columns: titles.count, padding: 2), factor: 2), to: outDir + "/mask-exemplar-sheet.png")
    print("wrote \(outDir)/mask-exemplar.json and mask-exemplar-sheet.png")
}
