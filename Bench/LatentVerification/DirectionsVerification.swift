import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentCLIP
import LatentEditing
import LatentCore

/// Verification of a direction library on the default generator (the figures of
/// `Bench/directions.md`). Modes (arguments after the mode are `--key value`):
///
/// - `labels --attribute A --samples N [--seed S] --out CSV`: ground-truth `seed,label` rows
///   from z (`SceneAttribute.groundTruth`) for `directions discover --labels`.
/// - `agreement [--attribute A|all] [--samples N] [--seed S] [--fraction f] [--positive P --negative Q …]`:
///   how often CLIP zero-shot labels of generated samples agree with the ground truth (all
///   samples and the confident fraction kept for fitting).
/// - `stats --scenes DIR [--inversions DIR]`: checks the measuring tools on the test scenes:
///   CLIP zero-shot accuracy and pixel statistics against `factors.json`, on the images and
///   on their reconstructions.
/// - `layers --direction FILE[:name] --attribute A [--strength s] [--samples N] [--seed S]`:
///   the effect of the direction applied to each ws-row range (to choose the default range).
/// - `scenes --inversions DIR --recipes DIR [--multipliers m,…] [--out DIR]`: applies every
///   recipe's direction to every inverted scene at multiples of its strength and reports the
///   target attribute's change (CLIP and pixels) and the others' (should stay).
/// - `csv-agreement --labels CSV --attribute A`: agreement of a `seed,label[,score,kept]` CSV
///   (e.g. `discover --labels-out`) with the ground truth, over all rows and the kept rows.
/// - `fit-speed --labels CSV [--iterations K]`: times the Newton boundary fit against the
///   gradient-descent reference (K steps, default 2000) on the latents of a `seed,label` CSV.
/// - `help`.
///
/// Returns false (after printing the error) when the arguments or inputs are bad.
@discardableResult
public func runDirectionsVerification(arguments: [String]) -> Bool {
    guard let mode = arguments.first, mode != "help", mode != "--help" else {
        print("modes: labels, agreement, csv-agreement, stats, layers, scenes, fit-speed (see runDirectionsVerification's documentation)")
        return true
    }
    do {
        let args = try VerificationArguments(Array(arguments.dropFirst()))
        let ctx = try VerificationContext(args)
        switch mode {
        case "labels": try ctx.writeGroundTruthLabels()
        case "agreement": try ctx.labelAgreement()
        case "stats": try ctx.checkMeasurements()
        case "layers": try ctx.layerSweep()
        case "scenes": try ctx.verifyOnScenes()
        case "fit-speed": try ctx.fitSpeed()
        case "csv-agreement": try ctx.csvAgreement()
        default: throw EditingError("unknown mode '\(mode)' (labels, agreement, stats, layers, scenes)")
        }
        return true
    } catch {
        FileHandle.standardError.write("LatentBench directions: \(error)\n".data(using: .utf8)!)
        return false
    }
}

/// `--key value` pairs (keys may repeat).
struct VerificationArguments {
    var values: [String: [String]] = [:]
    init(_ args: [String]) throws {
        var i = 0
        while i < args.count {
            guard args[i].hasPrefix("--"), i + 1 < args.count else { throw EditingError("expected --key value, got '\(args[i])'") }
            values[String(args[i].dropFirst(2)), default: []].append(args[i + 1])
            i += 2
        }
    }
    func string(_ k: String) -> String? { values[k]?.last }
    func list(_ k: String) -> [String] { values[k] ?? [] }
    func require(_ k: String) throws -> String {
        guard let v = string(k) else { throw EditingError("missing --\(k)") }
        return v
    }
    func int(_ k: String, _ d: Int) throws -> Int {
        guard let s = string(k) else { return d }
        guard let v = Int(s) else { throw EditingError("--\(k) must be an integer, got '\(s)'") }
        return v
    }
    func double(_ k: String, _ d: Double) throws -> Double {
        guard let s = string(k) else { return d }
        guard let v = Double(s), v.isFinite else { throw EditingError("--\(k) must be a number, got '\(s)'") }
        return v
    }
    func doubles(_ k: String, _ d: [Double]) throws -> [Double] {
        guard let s = string(k) else { return d }
        return try s.split(separator: ",").map {
            guard let v = Double($0.trimmingCharacters(in: .whitespaces)), v.isFinite else { throw EditingError("--\(k): bad number '\($0)'") }
            return v
        }
    }
    func attributes() throws -> [SceneAttribute] {
        let s = string("attribute") ?? "all"
        if s == "all" { return SceneAttribute.allCases }
        guard let a = SceneAttribute(rawValue: s) else {
            throw EditingError("--attribute must be all or one of \(SceneAttribute.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return [a]
    }
}

/// Models and options shared by the modes.
struct VerificationContext {
    let args: VerificationArguments
    let generator: StyleGAN2Generator

    init(_ args: VerificationArguments) throws {
        self.args = args
        generator = try args.string("network").map { try StyleGAN2Generator(path: $0) } ?? StyleGAN2Generator.loadDefault()
        guard generator.zDim >= 9 else { throw EditingError("the scene attributes need zDim >= 9") }
    }

    func probe() throws -> AttributeProbe { try AttributeProbe(clip: CLIPModel.loadDefault(), tokenizer: CLIPTokenizer.loadDefault()) }

    // MARK: labels

    func writeGroundTruthLabels() throws {
        let attrs = try args.attributes()
        guard attrs.count == 1 else { throw EditingError("labels: give one --attribute") }
        let n = try args.int("samples", 10_000), seed = try args.int("seed", 0)
        let out = try args.require("out")
        var text = "seed,label\n", pos = 0, neg = 0
        for s in seed ..< seed + n {
            let z = zFromSeed(UInt32(s), zDim: generator.zDim).storage
            guard let l = attrs[0].groundTruth(z: z) else { continue }
            text += "\(s),\(l ? 1 : 0)\n"
            if l { pos += 1 } else { neg += 1 }
        }
        try writeAtomically(Data(text.utf8), to: out)
        print("\(attrs[0].rawValue): \(pos) \(attrs[0].positiveName) + \(neg) \(attrs[0].negativeName) of \(n) seeds → \(out)")
    }

    // MARK: agreement

    func labelAgreement() throws {
        let n = try args.int("samples", 1000), seed = try args.int("seed", 100_000)
        let fraction = try args.double("fraction", 0.5)
        let clip = try CLIPModel.loadDefault(), tok = try CLIPTokenizer.loadDefault()
        let pct = Int(fraction * 100)
        print("| attribute | prompts (+ / −) | samples | CLIP agrees, split at 0 (all / confident \(pct) %) | split at the median (all / confident \(pct) %) | AUC of the score | CLIP positive share | true positive share | pixel statistic: AUC vs truth |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for a in try args.attributes() {
            let positive = args.list("positive").isEmpty ? a.positivePrompts : args.list("positive")
            let negative = args.list("negative").isEmpty ? a.negativePrompts : args.list("negative")
            let classifier = try ZeroShotClassifier(clip: clip, tokenizer: tok, positive: positive, negative: negative)
            var seeds: [UInt32] = [], truth: [Bool] = []
            var s = seed
            while seeds.count < n {
                if let t = a.groundTruth(z: zFromSeed(UInt32(s), zDim: generator.zDim).storage) { seeds.append(UInt32(s)); truth.append(t) }
                s += 1
            }
            var pixel = [Double](repeating: 0, count: n)
            let scored = try scoreSamples(generator: generator, classifier: classifier, seeds: seeds) { range, images in
                for (k, i) in range.enumerated() { pixel[i] = AttributeProbe.pixelValue(sceneStatistics(image: images.row(k)), a) }
            }
            func agreement(_ threshold: Double) throws -> (Double, Double, Int) {
                let all = zip(scored.scores, truth).filter { ($0.0 > threshold) == $0.1 }.count
                let (kept, labels) = try selectConfident(scores: scored.scores, fraction: fraction, threshold: threshold)
                let keptAgree = zip(kept, labels).filter { truth[$0.0] == $0.1 }.count
                return (Double(all) / Double(n), Double(keptAgree) / Double(kept.count), kept.count)
            }
            let zero = try agreement(0), median = try agreement(medianScore(scored.scores))
            let promptText = positive.count == 1 && negative.count == 1 ? "\"\(positive[0])\" / \"\(negative[0])\"" : "\(positive.count) / \(negative.count) ensembled"
            print(String(format: "| %@ | %@ | %d | %.3f / %.3f | %.3f / %.3f | %.3f | %.3f | %.3f | %.3f |", a.rawValue, promptText, n,
                         zero.0, zero.1, median.0, median.1, areaUnderROC(scores: scored.scores, truth: truth),
                         Double(scored.scores.filter { $0 > 0 }.count) / Double(n), Double(truth.filter { $0 }.count) / Double(n),
                         areaUnderROC(scores: pixel, truth: truth)))
        }
    }

    // MARK: csv-agreement

    func csvAgreement() throws {
        let path = try args.require("labels")
        let attrs = try args.attributes()
        guard attrs.count == 1 else { throw EditingError("csv-agreement: give one --attribute") }
        guard let text = String(data: try readInputFile(path: path, maxBytes: InputFileLimit.text), encoding: .utf8) else { throw EditingError("\(path): not UTF-8 text") }
        var all = (agree: 0, total: 0), kept = (agree: 0, total: 0)
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: ",")
            guard f.count >= 2, let s = UInt32(f[0]) else { continue }
            guard let t = attrs[0].groundTruth(z: zFromSeed(s, zDim: generator.zDim).storage) else { continue }
            let ok = (f[1] == "1") == t
            all.total += 1; if ok { all.agree += 1 }
            if f.count >= 4, f[3] == "1" { kept.total += 1; if ok { kept.agree += 1 } }
        }
        print(String(format: "%@: labels agree with the ground truth on %d/%d rows with a ground-truth class (%.3f); kept rows %d/%d (%.3f)",
                     attrs[0].rawValue, all.agree, all.total, Double(all.agree) / Double(max(all.total, 1)),
                     kept.agree, kept.total, Double(kept.agree) / Double(max(kept.total, 1))))
    }

    // MARK: fit-speed

    func fitSpeed() throws {
        let path = try args.require("labels")
        guard let text = String(data: try readInputFile(path: path, maxBytes: InputFileLimit.text), encoding: .utf8) else { throw EditingError("\(path): not UTF-8 text") }
        var seeds: [UInt32] = [], labels: [Bool] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: ",")
            guard f.count >= 2, let s = UInt32(f[0]) else { continue }
            seeds.append(s); labels.append(f[1] == "1")
        }
        let w = mapFirstRows(generator: generator, z: zFromSeeds(seeds, zDim: generator.zDim))
        let iterations = try args.int("iterations", 2000)
        func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try body()
            return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let (fast, tf) = try timed { try fitLinearBoundary(latents: w, labels: labels) }
        let (ref, tr) = try timed { try fitLinearBoundaryReference(latents: w, labels: labels, iterations: iterations) }
        print(String(format: "%d latents × %d: Newton %.2f s (%d steps, held-out %.4f); gradient descent %.2f s (%d steps, held-out %.4f); cos(normals) = %.6f",
                     seeds.count, generator.wDim, tf, fast.iterations, fast.heldOutAccuracy, tr, ref.iterations, ref.heldOutAccuracy,
                     zip(fast.normal.doubles, ref.normal.doubles).reduce(0) { $0 + $1.0 * $1.1 }))
    }

    // MARK: stats

    func checkMeasurements() throws {
        let dir = try args.require("scenes")
        let probe = try probe()
        let factors = try loadSceneFactors(dir + "/factors.json")
        var images: [(String, Tensor)] = []
        for (name, _) in factors { images.append((name, try loadImage(path: dir + "/" + name).tensor)) }
        var sets = [("test images", images)]
        if let inv = args.string("inversions") {
            var recon: [(String, Tensor)] = []
            for (name, _) in factors {
                let (ws, noise) = try loadInversionLatent(inv + "/" + (name as NSString).deletingPathExtension + "/latent.npz")
                recon.append((name, generator.synthesis(ws: ws, noise: noise).row(0)))
            }
            sets.append(("reconstructions", recon))
        }
        for (label, imgs) in sets {
            let readings = try probe.read(Tensor.concatenate(imgs.map { $0.1.reshaped([1] + $0.1.shape) }))
            print("\n\(label) (\(imgs.count)):")
            print("| attribute | scenes with a class | CLIP zero-shot accuracy | pixel statistic | correlation with the factor | pixel statistic AUC vs class |")
            print("| --- | --- | --- | --- | --- | --- |")
            for a in SceneAttribute.allCases {
                var ok = 0, total = 0
                var xs: [Double] = [], ys: [Double] = [], classed: [Double] = [], truths: [Bool] = []
                for (i, (name, _)) in imgs.enumerated() {
                    let f = factors.first { $0.0 == name }!.1
                    if let t = a.sceneTruth(f) {
                        total += 1
                        if (readings[i].probability[a]! > 0.5) == t { ok += 1 }
                        classed.append(AttributeProbe.pixelValue(readings[i].stats, a)); truths.append(t)
                    }
                    if let v = a.sceneFactorValue(f) { xs.append(AttributeProbe.pixelValue(readings[i].stats, a)); ys.append(v) }
                }
                let auc = areaUnderROC(scores: classed, truth: truths)
                print(String(format: "| %@ | %d | %@ | %@ | %@ | %@ |", a.rawValue, total, total > 0 ? String(format: "%.3f", Double(ok) / Double(total)) : "–",
                             AttributeProbe.pixelName(a), xs.count > 2 ? String(format: "%.3f", pearson(xs, ys)) : "–",
                             auc.isNaN ? "–" : String(format: "%.3f", auc)))
            }
        }
    }

    /// Reads an inversion's `latent.npz`: `w` `[1, numWs, wDim]` and any `noise.<layer>` maps
    /// (const noise elsewhere).
    /// One inverted latent (`LatentFile`): ws `[1, numWs, wDim]` and its noise maps `[1, H, W]` (nil when none are stored).
    func loadInversionLatent(_ path: String) throws -> (Tensor, NoiseMaps?) {
        let file = try LatentFile.read(path: path, generator: generator)
        guard file.count == 1 else { throw EditingError("\(path): holds \(file.count) latents, expected one") }
        return (file.ws(generator: generator), file.renderNoise(generator: generator))
    }
}

/// `factors.json` of the test scenes: file name → factor values (numbers only), sorted by name.
func loadSceneFactors(_ path: String) throws -> [(String, [String: Double])] {
    guard let data = FileManager.default.contents(atPath: path),
          let obj = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
        throw EditingError("\(path): not a factors.json (object of name → factors)")
    }
    return obj.keys.sorted().map { k in (k, obj[k]!.compactMapValues { ($0 as? NSNumber)?.doubleValue }) }
}

extension SceneAttribute {
    /// Ground-truth class of a rendered test scene from its `factors.json` entry (renderer units).
    func sceneTruth(_ f: [String: Double]) -> Bool? {
        switch self {
        case .size: return f["size"].map { $0 > 0.26 }
        case .position: return f["cx"].map { $0 < 0.5 }
        case .shape: return f["shape"].flatMap { $0 == 0 ? true : $0 == 1 ? false : nil }
        case .colour: return f["obj_hue"].flatMap(Self.hueClass)
        case .wall: return f["wall_hue"].flatMap(Self.hueClass)
        }
    }

    /// The factor a pixel statistic should track, signed like `AttributeProbe.pixelValue`.
    func sceneFactorValue(_ f: [String: Double]) -> Double? {
        switch self {
        case .size: return f["size"]
        case .position: return f["cx"].map { 0.5 - $0 }
        case .shape: return nil
        case .colour: return f["obj_hue"].map { cos(2 * .pi * ($0 - 0.985)) - cos(2 * .pi * ($0 - 0.63)) }
        case .wall: return f["wall_hue"].map { cos(2 * .pi * ($0 - 0.985)) - cos(2 * .pi * ($0 - 0.63)) }
        }
    }
}

/// Probability that a random positive scores above a random negative (ties count half).
func areaUnderROC(scores: [Double], truth: [Bool]) -> Double {
    let pos = zip(scores, truth).filter { $0.1 }.map(\.0), neg = zip(scores, truth).filter { !$0.1 }.map(\.0)
    guard !pos.isEmpty, !neg.isEmpty else { return .nan }
    var wins = 0.0
    for p in pos { for q in neg { wins += p > q ? 1 : p == q ? 0.5 : 0 } }
    return wins / Double(pos.count * neg.count)
}

func pearson(_ x: [Double], _ y: [Double]) -> Double {
    let n = Double(x.count)
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
    return sxy / max((sxx * syy).squareRoot(), 1e-300)
}
