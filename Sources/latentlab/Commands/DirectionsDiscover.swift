import ArgumentParser
import Foundation
import LatentTensor
import LatentModels
import LatentCLIP
import LatentCore
import LatentEditing

extension Directions {
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
            regression: continuous attributes of latents, e.g. factors measured on inverted real images. --labels CSV has \
            a header 'latent,A,B,…' and one row per latent (a latent.npz or its folder under --latents DIR), or 'seed,A,B,…' \
            (each seed's mapped z, ψ = 1); each attribute is ridge-regressed on the mean of the latent's --layers rows (ridge \
            chosen on --held-out samples), and each direction changes its attribute while holding every other column fixed \
            (the joint fit's smallest move, in the latents' covariance norm unless --metric euclidean; choose the held columns \
            with --attributes). The file keeps the readout, so recipe steps can set an attribute ("target") or change it by an \
            amount ("change").
            Results are reproducible from --seed; provenance is stored in the file's metadata.
            """)
        @OptionGroup var net: NetworkOptions
        @Option(help: "sefa | ganspace | interfacegan | regression.") var method: DiscoveryMethod
        @Option(help: "ws rows a-b the directions apply to by default (and SeFa factorises). Default: all.") var layers: String?
        @Option(help: "Number of directions (sefa, ganspace).") var count: Int = 10
        @Option(help: "z samples (ganspace default 10000; interfacegan with prompts default 4000).") var samples: Int?
        @Option(help: "Seed (sampling; the held-out split).") var seed: Int = 0
        @Flag(name: .customLong("include-torgb"), help: "SeFa: include ToRGB affines.") var includeToRGB = false
        @Option(help: "interfacegan: CSV of seed,label rows; regression: CSV with a header latent,A,B,… (see above).") var labels: String?
        @Option(help: "regression: folder the CSV's latent paths are relative to.") var latents: String?
        @Option(help: "regression: covariance (the smallest move in the latents' own metric, which the generator renders; default) or euclidean.")
        var metric: RegressionMetric = .covariance
        @Option(help: "regression: attribute columns to fit, comma-separated (default: all); each direction holds the others.")
        var attributes: String?
        @Option(help: "interfacegan: CLIP prompt of the positive side (repeatable).") var positive: [String] = []
        @Option(help: "interfacegan: CLIP prompt of the negative side (repeatable).") var negative: [String] = []
        @Option(name: .customLong("confident-fraction"), help: "interfacegan with prompts: share of each side kept, most confident first.")
        var confidentFraction: Double = 0.5
        @Option(help: "interfacegan with prompts: zero (label = closer prompt) or median (label = upper half of the scores).")
        var split: LabelSplit = .zero
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
            guard count >= 1 else { throw ValidationError("--count must be >= 1") }
            guard seed >= 0 && seed <= Int(UInt32.max) else { throw ValidationError("--seed must be in 0...4294967295") }
            if let s = samples, s < 2 { throw ValidationError("--samples must be >= 2") }
            guard confidentFraction > 0 && confidentFraction <= 1 else { throw ValidationError("--confident-fraction must be in (0, 1]") }
            guard heldOut >= 0 && heldOut < 1 else { throw ValidationError("--held-out must be in [0, 1)") }
            guard l2 > 0 && l2.isFinite else { throw ValidationError("--l2 must be positive") }
            guard batch >= 1 else { throw ValidationError("--batch must be >= 1") }
            if method == .interfacegan {
                let prompts = !positive.isEmpty || !negative.isEmpty
                guard (labels != nil) != prompts else {
                    throw ValidationError("interfacegan needs either --labels CSV or --positive TEXT --negative TEXT")
                }
                if prompts && (positive.isEmpty || negative.isEmpty) { throw ValidationError("give both --positive and --negative") }
            } else if method == .regression {
                guard labels != nil else { throw ValidationError("regression needs --labels CSV (and --latents DIR when it names latents)") }
                guard heldOut > 0 else { throw ValidationError("regression: --held-out must be > 0 (it chooses the ridge weight)") }
                guard positive.isEmpty, negative.isEmpty, condition.isEmpty else {
                    throw ValidationError("--positive, --negative and --condition apply to --method interfacegan only")
                }
            } else if labels != nil || !positive.isEmpty || !negative.isEmpty || !condition.isEmpty {
                throw ValidationError("--labels, --positive, --negative and --condition apply to --method interfacegan only")
            }
            if method != .regression && (latents != nil || attributes != nil) {
                throw ValidationError("--latents and --attributes apply to --method regression only")
            }
        }

        func run() throws {
            let G = try net.loadGenerator()
            let range = try layers.map { try parseWsRangeOption($0, numWs: G.numWs, option: "--layers") } ?? 0 ..< G.numWs
            var set: DirectionSet
            switch method {
            case .sefa:
                let (dirs, values) = try sefaDirections(generator: G, layers: range, includeToRGB: includeToRGB, count: count)
                set = DirectionSet(names: (0..<dirs.shape[0]).map { "sefa\($0)" }, directions: dirs, scales: values.map(Float.init),
                                   method: "sefa", generatorFingerprint: G.fingerprint, layers: range,
                                   info: ["scale_meaning": "eigenvalue", "include_torgb": "\(includeToRGB)", "network": net.networkName])
            case .ganspace:
                let n = samples ?? 10_000
                let bar = ProgressBar(total: n, label: "sampling")
                let (dirs, stds, mean) = try ganspaceDirections(generator: G, samples: n, seed: UInt32(seed), count: count) { d, _ in bar.update(d) }
                set = DirectionSet(names: (0..<dirs.shape[0]).map { "pc\($0)" }, directions: dirs, scales: stds.map(Float.init), mean: mean,
                                   method: "ganspace", generatorFingerprint: G.fingerprint, layers: range,
                                   info: ["scale_meaning": "sigma", "samples": "\(n)", "seed": "\(seed)", "network": net.networkName])
            case .interfacegan:
                set = try discoverInterFaceGAN(G, range: range)
            case .regression:
                set = try discoverRegression(G, range: range)
            }
            try set.save(to: out)
            print("wrote \(out): \(set.method), \(set.count) directions, ws \(set.layersText)")
        }

        func discoverRegression(_ G: StyleGAN2Generator, range: Range<Int>) throws -> DirectionSet {
            guard let labels else { throw CommandFailure("regression needs --labels") }
            guard let text = String(data: try readInputFile(path: labels, maxBytes: InputFileLimit.text), encoding: .utf8) else {
                throw CommandFailure("\(labels): not UTF-8 text")
            }
            let keep = attributes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
            let table = try AttributeTable(csv: text, source: labels, keep: keep)
            var rows: [Float] = []
            if let seeds = table.seeds {
                rows = mapFirstRows(generator: G, z: zFromSeeds(seeds, zDim: G.zDim)).storage   // every ws row is this w
            } else if let latents {
                for (i, rel) in table.latents.enumerated() {
                    var path = rel.hasPrefix("/") ? rel : (latents as NSString).appendingPathComponent(rel)
                    var isDir: ObjCBool = false
                    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { path += "/latent.npz" }
                    let file: LatentFile
                    do { file = try LatentFile.read(path: path, generator: G) } catch { throw CommandFailure("\(labels) row \(i + 2): \(error)") }
                    rows += meanWsRows(file.ws(generator: G), layers: range)
                }
            } else {
                throw CommandFailure("\(labels) names latents: give the folder they are in with --latents DIR")
            }
            let fit = try fitRegressionDirections(latents: Tensor(shape: [table.latents.count, G.wDim], data: rows), values: table.values,
                                                  names: table.names, metric: metric, heldOutFraction: heldOut, seed: UInt64(seed))
            for (j, name) in fit.names.enumerated() {
                print(String(format: "%@: held-out R² %.3f (ridge %.0e), train R² %.3f, %.4g per unit strength, samples' spread along it %.2f",
                             name, fit.heldOutR2[j], fit.ridge[j], fit.trainR2[j], fit.unitChange[j], fit.projectionStd[j]))
            }
            return fit.directionSet(generatorFingerprint: G.fingerprint, layers: range,
                                    info: ["samples": "\(table.latents.count)", "seed": "\(seed)", "network": net.networkName,
                                           "held_out_fraction": "\(heldOut)",
                                           "label_source": "csv:\(URL(fileURLWithPath: labels).lastPathComponent)"])
        }

        func discoverInterFaceGAN(_ G: StyleGAN2Generator, range: Range<Int>) throws -> DirectionSet {
            let source: InterFaceGANLabels
            if let labels {
                guard let text = String(data: try readInputFile(path: labels, maxBytes: InputFileLimit.text), encoding: .utf8) else {
                    throw CommandFailure("\(labels): not UTF-8 text")
                }
                let (seeds, values) = try parseSeedLabels(text, source: labels)
                source = .seeds(seeds, values, source: "csv:\(URL(fileURLWithPath: labels).lastPathComponent)")
            } else {
                let classifier = try ZeroShotClassifier(clip: CLIPModel.loadDefault(), tokenizer: CLIPTokenizer.loadDefault(),
                                                        positive: positive, negative: negative)
                source = .prompts(classifier: classifier, positive: positive, negative: negative, samples: samples ?? 4000, firstSeed: seed,
                                  split: split, confidentFraction: confidentFraction, batchSize: batch)
            }
            let conditions = try condition.map { ref -> (reference: String, direction: Tensor) in
                let (other, index, file) = try DirectionLibrary.load(reference: ref)
                guard other.wDim == G.wDim else { throw CommandFailure("\(file): wDim \(other.wDim), generator \(G.wDim)") }
                return (ref, other.direction(index))
            }
            let bar = labels == nil ? ProgressBar(total: samples ?? 4000, label: "generating + CLIP") : nil
            let found = try LatentEditing.discoverInterFaceGAN(generator: G, labels: source, conditions: conditions, name: name, layers: range,
                                                               heldOutFraction: heldOut, l2: l2, standardize: standardize, seed: seed,
                                                               networkName: net.networkName) { d, _ in bar?.update(d) }
            found.report.forEach { print($0) }
            if let labelsOut, let s = found.scored {
                do { try writeAtomically(Data(scoredLabelsCSV(s.samples, threshold: s.threshold, kept: s.kept).utf8), to: labelsOut) } catch {
                    throw CommandFailure(error, context: labelsOut)
                }
            }
            return found.set
        }
    }
}
