import Foundation
import LatentTensor
import LatentModels
import LatentCLIP

/// Where InterFaceGAN's labels come from.
public enum InterFaceGANLabels {
    /// Labelled seeds (z = `RandomState(seed).randn(1, zDim)`), e.g. from a `seed,label` CSV; `source` is recorded.
    case seeds([UInt32], [Bool], source: String)
    /// CLIP zero-shot prompts (ensembled) scoring `samples` images of seeds `firstSeed ..< firstSeed + samples`
    /// (const noise); labels split at `split`, the most confident `confidentFraction` of each side kept.
    case prompts(classifier: ZeroShotClassifier, positive: [String], negative: [String], samples: Int, firstSeed: Int,
                 split: LabelSplit, confidentFraction: Double, batchSize: Int)
}

/// An InterFaceGAN discovery: the direction file's contents and what the labelling did.
public struct InterFaceGANDiscovery {
    public var set: DirectionSet
    /// Lines for the user (label balance, held-out accuracy).
    public var report: [String]
    /// CLIP-labelled samples, their split threshold and the kept indices (prompt labels only).
    public var scored: (samples: ScoredSamples, threshold: Double, kept: Set<Int>)?
}

/// InterFaceGAN (Shen et al. 2020) end to end: labelled latents in W (`mapping` at ψ = 1, first
/// row), a logistic-regression boundary with held-out accuracy, optionally conditioned on other
/// directions (projected out), and the provenance stored in the direction file's metadata
/// (label source, prompts, split, accuracies, `projection_std`: the latents' spread along the
/// direction, so strengths of ~2σ move a typical sample across the boundary).
/// - Parameters:
///   - conditions: directions `[wDim]` to project out, with the references they came from.
///   - progress: `(done, total)` samples scored (prompt labels).
public func discoverInterFaceGAN(generator G: StyleGAN2Generator, labels: InterFaceGANLabels,
                                 conditions: [(reference: String, direction: Tensor)] = [],
                                 name: String, layers: Range<Int>, heldOutFraction: Double, l2: Double, standardize: Bool,
                                 seed: Int, networkName: String,
                                 progress: ((Int, Int) -> Void)? = nil) throws -> InterFaceGANDiscovery {
    var info: [String: String] = ["seed": "\(seed)", "network": networkName, "held_out_fraction": "\(heldOutFraction)", "l2": "\(l2)"]
    var report: [String] = []
    var scoredOut: (samples: ScoredSamples, threshold: Double, kept: Set<Int>)? = nil
    let latents: Tensor, labelValues: [Bool]
    switch labels {
    case .seeds(let seeds, let values, let source):
        guard seeds.count == values.count, !seeds.isEmpty else { throw EditingError("interfacegan: \(seeds.count) seeds for \(values.count) labels") }
        latents = mapFirstRows(generator: G, z: zFromSeeds(seeds, zDim: G.zDim))
        labelValues = values
        info["label_source"] = source
        info["samples"] = "\(seeds.count)"
    case .prompts(let classifier, let positive, let negative, let n, let firstSeed, let split, let fraction, let batchSize):
        let seeds = (0..<n).map { UInt32(truncatingIfNeeded: firstSeed + $0) }
        let scored = try scoreSamples(generator: G, classifier: classifier, seeds: seeds, batchSize: batchSize, progress: progress)
        let threshold = split == .median ? medianScore(scored.scores) : 0
        let (kept, keptLabels) = try selectConfident(scores: scored.scores, fraction: fraction, threshold: threshold)
        latents = Tensor.concatenate(kept.map { scored.w.slice($0 ..< $0 + 1) })
        labelValues = keptLabels
        let positives = scored.scores.filter { $0 > 0 }.count
        report.append(String(format: "CLIP labels: %d of %d samples closer to the positive prompt; split at %.4f; kept %d + %d (most confident %.0f%% of each side)",
                             positives, n, threshold, keptLabels.filter { $0 }.count, keptLabels.filter { !$0 }.count, fraction * 100))
        scoredOut = (scored, threshold, Set(kept))
        info["label_source"] = "clip-zero-shot:default"
        info["positive"] = jsonList(positive); info["negative"] = jsonList(negative)
        info["confident_fraction"] = "\(fraction)"
        info["split"] = split == .median ? "median (\(threshold))" : "zero"
        info["samples"] = "\(n)"; info["labelled_samples"] = "\(labelValues.count)"
        info["positive_share"] = String(format: "%.4f", Double(positives) / Double(n))
    }
    let r = try interfaceganDirection(latents: latents, labels: labelValues, conditions: conditions.map(\.direction),
                                      heldOutFraction: heldOutFraction, l2: l2, standardize: standardize, seed: UInt64(seed))
    info["standardize"] = "\(standardize)"
    info["scale_meaning"] = "held-out accuracy"
    info["held_out_accuracy"] = "[\(r.heldOutAccuracy)]"
    info["train_accuracy"] = "[\(r.trainAccuracy)]"
    info["held_out_count"] = "\(r.boundary.heldOutCount)"
    info["bias"] = "\(r.boundary.bias)"
    info["solver_iterations"] = "\(r.boundary.iterations)"
    info["projection_std"] = String(format: "%.4f", projectionStd(latents: latents, direction: r.direction))
    if !conditions.isEmpty {
        info["conditioned_on"] = jsonList(conditions.map(\.reference))
        info["unconditioned_held_out_accuracy"] = "\(r.boundary.heldOutAccuracy)"
    }
    report.append(String(format: "%@: held-out accuracy %.3f (%d samples), train %.3f", name, r.heldOutAccuracy, r.boundary.heldOutCount, r.trainAccuracy)
                  + (conditions.isEmpty ? "" : String(format: " (unconditioned %.3f)", r.boundary.heldOutAccuracy)))
    let set = DirectionSet(names: [name], directions: r.direction.reshaped([1, G.wDim]), scales: [Float(r.heldOutAccuracy)],
                           method: "interfacegan", generatorFingerprint: G.fingerprint, layers: layers, info: info)
    return InterFaceGANDiscovery(set: set, report: report, scored: scoredOut)
}

/// Parses `seed,label` rows (a header line is allowed; label 0/1, false/true or no/yes; extra
/// columns ignored), the `--labels` CSV of InterFaceGAN.
/// - Throws: `EditingError` naming `source` and the line.
public func parseSeedLabels(_ text: String, source: String) throws -> (seeds: [UInt32], labels: [Bool]) {
    var seeds: [UInt32] = [], labels: [Bool] = []
    for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
        let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard f.count >= 2 else { throw EditingError("\(source):\(i + 1): expected seed,label") }
        guard let s = UInt32(f[0]) else {
            if i == 0 { continue }   // header
            throw EditingError("\(source):\(i + 1): bad seed '\(f[0].prefix(20))'")
        }
        switch f[1].lowercased() {
        case "1", "true", "yes": labels.append(true)
        case "0", "false", "no": labels.append(false)
        default: throw EditingError("\(source):\(i + 1): label must be 0/1, got '\(f[1].prefix(20))'")
        }
        seeds.append(s)
    }
    guard !seeds.isEmpty else { throw EditingError("\(source): no seed,label rows") }
    return (seeds, labels)
}

/// CLIP-labelled samples as `seed,label,score,kept` rows (a valid `--labels` CSV).
public func scoredLabelsCSV(_ s: ScoredSamples, threshold: Double, kept: Set<Int>) -> String {
    var text = "seed,label,score,kept\n"
    for i in s.seeds.indices {
        text += "\(s.seeds[i]),\(s.scores[i] > threshold ? 1 : 0),\(String(format: "%.6f", s.scores[i])),\(kept.contains(i) ? 1 : 0)\n"
    }
    return text
}

private func jsonList(_ a: [String]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    return (try? encoder.encode(a)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
}
