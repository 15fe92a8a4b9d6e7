import ArgumentParser
import Foundation
import LatentTensor
import LatentModels
import LatentEditing

/// `latentlab directions`: discover, list and show latent-direction files.
struct Directions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The latent-direction library: discover (SeFa, GANSpace, InterFaceGAN), list, show, verify.",
        subcommands: [Discover.self, List.self, Show.self, Verify.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List direction files in a folder (default Latents/).")
        @Argument(help: "Folder.") var folder: String = "Latents"

        func run() throws {
            let files = (try FileManager.default.contentsOfDirectory(atPath: folder)).filter { $0.hasSuffix(".safetensors") }.sorted()
            guard !files.isEmpty else { print("no direction files in \(folder)"); return }
            for f in files {
                do {
                    let s = try DirectionSet.load(path: folder + "/" + f)
                    let names = s.names.prefix(6).joined(separator: ", ") + (s.count > 6 ? ", …" : "")
                    let acc = s.heldOutAccuracy.map { ", held-out accuracy " + $0.map { String(format: "%.3f", $0) }.joined(separator: "/") } ?? ""
                    print("\(f): \(s.method), \(s.count) direction\(s.count == 1 ? "" : "s") [\(names)], ws \(s.layersText)\(acc), generator \(s.generatorFingerprint)")
                } catch {
                    printError("\(f): \(oneLine(error))")
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one direction file: provenance and every direction.")
        @Argument(help: "Direction file.") var file: String

        func run() throws {
            let s = try DirectionSet.load(path: file)
            print("method: \(s.method)\ngenerator: \(s.generatorFingerprint)\nspace: w\nws rows: \(s.layersText)\nwDim: \(s.wDim)")
            for (k, v) in s.info.sorted(by: { $0.key < $1.key }) { print("\(k): \(v)") }
            let meaning = s.info["scale_meaning"] ?? "scale"
            for (i, name) in s.names.enumerated() {
                print(String(format: "%3d  %-24@ %@ %.5g", i, name as NSString, meaning as NSString, s.scales[i]))
            }
        }
    }

    struct Discover: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find directions for a generator and write them to a file with provenance.",
            discussion: """
            sefa: eigenvectors of the concatenated, column-normalised style (affine) weights of --layers (ToRGB excluded \
            unless --include-torgb); no sampling.
            ganspace: principal components of W from --samples mapped z (RandomState(--seed).randn(samples, zDim)).
            interfacegan: a logistic-regression hyperplane in W from labelled samples, held-out accuracy reported. \
            Labels from --labels CSV (rows seed,label; label 0/1; z = RandomState(seed).randn(1, zDim)), or from CLIP \
            zero-shot prompts: --positive TEXT --negative TEXT (each repeatable: prompts are ensembled) score --samples \
            images of seeds --seed ..< --seed + samples (const noise); label = positive when the image is closer to the \
            positive prompts (--split zero), or when its score is above the median (--split median, for a biased \
            predictor); the most confident --confident-fraction of each side is kept.
              --condition FILE[:name] (repeatable) projects those directions out (conditional editing).
            Results are reproducible from --seed; provenance is stored in the file's metadata.
            """)
        @OptionGroup var net: NetworkOptions
        @Option(help: "sefa | ganspace | interfacegan.") var method: String
        @Option(help: "ws rows a-b the directions apply to by default (and SeFa factorises). Default: all.") var layers: String?
        @Option(help: "Number of directions (sefa, ganspace).") var count: Int = 10
        @Option(help: "z samples (ganspace default 10000; interfacegan with prompts default 4000).") var samples: Int?
        @Option(help: "Seed (sampling; the held-out split).") var seed: Int = 0
        @Flag(name: .customLong("include-torgb"), help: "SeFa: include ToRGB affines.") var includeToRGB = false
        @Option(help: "interfacegan: CSV of seed,label rows.") var labels: String?
        @Option(help: "interfacegan: CLIP prompt of the positive side (repeatable).") var positive: [String] = []
        @Option(help: "interfacegan: CLIP prompt of the negative side (repeatable).") var negative: [String] = []
        @Option(name: .customLong("confident-fraction"), help: "interfacegan with prompts: share of each side kept, most confident first.")
        var confidentFraction: Double = 0.5
        @Option(help: "interfacegan with prompts: zero (label = closer prompt) or median (label = upper half of the scores).")
        var split: String = "zero"
        @Option(name: .customLong("held-out"), help: "interfacegan: share of the labelled samples held out to measure accuracy.")
        var heldOut: Double = 0.3
        @Option(help: "interfacegan: ridge weight of the logistic regression (on raw W; a strong ridge leans the normal towards the class-mean difference).")
        var l2: Double = 0.1
        @Flag(help: "interfacegan: standardise W coordinates before the fit (most discriminative normal; may edit little).")
        var standardize: Bool = false
        @Option(help: "interfacegan: project out this direction, FILE[:name|index] (repeatable).") var condition: [String] = []
        @Option(help: "interfacegan with prompts: images generated and scored together.") var batch: Int = 16
        @Option(name: .customLong("labels-out"), help: "interfacegan with prompts: write seed,score,label,kept rows here.")
        var labelsOut: String?
        @Option(help: "interfacegan: name of the direction.") var name: String = "attribute"
        @Option(help: "Output .safetensors (e.g. Latents/NAME.safetensors).") var out: String

        func validate() throws {
            guard ["sefa", "ganspace", "interfacegan"].contains(method) else { throw ValidationError("--method must be sefa, ganspace or interfacegan") }
            guard count >= 1 else { throw ValidationError("--count must be >= 1") }
            guard seed >= 0 && seed <= Int(UInt32.max) else { throw ValidationError("--seed must be in 0...4294967295") }
            if let s = samples, s < 2 { throw ValidationError("--samples must be >= 2") }
            guard confidentFraction > 0 && confidentFraction <= 1 else { throw ValidationError("--confident-fraction must be in (0, 1]") }
            guard ["zero", "median"].contains(split) else { throw ValidationError("--split must be zero or median") }
            guard heldOut >= 0 && heldOut < 1 else { throw ValidationError("--held-out must be in [0, 1)") }
            guard l2 > 0 && l2.isFinite else { throw ValidationError("--l2 must be positive") }
            guard batch >= 1 else { throw ValidationError("--batch must be >= 1") }
            if method == "interfacegan" {
                let prompts = !positive.isEmpty || !negative.isEmpty
                guard (labels != nil) != prompts else {
                    throw ValidationError("interfacegan needs either --labels CSV or --positive TEXT --negative TEXT")
                }
                if prompts && (positive.isEmpty || negative.isEmpty) { throw ValidationError("give both --positive and --negative") }
            } else if labels != nil || !positive.isEmpty || !negative.isEmpty || !condition.isEmpty {
                throw ValidationError("--labels, --positive, --negative and --condition apply to --method interfacegan only")
            }
        }

        func run() throws {
            let G = try net.loadGenerator()
            let range = try layers.map { try parseWsRange($0, numWs: G.numWs) } ?? 0 ..< G.numWs
            var set: DirectionSet
            switch method {
            case "sefa":
                let (dirs, values) = try sefaDirections(generator: G, layers: range, includeToRGB: includeToRGB, count: count)
                set = DirectionSet(names: (0..<dirs.shape[0]).map { "sefa\($0)" }, directions: dirs, scales: values.map(Float.init),
                                   method: "sefa", generatorFingerprint: G.fingerprint, layers: range,
                                   info: ["scale_meaning": "eigenvalue", "include_torgb": "\(includeToRGB)", "network": net.networkName])
            case "ganspace":
                let n = samples ?? 10_000
                let bar = ProgressBar(total: n, label: "sampling")
                let (dirs, stds, mean) = try ganspaceDirections(generator: G, samples: n, seed: UInt32(seed), count: count) { d, _ in bar.update(d) }
                set = DirectionSet(names: (0..<dirs.shape[0]).map { "pc\($0)" }, directions: dirs, scales: stds.map(Float.init), mean: mean,
                                   method: "ganspace", generatorFingerprint: G.fingerprint, layers: range,
                                   info: ["scale_meaning": "sigma", "samples": "\(n)", "seed": "\(seed)", "network": net.networkName])
            default:
                set = try discoverInterFaceGAN(G, range: range)
            }
            try set.save(to: out)
            print("wrote \(out): \(set.method), \(set.count) directions, ws \(set.layersText)")
        }

        func discoverInterFaceGAN(_ G: StyleGAN2Generator, range: Range<Int>) throws -> DirectionSet {
            var info: [String: String] = ["seed": "\(seed)", "network": net.networkName, "held_out_fraction": "\(heldOut)", "l2": "\(l2)"]
            let latents: Tensor, labelValues: [Bool]
            if let labels {
                let (seeds, values) = try readSeedLabels(path: labels)
                latents = mapFirstRows(generator: G, z: zFromSeeds(seeds, zDim: G.zDim))
                labelValues = values
                info["label_source"] = "csv:\(URL(fileURLWithPath: labels).lastPathComponent)"
                info["samples"] = "\(seeds.count)"
            } else {
                let n = samples ?? 4000
                let classifier = try ZeroShotClassifier(clip: CLIPModel.loadDefault(), tokenizer: CLIPTokenizer.loadDefault(),
                                                        positive: positive, negative: negative)
                let seeds = (0..<n).map { UInt32(truncatingIfNeeded: seed + $0) }
                let bar = ProgressBar(total: n, label: "generating + CLIP")
                let scored = try scoreSamples(generator: G, classifier: classifier, seeds: seeds, batchSize: batch) { d, _ in bar.update(d) }
                let threshold = split == "median" ? medianScore(scored.scores) : 0
                let (kept, keptLabels) = try selectConfident(scores: scored.scores, fraction: confidentFraction, threshold: threshold)
                latents = Tensor.concatenate(kept.map { scored.w.slice($0 ..< $0 + 1) })
                labelValues = keptLabels
                let positives = scored.scores.filter { $0 > 0 }.count
                print(String(format: "CLIP labels: %d of %d samples closer to the positive prompt; split at %.4f; kept %d + %d (most confident %.0f%% of each side)",
                             positives, n, threshold, keptLabels.filter { $0 }.count, keptLabels.filter { !$0 }.count, confidentFraction * 100))
                if let labelsOut { try writeScoredLabels(scored, threshold: threshold, kept: Set(kept), to: labelsOut) }
                func json(_ a: [String]) -> String { (try? JSONEncoder().encode(a)).map { String(decoding: $0, as: UTF8.self) } ?? "[]" }
                info["label_source"] = "clip-zero-shot:default"
                info["positive"] = json(positive); info["negative"] = json(negative)
                info["confident_fraction"] = "\(confidentFraction)"
                info["split"] = split == "median" ? "median (\(threshold))" : "zero"
                info["samples"] = "\(n)"; info["labelled_samples"] = "\(labelValues.count)"
                info["positive_share"] = String(format: "%.4f", Double(positives) / Double(n))
            }
            var conditions: [Tensor] = []
            for ref in condition {
                let (file, entry) = parseDirectionReference(ref)
                let other = try DirectionSet.load(path: file)
                guard other.wDim == G.wDim else { throw CommandFailure("\(file): wDim \(other.wDim), generator \(G.wDim)") }
                conditions.append(other.direction(try entry.map { try other.index(of: $0) } ?? 0))
            }
            let r = try interfaceganDirection(latents: latents, labels: labelValues, conditions: conditions,
                                              heldOutFraction: heldOut, l2: l2, standardize: standardize, seed: UInt64(seed))
            info["standardize"] = "\(standardize)"
            info["scale_meaning"] = "held-out accuracy"
            info["held_out_accuracy"] = "[\(r.heldOutAccuracy)]"
            info["train_accuracy"] = "[\(r.trainAccuracy)]"
            info["held_out_count"] = "\(r.boundary.heldOutCount)"
            info["bias"] = "\(r.boundary.bias)"
            info["solver_iterations"] = "\(r.boundary.iterations)"
            // Spread of the latents along the direction: strengths of ~2σ move a typical sample across the boundary.
            let proj = matmul(latents, r.direction.reshaped([G.wDim, 1])).doubles
            let mean = proj.reduce(0, +) / Double(proj.count)
            info["projection_std"] = String(format: "%.4f", (proj.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(proj.count)).squareRoot())
            if !conditions.isEmpty {
                let encoder = JSONEncoder()
                encoder.outputFormatting = .withoutEscapingSlashes
                info["conditioned_on"] = String(decoding: try encoder.encode(condition), as: UTF8.self)
                info["unconditioned_held_out_accuracy"] = "\(r.boundary.heldOutAccuracy)"
            }
            print(String(format: "%@: held-out accuracy %.3f (%d samples), train %.3f%@", name, r.heldOutAccuracy, r.boundary.heldOutCount,
                         r.trainAccuracy, conditions.isEmpty ? "" : String(format: " (unconditioned %.3f)", r.boundary.heldOutAccuracy)))
            return DirectionSet(names: [name], directions: r.direction.reshaped([1, G.wDim]), scales: [Float(r.heldOutAccuracy)],
                                method: "interfacegan", generatorFingerprint: G.fingerprint, layers: range, info: info)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure what named directions do (CLIP zero-shot + pixel statistics); see Bench/directions.md.",
            discussion: "Arguments are passed to runDirectionsVerification; run `latentlab directions verify help` for its modes.")
        @Argument(parsing: .allUnrecognized, help: "Mode and options.") var arguments: [String] = []

        func run() throws {
            if !runDirectionsVerification(arguments: arguments) { throw ExitCode(1) }
        }
    }
}

/// Writes CLIP-labelled samples as `seed,label,score,kept` rows (a valid `--labels` CSV).
func writeScoredLabels(_ s: ScoredSamples, threshold: Double, kept: Set<Int>, to path: String) throws {
    var text = "seed,label,score,kept\n"
    for i in s.seeds.indices {
        text += "\(s.seeds[i]),\(s.scores[i] > threshold ? 1 : 0),\(String(format: "%.6f", s.scores[i])),\(kept.contains(i) ? 1 : 0)\n"
    }
    try writeAtomically(Data(text.utf8), to: path)
}

/// Reads `seed,label` rows (a header line is allowed; label 0/1 or false/true; extra columns ignored).
func readSeedLabels(path: String) throws -> ([UInt32], [Bool]) {
    guard let text = String(data: try readInputFile(path: path, maxBytes: InputFileLimit.text), encoding: .utf8) else { throw CommandFailure("\(path): not UTF-8 text") }
    var seeds: [UInt32] = [], labels: [Bool] = []
    for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
        let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard f.count >= 2 else { throw CommandFailure("\(path):\(i + 1): expected seed,label") }
        guard let s = UInt32(f[0]) else {
            if i == 0 { continue }   // header
            throw CommandFailure("\(path):\(i + 1): bad seed '\(f[0])'")
        }
        switch f[1].lowercased() {
        case "1", "true", "yes": labels.append(true)
        case "0", "false", "no": labels.append(false)
        default: throw CommandFailure("\(path):\(i + 1): label must be 0/1, got '\(f[1])'")
        }
        seeds.append(s)
    }
    guard !seeds.isEmpty else { throw CommandFailure("\(path): no seed,label rows") }
    return (seeds, labels)
}
