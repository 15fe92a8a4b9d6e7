import ArgumentParser
import Foundation
import LatentTensor
import LatentModels
import LatentEditing

/// `latentlab directions`: discover, list and show latent-direction files.
struct Directions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The latent-direction library: discover (SeFa, GANSpace, InterFaceGAN), list, show.",
        subcommands: [Discover.self, List.self, Show.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List direction files in a folder (default Latents/).")
        @Argument(help: "Folder.") var folder: String = "Latents"

        func run() throws {
            let files = (try FileManager.default.contentsOfDirectory(atPath: folder)).filter { $0.hasSuffix(".safetensors") }.sorted()
            guard !files.isEmpty else { print("no direction files in \(folder)"); return }
            for f in files {
                do {
                    let s = try DirectionSet.load(path: folder + "/" + f)
                    print("\(f): \(s.method), \(s.count) directions [\(s.names.prefix(6).joined(separator: ", "))\(s.count > 6 ? ", …" : "")], ws \(s.layers.lowerBound)-\(s.layers.upperBound - 1), generator \(s.generatorFingerprint)")
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
            print("method: \(s.method)\ngenerator: \(s.generatorFingerprint)\nws rows: \(s.layers.lowerBound)-\(s.layers.upperBound - 1)\nwDim: \(s.wDim)")
            for (k, v) in s.info.sorted(by: { $0.key < $1.key }) { print("\(k): \(v)") }
            let meaning = s.info["scale_meaning"] ?? "scale"
            for (i, name) in s.names.enumerated() {
                print(String(format: "%3d  %-24@ %@ %.5g", i, name as NSString, meaning, s.scales[i]))
            }
        }
    }

    struct Discover: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find directions for a generator and write them to a file with provenance.",
            discussion: """
            sefa: eigenvectors of the concatenated style (affine) weights of --layers (ToRGB excluded unless --include-torgb).
            ganspace: principal components of W from --samples mapped z.
            interfacegan: a logistic-regression hyperplane in W from labelled samples: --labels CSV with rows seed,label
            (label 0/1; z = RandomState(seed).randn), held-out accuracy reported.
            Reproducible from --seed.
            """)
        @OptionGroup var net: NetworkOptions
        @Option(help: "sefa | ganspace | interfacegan.") var method: String
        @Option(help: "ws rows a-b the directions apply to (and SeFa factorises).") var layers: String?
        @Option(help: "Number of directions (sefa, ganspace).") var count: Int = 10
        @Option(help: "z samples (ganspace).") var samples: Int = 10_000
        @Option(help: "Seed.") var seed: Int = 0
        @Flag(name: .customLong("include-torgb"), help: "SeFa: include ToRGB affines.") var includeToRGB = false
        @Option(help: "interfacegan: CSV of seed,label rows.") var labels: String?
        @Option(help: "interfacegan: name of the direction.") var name: String = "attribute"
        @Option(help: "Output .safetensors (e.g. Latents/NAME.safetensors).") var out: String

        func validate() throws {
            guard ["sefa", "ganspace", "interfacegan"].contains(method) else { throw ValidationError("--method must be sefa, ganspace or interfacegan") }
            guard count >= 1 else { throw ValidationError("--count must be >= 1") }
            guard seed >= 0 && seed <= Int(UInt32.max) else { throw ValidationError("--seed must be in 0...4294967295") }
            if method == "interfacegan" && labels == nil { throw ValidationError("interfacegan needs --labels CSV") }
        }

        func run() throws {
            let G = try net.loadGenerator()
            let range = try layers.map { try parseWsRange($0, numWs: G.numWs) } ?? 0 ..< G.numWs
            let set: DirectionSet
            switch method {
            case "sefa":
                let (dirs, values) = try sefaDirections(generator: G, layers: range, includeToRGB: includeToRGB, count: count)
                set = DirectionSet(names: (0..<dirs.shape[0]).map { "sefa\($0)" }, directions: dirs, scales: values.map(Float.init),
                                   method: "sefa", generatorFingerprint: G.fingerprint, layers: range,
                                   info: ["scale_meaning": "eigenvalue", "include_torgb": "\(includeToRGB)", "network": net.networkName])
            case "ganspace":
                let bar = ProgressBar(total: samples, label: "sampling")
                let (dirs, stds, mean) = try ganspaceDirections(generator: G, samples: samples, seed: UInt32(seed), count: count) { d, _ in bar.update(d) }
                set = DirectionSet(names: (0..<dirs.shape[0]).map { "pc\($0)" }, directions: dirs, scales: stds.map(Float.init), mean: mean,
                                   method: "ganspace", generatorFingerprint: G.fingerprint, layers: range,
                                   info: ["scale_meaning": "sigma", "samples": "\(samples)", "seed": "\(seed)", "network": net.networkName])
            default:
                let (seeds, labelValues) = try readSeedLabels(path: labels!)
                let z = Tensor.concatenate(seeds.map { zFromSeed($0, zDim: G.zDim).reshaped([1, G.zDim]) })
                let w = mapFirstRows(generator: G, z: z)
                let b = try fitLinearBoundary(latents: w, labels: labelValues, seed: UInt64(seed))
                set = DirectionSet(names: [name], directions: b.normal.reshaped([1, G.wDim]), scales: [Float(b.heldOutAccuracy)],
                                   method: "interfacegan", generatorFingerprint: G.fingerprint, layers: range,
                                   info: ["scale_meaning": "held-out accuracy", "held_out_accuracy": "[\(b.heldOutAccuracy)]",
                                          "train_accuracy": "[\(b.trainAccuracy)]", "samples": "\(seeds.count)",
                                          "label_source": "csv:\(URL(fileURLWithPath: labels!).lastPathComponent)",
                                          "bias": "\(b.bias)", "seed": "\(seed)", "network": net.networkName])
                print(String(format: "%@: held-out accuracy %.3f (%d samples), train %.3f", name, b.heldOutAccuracy, b.heldOutCount, b.trainAccuracy))
            }
            try set.save(to: out)
            print("wrote \(out): \(set.method), \(set.count) directions, ws \(range.lowerBound)-\(range.upperBound - 1)")
        }
    }
}

/// Reads `seed,label` rows (a header line is allowed; label 0/1 or false/true).
func readSeedLabels(path: String) throws -> ([UInt32], [Bool]) {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("\(path): cannot read") }
    var seeds: [UInt32] = [], labels: [Bool] = []
    for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
        let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard f.count >= 2 else { throw ValidationError("\(path):\(i + 1): expected seed,label") }
        guard let s = UInt32(f[0]) else {
            if i == 0 { continue }   // header
            throw ValidationError("\(path):\(i + 1): bad seed '\(f[0])'")
        }
        switch f[1].lowercased() {
        case "1", "true", "yes": labels.append(true)
        case "0", "false", "no": labels.append(false)
        default: throw ValidationError("\(path):\(i + 1): label must be 0/1, got '\(f[1])'")
        }
        seeds.append(s)
    }
    return (seeds, labels)
}
