import ArgumentParser
import Foundation
import LatentTensor
import LatentModels
import LatentCore
import LatentEditing
import LatentImageIO
import LatentCLIP
import LatentCore

/// `latentlab directions`: discover, list and show latent-direction files.
struct Directions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The latent-direction library: discover (SeFa, GANSpace, InterFaceGAN), list, show, preview.",
        discussion: "Measuring what the shipped directions do on the test scenes is a benchmark: LatentBench directions (Bench/directions.md).",
        subcommands: [Discover.self, List.self, Show.self, Preview.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List direction files in a folder (default: the shipped library's Latents/).")
        @Argument(help: "Folder (default: Latents/ of the shipped library, found from anywhere).") var folder: String?

        func run() throws {
            let folder = self.folder ?? DirectionLibrary.latentsFolder
            let files: [String]
            do { files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".safetensors") }.sorted() } catch {
                throw CommandFailure(error, context: folder)
            }
            guard !files.isEmpty else { print("no direction files in \(folder)"); return }
            print("\(folder):")
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
        @Argument(help: "Direction file, or a shipped set by name (sefa, interfacegan-size-clip).") var file: String

        func run() throws {
            let s = try DirectionSet.load(path: try DirectionLibrary.resolve(file: file))
            print("method: \(s.method)\ngenerator: \(s.generatorFingerprint)\nspace: w\nws rows: \(s.layersText)\nwDim: \(s.wDim)")
            for (k, v) in s.info.sorted(by: { $0.key < $1.key }) { print("\(k): \(v)") }
            let meaning = s.info["scale_meaning"] ?? "scale"
            for (i, name) in s.names.enumerated() {
                print(String(format: "%3d  %-24@ %@ %.5g", i, name as NSString, meaning as NSString, s.scales[i]))
            }
        }
    }

    struct Preview: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render one direction across seeds and strengths as a grid PNG (rows: seeds, columns: strengths).",
            discussion: "Shows what a direction changes before you use it: e.g. latentlab directions preview sefa:0 --seeds 0-5 --out sefa0.png --scale 2")
        @OptionGroup var net: NetworkOptions
        @Argument(help: "Direction FILE[:name|index] or a shipped set (sefa:0).") var direction: String
        @Option(help: "Seeds (rows), e.g. 0-5.") var seeds: String = "0-5"
        @Option(parsing: .unconditional, help: "Strengths (columns).") var strength: String = "-6,-3,0,3,6"
        @Option(help: "ws rows to edit, a-b (default: the file's range).") var layers: String?
        @Option(help: "Truncation psi of the seeds' latents.") var trunc: Float = 0.7
        @OptionGroup var image: ImageScaleOption
        @Option(help: "Output .png.") var out: String

        func validate() throws {
            guard try parseIntList(seeds, name: "--seeds").allSatisfy({ (0...Int(UInt32.max)).contains($0) }), try parseIntList(seeds).count <= 64 else {
                throw ValidationError("--seeds: at most 64 seeds in 0...4294967295")
            }
            guard try parsedStrengths().count <= 32 else { throw ValidationError("--strength: at most 32 strengths") }
            guard trunc.isFinite else { throw ValidationError("--trunc must be finite") }
            guard out.lowercased().hasSuffix(".png") else { throw ValidationError("--out must be a .png file") }
        }

        func parsedStrengths() throws -> [Float] { try parseStrengths(strength) }

        func run() throws {
            let G = try net.loadGenerator()
            let (set, i, file) = try DirectionLibrary.load(reference: direction)
            warnIfForeign(set, G)
            guard set.wDim == G.wDim else { throw CommandFailure("\(file): directions have wDim \(set.wDim), generator \(G.wDim)") }
            let range = try layers.map { try parseWsRangeOption($0, numWs: G.numWs, option: "--layers") } ?? set.layers.clamped(to: 0 ..< G.numWs)
            let seedList = try parseIntList(seeds).map { UInt32($0) }
            let strengths = try parsedStrengths()
            let grid = try directionPreview(generator: G, direction: set.direction(i), layers: range, seeds: seedList,
                                            strengths: strengths, truncationPsi: trunc)
            try saveScaled(try imageGrid(grid, columns: strengths.count, padding: 1), to: out, scale: image.scale)
            try writeRecord(RunRecord(command: "directions preview", ["direction": .string(direction), "direction_file": .string(file),
                                                                      "entry": .string(set.names[i]), "seeds": .string(seeds),
                                                                      "strength": .array(strengths.map { RecordValue($0) }),
                                                                      "layers": .string(wsRangeText(range)), "trunc": RecordValue(trunc),
                                                                      "network": .string(net.networkName), "generator": .string(G.fingerprint)]),
                            besides: out, name: "")
            print("\(set.names[i]) on ws \(wsRangeText(range)): \(seedList.count) seeds × \(strengths.count) strengths → \(out)")
        }
    }
}
