import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentCore
import LatentInversion
import LatentEditing
import LatentEncoders
import _LatentVerification

/// Per-region style transfer of `translate --region-style wall=PHOTO` on the paired test maps.
///
///     LatentBench region-style --encoder seg.safetensors [--pairs DIR] [--limit 20] [--pool 20]
///                              [--blend-res 16] [--cache exemplars.npz]
///
/// Maps 0 … limit−1 are translated; photos limit … limit+pool−1 are the exemplar pool, inverted
/// as `translate` inverts an image exemplar (embedded encoder + 100 hybrid steps). Each map takes
/// the pool exemplar whose wall hue is farthest from the map's plain output's (a different wall
/// colour). Hues are the saturation-weighted circular mean hue (`meanHue`, as `mask-exemplar`)
/// over a region's pixels from the seg maps, eroded by 2 pixels (the boundary is blurred): the
/// map's on the outputs, the exemplar's own map on the exemplar's render. Reported per row set:
/// the mean wall hue distance to the exemplar's wall before (plain output) → after (styled), the
/// mean object hue change (map object pixels eroded by 1; should stay small), the PSNR outside the wall against the plain
/// output, and the region render's time.
func runRegionStyleBench(arguments: [String]) {
    let a = BenchArguments(arguments)
    do {
        guard let path = a.values["encoder"] else { print("usage: LatentBench region-style --encoder E.safetensors [--pairs DIR] [--limit N] [--pool N]"); return }
        let encoder = try GuidanceKind(rawValue: path).map { try DefaultEncoder.load(guidance: $0) } ?? TrainedEncoder(path: path)
        guard encoder.config.guidance == .seg, let classes = encoder.config.classes else { print("\(path): not a seg encoder"); return }
        let G = try StyleGAN2Generator.loadDefault()
        let r = G.resolution
        let root = try a.values["pairs"] ?? parentPath(parentPath(scenesDirectory(nil))) + "/paired/scenes/test"
        let pairs = try GuidancePairs(folder: root, kind: .seg, classes: classes)
        let limit = a.int("limit", 20), poolSize = a.int("pool", 20)
        guard limit + poolSize <= pairs.maps.count else { print("only \(pairs.maps.count) pairs"); return }
        let blendRes = a.int("blend-res", MaskedEdit.defaultBlendResolution(imageResolution: r))
        func load(_ i: Int) throws -> GuidanceMap { try loadGuidanceMap(path: pairs.maps[i], kind: .seg, classes: classes, resolution: r) }
        func pixels(_ map: GuidanceMap, _ ids: Set<Int>) -> [Bool] { erode(map.classIds!.map { ids.contains($0) }, r: r, by: 2) }

        // The exemplar pool: photos inverted once (cached).
        let cache = a.string("cache", (NSTemporaryDirectory() as NSString).appendingPathComponent("region-style-exemplars-\(limit)-\(poolSize).npz"))
        let poolWs: Tensor
        if FileManager.default.fileExists(atPath: cache) {
            poolWs = try LatentFile.read(path: cache, generator: G).ws(generator: G)
            print("read \(cache)")
        } else {
            let targets = Tensor.concatenate(try (limit ..< limit + poolSize).map { try loadProjectionTarget(path: pairs.photos[$0], resolution: r).reshaped([1, 3, r, r]) })
            var o = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: 100, initialLearningRate: 0.1, initialNoiseFactor: 0))
            o.noiseInit = .const
            let t0 = Date()
            poolWs = try HybridSolver(encoderSolver: try EncoderSolver(generator: G, encoder: try DefaultEncoder.load()), loss: PixelL2Loss(), options: o)
                .invert(targets: targets, mask: nil, progress: nil).result.ws
            try LatentFile(ws: poolWs).write(to: cache)
            print(String(format: "inverted %d exemplar photos in %.1f s → %@", poolSize, Date().timeIntervalSince(t0), cache))
        }
        let poolImages = G.synthesis(ws: poolWs)
        let poolWallHue = try (0..<poolSize).map { meanHue(poolImages.row($0), pixels: pixels(try load(limit + $0), [0])) }

        // The last row is the same crossover unconfined (`translate --exemplar`): what the blend keeps out.
        let layerSets: [(String, Range<Int>, confined: Bool)] = [
            ("default (rows 4-9)", RegionStyle.defaultLayers(numWs: G.numWs), true),
            ("fine (rows 8-9)", LayerPreset.fine.range(numWs: G.numWs), true),
            ("rows 4-9 unconfined (--exemplar)", RegionStyle.defaultLayers(numWs: G.numWs), false)]
        var objectMaps = 0
        var rows: [String: (before: [Double], after: [Double], object: [Double], outside: [Double], ms: [Double])] = [:]
        for i in 0..<limit {
            let map = try load(i)
            let (ws, plainImages) = try translateMaps(map.tensor.reshaped([1] + map.tensor.shape), encoder: encoder, generator: G)
            let plain = plainImages.row(0)
            let wall = pixels(map, [0])
            let object = erode(map.classIds!.map { SegRegion.sceneObjectIds.contains($0) }, r: r, by: 1)
            if object.contains(true) { objectMaps += 1 }
            let notWall = map.classIds!.map { $0 != 0 }
            let plainWall = meanHue(plain, pixels: wall), plainObject = meanHue(plain, pixels: object)
            let e = (0..<poolSize).max { hueDistance(poolWallHue[$0], plainWall) < hueDistance(poolWallHue[$1], plainWall) }!
            let mask = try SegRegion(parsing: "wall", classes: classes).mask(mapClassIds: map.classIds!, resolution: r)
            for (name, layers, confined) in layerSets {
                let t0 = Date()
                let exWs = poolWs.slice(e ..< e + 1)
                let styled = confined
                    ? try renderRegionStyles(generator: G, ws: ws, styles: [RegionStyle(mask: mask, exemplarWs: exWs)], layers: layers,
                                             blendResolution: blendRes).image.row(0)
                    : G.synthesis(ws: try exemplarCrossover(ws: ws, exemplarWs: exWs, layers: layers)).row(0)
                let ms = Date().timeIntervalSince(t0) * 1000
                var row = rows[name] ?? ([], [], [], [], [])
                row.before.append(hueDistance(plainWall, poolWallHue[e]))
                row.after.append(hueDistance(meanHue(styled, pixels: wall), poolWallHue[e]))
                if object.contains(true) { row.object.append(hueDistance(meanHue(styled, pixels: object), plainObject)) }
                row.outside.append(min(maskedPSNR(styled, plain, pixels: notWall), 120))
                row.ms.append(ms)
                rows[name] = row
            }
        }
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? .nan : s[s.count / 2] }
        print("load average \(loadAverage())")
        print("encoder \(path) on maps 0-\(limit - 1) of \(root); exemplars: photos \(limit)-\(limit + poolSize - 1) (farthest wall hue); wall=EXEMPLAR, blend from \(blendRes)²")
        print("(object hue over the maps with object pixels left after a 1-pixel erosion: \(objectMaps) of \(limit))")
        print("| rows | wall hue dist. to exemplar: plain → styled | object hue change | PSNR outside the wall vs plain | ms per render (median) |")
        print("|---|---|---|---|---|")
        for (name, _, _) in layerSets {
            let row = rows[name]!
            print(String(format: "| %@ | %.3f → %.3f | %.3f (max %.3f) | %.1f dB (min %.1f) | %.1f |", name, mean(row.before), mean(row.after),
                         mean(row.object), row.object.max() ?? .nan, mean(row.outside), row.outside.min() ?? .nan, median(row.ms)))
        }
    } catch { print("region-style: \(error)") }
}


/// `mask` (row-major `[r·r]`) eroded by `by` pixels (4-neighbour steps), so a measurement avoids
/// the region's blurred boundary.
private func erode(_ mask: [Bool], r: Int, by steps: Int) -> [Bool] {
    var m = mask
    for _ in 0..<steps {
        m = (0 ..< r * r).map { q in
            let (y, x) = (q / r, q % r)
            return m[q] && [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)].allSatisfy { $0.0 >= 0 && $0.0 < r && $0.1 >= 0 && $0.1 < r && m[$0.0 * r + $0.1] }
        }
    }
    return m
}
