import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentInversion
import LatentEncoders
import LatentCLIP
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
func runConditionalBench(arguments: [String]) {
    let a = BenchArguments(arguments)
    do {
        guard let path = a.values["encoder"] else { print("usage: LatentBench conditional --encoder E.safetensors [--pairs DIR] [--limit N]"); return }
        let encoder = try TrainedEncoder(path: path)
        guard let kind = encoder.config.guidance else { print("\(path): not a guidance encoder"); return }
        let G = try StyleGAN2Generator.loadDefault()
        let root = try a.values["pairs"] ?? ((scenesDirectory(nil) as NSString).deletingLastPathComponent as NSString)
            .deletingLastPathComponent + "/paired/scenes/test"
        let pairs = try GuidancePairs(folder: root, kind: kind, classes: encoder.config.classes ?? 7)
        let limit = min(pairs.maps.count, a.int("limit", pairs.maps.count))
        let clip = try CLIPModel.loadDefault(), tokenizer = try CLIPTokenizer.loadDefault()
        let shapeWords = ["sphere", "cube", "cylinder", "cone"]
        let textFeatures = CLIPModel.l2Normalized(try clip.encodeText(shapeWords.map { "a \($0)" }, tokenizer: tokenizer))
        var hits = 0, shapeHits = 0, shapeCounted = 0, psnrSum = 0.0, ms = [Double]()
        var dx = [Double](), dh = [Double](), dz = [Double]()
        for i in 0..<limit {
            let map = try loadGuidanceMap(path: pairs.maps[i], kind: kind, classes: encoder.config.classes ?? 7, resolution: G.resolution)
            let photo = try loadProjectionTarget(path: pairs.photos[i], resolution: G.resolution)
            let t0 = Date()
            let (_, images) = try translateMaps(map.tensor.reshaped([1] + map.tensor.shape), encoder: encoder, generator: G)
            ms.append(Date().timeIntervalSince(t0) * 1000)
            let out = images.row(0).map { min(max($0, -1), 1) }
            let so = sceneStatistics(image: out), sp = sceneStatistics(image: photo)
            let ex = abs(so.centroidX - sp.centroidX), eh = abs(so.objectHeight - sp.objectHeight)
            let ez = abs(so.horizon - sp.horizon)
            dx.append(ex); dh.append(eh); dz.append(ez)
            if ex <= 0.03 && eh <= 0.03 && ez <= 0.03 { hits += 1 }
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
        print("encoder \(path) (\(kind.rawValue), \(encoder.config.steps) steps) on \(limit) maps of \(root)")
        print(String(format: "layout within 0.03 of the photo (centre x, height, horizon): %d / %d (%.1f %%); median errors x %.3f, height %.3f, horizon %.3f",
                     hits, limit, 100 * Double(hits) / Double(limit), median(dx), median(dh), median(dz)))
        if shapeCounted > 0 {
            print(String(format: "CLIP zero-shot shape = the map's shape: %d / %d (%.1f %%)", shapeHits, shapeCounted, 100 * Double(shapeHits) / Double(shapeCounted)))
        }
        print(String(format: "PSNR vs photo: %.2f dB mean; translate %.1f ms per map at batch 1 (median, encoder + synthesis)", psnrSum / Double(limit), median(ms)))
    } catch { print("conditional: \(error)") }
}
