import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentInversion
import LatentCore
import LatentEditing
import LatentEncoders
import _LatentVerification

/// Finds the generator's colour channels in StyleSpace: the modulation-style channels whose
/// exemplar value moves the regions' colours towards the exemplar's without moving the geometry.
///
/// On training scenes (a paired folder: photos + seg maps, the ground-truth regions), each
/// scene is inverted (W+ with noise, as `invert`) and paired with the next as its exemplar. For
/// every channel of every layer alone, the exemplar's style value is taken and the result scored:
/// - colour gain: how much closer the mean colours of the wall, floor and object regions (seg of
///   the base photo) get to the exemplar's own region colours (RGB distance on [0, 1]);
/// - geometry cost: the RMS change left after removing a constant colour shift per region
///   (what a pure recolouring cannot explain: moved edges, reshaped objects).
/// Channels are ranked (by gain / cost and by gain − λ·cost, λ = 0.5, 1, 2, with the regions'
/// gains summed equally or the object's counted three times); prefixes of each
/// ranking are measured with the scene estimators (hue distance to the exemplar's object and
/// wall hue, object centroid-x and height change) on the same training pairs, and the set
/// written is the prefix with the largest mean hue-distance reduction whose mean layout change
/// stays ≤ `--layout`. The test scenes never enter the choice (`mask-exemplar --channels FILE`
/// measures the set there).
///
/// Arguments: `--pairs DIR` (default ../shared/paired/scenes/train), `--count K` (scenes, 48),
/// `--steps N` (projector steps, 200), `--layout T` (0.03), `--out FILE` (the set, a
/// `StyleChannelSet` JSON, default colour-channels.json; its `-record.json` holds every prefix's
/// figures), `--cache DIR` (inversions and the per-channel scan, default next to `--out`),
/// `--control 1` (only the estimators' reading of a pure regional recolouring).
func runStyleChannelsBench(arguments: [String]) {
    runWithOptions("style-channels", arguments, styleChannelsBench)
}

/// Region means `[regions][3]` of `image` `[3, R, R]` (values mapped to [0, 1]) over `labels`.
private func regionMeans(_ image: Tensor, labels: [Int], regions: Int) -> [[Double]] {
    let hw = labels.count
    var sums = [[Double]](repeating: [0, 0, 0], count: regions), counts = [Double](repeating: 0, count: regions)
    for q in 0..<hw where labels[q] >= 0 && labels[q] < regions {
        for c in 0..<3 { sums[labels[q]][c] += (Double(image.storage[c * hw + q]) + 1) / 2 }
        counts[labels[q]] += 1
    }
    return (0..<regions).map { r in sums[r].map { counts[r] > 0 ? $0 / counts[r] : .nan } }
}

private func distance(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() }

private func styleChannelsBench(_ opts: [String: String]) throws {
    let root = opts["pairs"] ?? "../shared/paired/scenes/train"
    let count = Int(opts["count"] ?? "48")!, steps = Int(opts["steps"] ?? "200")!
    let layoutLimit = Double(opts["layout"] ?? "0.03")!
    let outPath = opts["out"] ?? "colour-channels.json"
    let cacheDir = opts["cache"] ?? ((outPath as NSString).deletingLastPathComponent.isEmpty ? "." : (outPath as NSString).deletingLastPathComponent)
    let G = try StyleGAN2Generator.loadDefault()
    let r = G.resolution, hw = r * r
    let names = try FileManager.default.contentsOfDirectory(atPath: root + "/photo").filter { $0.hasSuffix(".png") }.sorted().prefix(count)
    let photos = Tensor.concatenate(try names.map { let t = try loadImage(path: root + "/photo/" + $0).tensor; return t.reshaped([1] + t.shape) })
    // Regions: 0 wall, 1 floor, 2 object (seg classes 3…6); shadow (2) is left out of the
    // colour means but counts as its own region for the geometry residual (label 3).
    let labels: [[Int]] = try names.map { name in
        let ids = try loadGuidanceMap(path: root + "/seg/" + name, kind: .seg, classes: 7, resolution: r).classIds!
        return ids.map { $0 == 0 ? 0 : $0 == 1 ? 1 : $0 == 2 ? 3 : 2 }
    }
    let n = names.count

    // Inversions (cached).
    var options = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: steps, initialLearningRate: ProjectorOptions.defaultInitialLearningRate,
                                                                   regularizeNoiseWeight: 1e5))
    options.seed = 0
    let (ws, noise, _) = try projectInBatches(generator: G, targets: photos, options: options, cache: cacheDir + "/style-channels-\(n)-\(steps).npz")
    let exemplarOf = (0..<n).map { ($0 + 1) % n }
    let exWs = Tensor.concatenate(exemplarOf.map { ws.slice($0 ..< $0 + 1) })
    let before = G.synthesis(ws: ws, noise: noise)
    let baseMeans = (0..<n).map { regionMeans(before.row($0), labels: labels[$0], regions: 4) }
    // The exemplar's region colours: its own reconstruction over its own seg.
    let exMeans = exemplarOf.map { baseMeans[$0] }
    let targets = G.styles(ws: exWs)

    /// Colour gain per region (wall, floor, object) and geometry cost of `after` against
    /// `before`, averaged over the pairs.
    func score(_ after: Tensor) -> (gains: [Double], cost: Double) {
        var gains = [0.0, 0.0, 0.0], cost = 0.0
        for k in 0..<n {
            let a = after.row(k), b = before.row(k)
            let am = regionMeans(a, labels: labels[k], regions: 4)
            for reg in 0..<3 where !baseMeans[k][reg][0].isNaN && !exMeans[k][reg][0].isNaN {
                gains[reg] += distance(baseMeans[k][reg], exMeans[k][reg]) - distance(am[reg], exMeans[k][reg])
            }
            var res = 0.0
            for q in 0..<hw {
                let reg = labels[k][q]
                for c in 0..<3 {
                    let d = (Double(a.storage[c * hw + q]) - Double(b.storage[c * hw + q])) / 2 - (am[reg][c] - baseMeans[k][reg][c])
                    res += d * d
                }
            }
            cost += (res / Double(3 * hw)).squareRoot()
        }
        return (gains.map { $0 / Double(n) }, cost / Double(n))
    }

    // The estimators' figures of a set of results on the training pairs (regions from the seg maps).
    let measure = ExemplarTransferMeasure(before: (0..<n).map { before.row($0) }, exemplarOf: exemplarOf,
                                          objectPixels: labels.map { $0.map { $0 == 2 } }, wallPixels: labels.map { $0.map { $0 == 0 } })
    func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(n) }
    do {
        // Control: a pure recolouring (each region shifted by the exemplar's region mean minus its
        // own), geometry untouched by construction: what the estimators read as layout change.
        let recoloured = (0..<n).map { k -> Tensor in
            var a = before.row(k)
            for q in 0..<hw { let reg = labels[k][q]; guard reg < 3 else { continue }
                for c in 0..<3 where !exMeans[k][reg][c].isNaN { a.storage[c * hw + q] += Float(2 * (exMeans[k][reg][c] - baseMeans[k][reg][c])) } }
            return a
        }
        let f = measure.measure(after: recoloured)
        print(String(format: "control (pure regional recolouring): object hue %.3f → %.3f; estimator centroid x change %.3f, height %.3f",
                     f.objectBefore, f.objectAfter, mean(f.centroidXChange), mean(f.heightChange)))
    }
    if opts["control"] != nil { return }
    // Every channel alone (cached next to the inversions: the scan is the slow part).
    let scanCache = cacheDir + "/style-channels-scan-\(n)-\(steps).json"
    var scored: [(layer: String, channel: Int, gains: [Double], cost: Double)] = []
    if let data = FileManager.default.contents(atPath: scanCache),
       let rows = try JSONSerialization.jsonObject(with: data) as? [[String: Any]], rows.first?["gains"] != nil {
        scored = rows.map { ($0["layer"] as! String, ($0["channel"] as! NSNumber).intValue, ($0["gains"] as! [NSNumber]).map(\.doubleValue),
                             ($0["cost"] as! NSNumber).doubleValue) }
        print("read \(scanCache)")
    } else {
        let start = Date()
        for layer in G.styleLayers {
            for c in 0..<layer.channels {
                let edit = StyleSpaceEdit(targets: targets, channels: [layer.name: [c]])
                let s = score(G.synthesis(ws: ws, noise: noise, styleEdit: edit))
                scored.append((layer.name, c, s.gains, s.cost))
            }
            print(String(format: "  %@: %d channels scored (%.0f s)", layer.name, layer.channels, Date().timeIntervalSince(start)))
        }
        let rows: [[String: Any]] = scored.map { ["layer": $0.layer, "channel": $0.channel, "gains": $0.gains, "cost": $0.cost] }
        try writeAtomically(try JSONSerialization.data(withJSONObject: rows), to: scanCache)
    }
    print("channels with a positive colour gain: \(scored.filter { $0.gains.reduce(0, +) > 0 }.count) of \(scored.count)")

    // Rankings: gain / cost, and gain − λ·cost; each prefix measured on the training pairs with
    // the estimators; the chosen set = the largest hue-distance reduction (object and wall,
    // averaged) among the prefixes whose mean centroid-x and height change stay ≤ --layout.
    // Region weights of the gain: equal, or the object three times (it is the smallest region
    // and the one whose colour the wall and floor channels do not move).
    var rankings: [(String, ([Double], Double) -> Double)] = []
    for (tag, weights) in [("", [1.0, 1, 1]), ("object ×3, ", [1.0, 1, 3])] {
        func gain(_ g: [Double]) -> Double { zip(g, weights).reduce(0) { $0 + $1.0 * $1.1 } }
        rankings.append(("\(tag)gain/cost", { g, c in gain(g) > 0 ? gain(g) / max(c, 1e-6) : -.infinity }))
        for l in [0.5, 1, 2] { rankings.append(("\(tag)gain − \(l)·cost", { g, c in gain(g) > 0 ? gain(g) - l * c : -.infinity })) }
    }
    var best: (label: String, count: Int, reduction: Double, channels: [String: [Int]], row: [String: RecordValue])? = nil
    var table: [RecordValue] = []
    for (label, key) in rankings {
        let ranked = scored.filter { key($0.gains, $0.cost) > -.infinity }.sorted { key($0.gains, $0.cost) > key($1.gains, $1.cost) }
        for m in [8, 16, 24, 32, 48, 64, 96, 128, 192, 256] where m <= ranked.count {
            var channels = [String: [Int]]()
            for e in ranked.prefix(m) { channels[e.layer, default: []].append(e.channel) }
            let after = G.synthesis(ws: ws, noise: noise, styleEdit: StyleSpaceEdit(targets: targets, channels: channels))
            let fig = measure.measure(after: (0..<n).map { after.row($0) })
            let (ob, oa, wb, wa) = (fig.objectBefore, fig.objectAfter, fig.wallBefore, fig.wallAfter)
            let (dx, dh) = (mean(fig.centroidXChange), mean(fig.heightChange))
            let reduction = fig.hueReduction
            print(String(format: "%@, top %3d: object hue distance %.3f → %.3f, wall %.3f → %.3f; centroid x change %.3f, height %.3f",
                         label, m, ob, oa, wb, wa, dx, dh))
            let row: [String: RecordValue] = ["ranking": .string(label), "channels": .int(m), "object_hue_before": .double(ob),
                                              "object_hue_after": .double(oa), "wall_hue_before": .double(wb),
                                              "wall_hue_after": .double(wa), "centroid_x_change": .double(dx),
                                              "height_change": .double(dh)]
            table.append(.object(row))
            if max(dx, dh) <= layoutLimit, reduction > (best?.reduction ?? 0) {
                best = (label, m, reduction, channels, row)
            }
        }
    }
    guard let best else { throw EditingError("no prefix of any ranking keeps the layout within \(layoutLimit)") }
    func figure(_ k: String) -> String { if case .double(let v)? = best.row[k] { return String(format: "%.3f", v) }; return "?" }
    print("chosen: \(best.label), top \(best.count)")
    let set = StyleChannelSet(
        name: "colour", generatorFingerprint: G.fingerprint, channels: best.channels,
        provenance: ["method": "StyleSpace channels ranked by \(best.label) of single-channel exemplar swaps on \(n) inverted training scenes (each with the next as exemplar; gain = region colours (seg maps) closer to the exemplar's, cost = RMS change left after a constant colour shift per region), top \(best.count) = the prefix of the rankings tried with the largest mean hue-distance reduction whose mean object centroid-x and height change stay ≤ \(layoutLimit)",
                     "data": "\(root): first \(n) photos, W+ \(steps)-step inversions",
                     "training_figures": "object hue distance \(figure("object_hue_before")) → \(figure("object_hue_after")), wall \(figure("wall_hue_before")) → \(figure("wall_hue_after")), centroid x change \(figure("centroid_x_change")), height \(figure("height_change"))",
                     "command": "LatentBench style-channels --pairs \(root) --count \(count) --steps \(steps) --layout \(layoutLimit) --out FILE"])
    try set.write(to: outPath)
    try RunRecord(command: "LatentBench style-channels", ["prefixes": .array(table), "chosen_ranking": .string(best.label),
                                                          "chosen_count": .int(best.count)])
        .write(to: (outPath as NSString).deletingPathExtension + "-record.json")
    print("wrote \(outPath)")
}
