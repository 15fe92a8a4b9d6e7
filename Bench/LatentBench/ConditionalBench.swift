import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentCore
import LatentInversion
import LatentEncoders
import LatentCLIP
import LatentEditing
import _LatentVerification

/// Map → image quality of a guidance encoder on the paired test scenes (issue 18 targets).
///
///     LatentBench conditional --encoder seg.safetensors [--pairs ../shared/paired/scenes/test] [--limit N]
///
/// For every test map: translate (batch 1, timed), then estimate the layout on the output and on
/// the true photo with the same model-free estimator (`sceneStatistics`: object centroid x and
/// bounding-box height as image fractions, and the horizon row) and count the maps whose three quantities all lie within 0.03 of the photo's. Comparing
/// against the estimator on the photo, not against the renderer's factors, keeps the estimator's
/// own bias out of the count. The object's shape class (the majority object class of the map) is
/// checked by the embedded CLIP's zero-shot over "a sphere / a cube / a cylinder / a cone". PSNR of
/// the output against the photo is printed too (a seg map carries no colour).
///
/// `--encoder photo` measures the embedded image encoder on the test photos instead of a map
/// encoder on the maps: the ceiling of a map encoder trained on its codes (`--pair-latents`).
/// `--encoder truth` scores the photos themselves (the CLIP shape ceiling); `--outputs DIR` scores
/// the pictures another run wrote for the test photos or maps (`DIR/<name>/output.png`, or
/// `reconstruction.png` from `project`/`encode`), so any inversion's codes can be judged as targets.
func runConditionalBench(arguments: [String]) {
    let a = BenchArguments(arguments)
    do {
        guard let path = a.values["encoder"] else { print("usage: LatentBench conditional --encoder E.safetensors|photo [--pairs DIR] [--limit N]"); return }
        let outputs = a.values["outputs"]
        let fromPhoto = path == "photo", truth = path == "truth", paint = path == "paint"
        let encoder = try fromPhoto || truth || paint || outputs != nil ? DefaultEncoder.load()
            : GuidanceKind(rawValue: path).map { try DefaultEncoder.load(guidance: $0) } ?? TrainedEncoder(path: path)
        guard let kind = fromPhoto || truth || paint || outputs != nil ? .seg : encoder.config.guidance else { print("\(path): not a guidance encoder"); return }
        let G = try StyleGAN2Generator.loadDefault()
        let root = try a.values["pairs"] ?? parentPath(parentPath(scenesDirectory(nil))) + "/paired/scenes/test"
        let pairs = try GuidancePairs(folder: root, kind: kind, classes: encoder.config.classes ?? 7)
        let limit = min(pairs.maps.count, a.int("limit", pairs.maps.count))
        let clip = try CLIPModel.loadDefault(), tokenizer = try CLIPTokenizer.loadDefault()
        let shapeWords = ["sphere", "cube", "cylinder", "cone"]
        let textFeatures = CLIPModel.l2Normalized(try clip.encodeText(shapeWords.map { "a \($0)" }, tokenizer: tokenizer))
        // True factors (the targets are against these): cx, size (= object height), horizon.
        let factors = try pairedFactors(root: root)
        // The estimator's own bias against the factors (pixel box vs the renderer's size, measured
        // on 300 train photos): subtracted before comparing with the true factors.
        let bias = try estimatorBias(trainRoot: parentPath(root) + "/train", resolution: G.resolution)
        var mapErrors = [(Double, Double, Double)](), signed = [(Double, Double, Double)]()
        let sampleCount = a.int("samples", 0)
        let varyRows = try parseLayerSelection(a.values["vary"] ?? "fine", numWs: G.numWs)
        var clipDiversity = [Double](), l1Diversity = [Double](), sampleHits = 0, sampleTotal = 0
        var truthHits = 0, truthCounted = 0, tx = [Double](), th = [Double](), tz = [Double]()
        var hits = 0, scored = 0, shapeHits = 0, shapeCounted = 0, psnrSum = 0.0, ms = [Double]()
        var dx = [Double](), dh = [Double](), dz = [Double]()
        for i in 0..<limit {
            let map = try loadGuidanceMap(path: pairs.maps[i], kind: kind, classes: encoder.config.classes ?? 7, resolution: G.resolution)
            let photo = try loadProjectionTarget(path: pairs.photos[i], resolution: G.resolution)
            let sp = sceneStatistics(image: photo)
            /// Centre x, height and horizon all within 0.03 of the photo's estimate.
            func holdsLayout(_ s: SceneStatistics) -> Bool {
                abs(s.centroidX - sp.centroidX) <= 0.03 && abs(s.objectHeight - sp.objectHeight) <= 0.03 && abs(s.horizon - sp.horizon) <= 0.03
            }
            let t0 = Date()
            let images: Tensor
            var mapWs: Tensor? = nil
            if let outputs {
                let stem = ((pairs.photos[i] as NSString).lastPathComponent as NSString).deletingPathExtension
                let dir = outputs + "/" + stem
                let file = FileManager.default.fileExists(atPath: dir + "/output.png") ? dir + "/output.png" : dir + "/reconstruction.png"
                guard FileManager.default.fileExists(atPath: file) else { continue }
                images = try loadProjectionTarget(path: file, resolution: G.resolution).reshaped([1, 3, G.resolution, G.resolution])
            } else if truth {
                images = photo.reshaped([1] + photo.shape)
            } else if paint, let ids = map.classIds {
                // The map painted in flat colours (`paint-maps`), encoded by the image encoder.
                let pic = paintSegMap(ids: ids, resolution: G.resolution)
                images = G.synthesis(ws: try encoder.encode(images: pic))
            } else if fromPhoto {
                images = G.synthesis(ws: try encoder.encode(images: photo.reshaped([1] + photo.shape)))
            } else {
                let (ws, plain) = try translateMaps(map.tensor.reshaped([1] + map.tensor.shape), encoder: encoder, generator: G,
                                                    openRowSeeds: [openRowSeed(mapName: (pairs.maps[i] as NSString).lastPathComponent)])
                images = plain
                mapWs = ws
            }
            scored += 1
            ms.append(Date().timeIntervalSince(t0) * 1000)
            if let ws = mapWs, sampleCount >= 2 {
                // BicycleGAN's protocol: N outputs for one map (`translate --samples N`, the --vary
                // rows resampled, fine by default), their CLIP-feature diversity and whether each keeps
                // the layout (outside the timed translation).
                let seeds = (0..<sampleCount).map { UInt32(i * sampleCount + $0) }
                let samples = G.synthesis(ws: try resampleLayers(generator: G, ws: ws, layers: varyRows, seeds: seeds))
                    .map { min(max($0, -1), 1) }
                let d = try SampleDiversity(images: samples, clip: clip)
                clipDiversity.append(d.clipCosine ?? .nan); l1Diversity.append(d.pixelL1)
                for k in 0..<sampleCount {
                    sampleTotal += 1
                    if holdsLayout(sceneStatistics(image: samples.row(k))) { sampleHits += 1 }
                }
            }
            let out = images.row(0).map { min(max($0, -1), 1) }
            let so = sceneStatistics(image: out)
            dx.append(abs(so.centroidX - sp.centroidX)); dh.append(abs(so.objectHeight - sp.objectHeight)); dz.append(abs(so.horizon - sp.horizon))
            if holdsLayout(so) { hits += 1 }
            if let f = factors[(pairs.photos[i] as NSString).lastPathComponent], let cx = f["cx"], let size = f["size"], let hz = f["horizon"] {
                let fx = abs(so.centroidX - bias.0 - cx), fh = abs(so.objectHeight - bias.1 - size), fz = abs(so.horizon - bias.2 - hz)
                tx.append(fx); th.append(fh); tz.append(fz); truthCounted += 1
                signed.append((so.centroidX - cx, so.objectHeight - size, so.horizon - hz))
                if fx <= 0.03 && fh <= 0.03 && fz <= 0.03 { truthHits += 1 }
                if truth, let ids = map.classIds {
                    // The map's own pixel layout against the factors: how the factor units relate to pixels.
                    let r = G.resolution
                    let obj = ids.indices.filter { (3...6).contains(ids[$0]) }
                    let rows = obj.map { $0 / r }, cols = obj.map { $0 % r }
                    let wallRows = (0..<r).filter { y in (0..<r).filter { ids[y * r + $0] == 0 }.count > r / 2 }
                    if let top = rows.min(), let bottom = rows.max(), let last = wallRows.max() {
                        mapErrors.append((Double(cols.reduce(0, +)) / Double(cols.count) / Double(r) + 0.5 / Double(r) - cx,
                                          Double(bottom - top + 1) / Double(r) - size, Double(last + 1) / Double(r) - hz))
                    }
                }
            }
            psnrSum += try ImageMetrics.psnr(out.reshaped([1] + out.shape), photo.reshaped([1] + photo.shape))[0]
            // Shape from the map: the most frequent object class (ids 3…6 = sphere, cube, cylinder, cone).
            if let ids = map.classIds {
                var counts = [Int](repeating: 0, count: 4)
                for c in ids where (3...6).contains(c) { counts[c - 3] += 1 }
                if let best = counts.indices.max(by: { counts[$0] < counts[$1] }), counts[best] > 0 {
                    let f = CLIPModel.l2Normalized(try clip.encodeImage(try clip.preprocess(imagesInMinusOneOne: out.reshaped([1] + out.shape))))
                    let scores = (0..<4).map { k in (0..<f.shape[1]).reduce(Float(0)) { $0 + f.storage[$1] * textFeatures.storage[k * f.shape[1] + $1] } }
                    shapeCounted += 1
                    if scores.indices.max(by: { scores[$0] < scores[$1] }) == best { shapeHits += 1 }
                }
            }
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? .nan : s[s.count / 2] }
        print("load average \(loadAverage())")
        print(outputs.map { "outputs \($0): \(scored) of \(limit) test scenes" } ?? "encoder \(path) (\(kind.rawValue), \(encoder.config.steps) steps) on \(limit) maps of \(root)")
        print(String(format: "layout within 0.03 of the photo (centre x, height, horizon): %d / %d (%.1f %%); median errors x %.3f, height %.3f, horizon %.3f",
                     hits, scored, 100 * Double(hits) / Double(max(scored, 1)), median(dx), median(dh), median(dz)))
        if truthCounted > 0 {
            print(String(format: "estimator bias on 300 train photos (subtracted): x %+.3f, height %+.3f, horizon %+.3f", bias.0, bias.1, bias.2))
            print(String(format: "layout within 0.03 of the true factors (cx, size, horizon): %d / %d (%.1f %%); median errors x %.3f, height %.3f, horizon %.3f",
                         truthHits, truthCounted, 100 * Double(truthHits) / Double(truthCounted), median(tx), median(th), median(tz)))
        }
        if sampleTotal > 0 {
            let mean = { (v: [Double]) in v.reduce(0, +) / Double(max(v.count, 1)) }
            print(String(format: "diversity (%d samples per map, rows %@ resampled): CLIP-feature cosine distance %.4f, pixel L1 %.4f (consecutive pairs, mean over maps); samples with the layout within 0.03 of the photo: %d / %d (%.1f %%)",
                         sampleCount, wsRangeText(varyRows), mean(clipDiversity), mean(l1Diversity), sampleHits, sampleTotal, 100 * Double(sampleHits) / Double(sampleTotal)))
        }
        if !mapErrors.isEmpty {
            print(String(format: "the maps' own pixel layout minus the factors: median x %+.3f, height %+.3f, horizon %+.3f (signed)",
                         median(mapErrors.map(\.0)), median(mapErrors.map(\.1)), median(mapErrors.map(\.2))))
            print(String(format: "the estimator minus the factors: median x %+.3f, height %+.3f, horizon %+.3f (signed)",
                         median(signed.map(\.0)), median(signed.map(\.1)), median(signed.map(\.2))))
        }
        if shapeCounted > 0 {
            print(String(format: "CLIP zero-shot shape = the map's shape: %d / %d (%.1f %%)", shapeHits, shapeCounted, 100 * Double(shapeHits) / Double(shapeCounted)))
        }
        print(String(format: "PSNR vs photo: %.2f dB mean; translate %.1f ms per map at batch 1 (median, encoder + synthesis)", psnrSum / Double(max(scored, 1)), median(ms)))
    } catch { print("conditional: \(error)") }
}

/// `factors.json` of a paired folder: photo name → numeric factors (empty when absent).
func pairedFactors(root: String) throws -> [String: [String: Double]] {
    guard let data = FileManager.default.contents(atPath: root + "/factors.json"),
          let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any],
          let f = obj["factors"] as? [String: [String: Any]] else { return [:] }
    return f.mapValues { $0.compactMapValues { ($0 as? NSNumber)?.doubleValue } }
}

/// Median signed (centre x, height, horizon) error of `sceneStatistics` on the first 300 train
/// photos against their factors; zeros when the train folder is absent.
func estimatorBias(trainRoot: String, resolution: Int) throws -> (Double, Double, Double) {
    let factors = try pairedFactors(root: trainRoot)
    var e = [(Double, Double, Double)]()
    for name in factors.keys.sorted().prefix(300) {
        let f = factors[name]!
        guard let cx = f["cx"], let size = f["size"], let hz = f["horizon"] else { continue }
        let s = sceneStatistics(image: try loadProjectionTarget(path: trainRoot + "/photo/" + name, resolution: resolution))
        e.append((s.centroidX - cx, s.objectHeight - size, s.horizon - hz))
    }
    func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
    return (median(e.map(\.0)), median(e.map(\.1)), median(e.map(\.2)))
}
