import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentCore
import LatentFormats
import LatentInversion
import LatentModels
import LatentEncoders

/// `latentlab translate MAP.png|DIR --encoder E --out DIR`: semantic map / sketch → image through
/// the latent space (pSp's seg/sketch-to-image with an encoder trained by `train-encoder --pairs`).
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn semantic maps or sketches into images with a guidance encoder (map → W+ → generator).",
        discussion: """
        MAP: writes DIR/output.png, DIR/latent.npz ('w' [1, numWs, wDim] and the const noise maps: 'generate \
        --latent-in' reproduces the output, 'edit' edits it), DIR/strip.png (map | output) and DIR/translate.json. \
        A folder: one sub-folder per map, batched, resumable (finished maps are skipped) and shardable (--shard K/N) \
        like 'project'. Maps of another size than the generator's are resized (nearest neighbour for class ids) \
        with a note; class ids the encoder does not know are refused. Train the encoder with \
        'latentlab train-encoder --pairs DIR --input seg|sketch'. \
        --region-style CLASS=IMG (repeatable, one seg map): that region of the map (wall, floor, shadow, sphere, cube, \
        cylinder, cone, object = any of the four shapes, or a class id) takes the exemplar's --layers rows (default: all \
        but the coarse layout rows), confined by feature blending from --blend-res on; outside every region the output \
        is the plain one, where regions overlap the later wins, a region absent from the map is skipped with a warning. \
        latent.npz keeps the map's own codes; translate.json records the regions, exemplars, rows and blend resolution; \
        strip.png is map | exemplars | plain output | region-styled output.
        """)

    @Argument(help: "A map (8-bit gray PNG: class ids for seg, white strokes for sketch) or a folder of maps.") var input: String
    @OptionGroup var net: NetworkOptions
    @Option(help: "Guidance encoder .safetensors (from train-encoder --pairs), or 'seg' / 'sketch' for the embedded default encoders of the default generator.") var encoder: String
    @Option(help: "Output folder.") var out: String
    @Option(help: "Folder: maps translated together in one batch.") var batch: Int = 16
    @Option(help: "Folder: shard K/N of the maps (0-based K).") var shard: String = "0/1"
    @OptionGroup var variants: TranslateVariantOptions

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("the output path is empty") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be 1-4096") }
        do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") }
    }

    /// Variants apply to one map (a folder would multiply outputs per map; run them per map).
    func checkVariants(isFolder: Bool) throws {
        if isFolder && variants.active { throw CommandFailure("--samples, --exemplar and --region-style take one map, not a folder") }
    }

    func run() throws {
        let G = try net.loadGenerator()
        // 'seg' and 'sketch' name the embedded encoders (a file path has an extension).
        let encoderPath = GuidanceKind(rawValue: encoder).map { DefaultEncoder.url(guidance: $0).path } ?? encoder
        _ = try sniffFileKind(path: encoderPath)
        let e: TrainedEncoder
        do {
            guard let t = try loadLatentEncoder(path: encoderPath) as? TrainedEncoder, t.config.guidance != nil else {
                throw CommandFailure("\(encoder): an image encoder, not a guidance encoder (train one with train-encoder --pairs DIR --input seg|sketch)")
            }
            e = t
            if let note = try checkEncoder(e, matches: G) { printError("note: \(note)") }
        } catch let f as CommandFailure { throw f } catch { throw CommandFailure(error, context: encoder) }
        let kind = e.config.guidance!
        let args: [String: RecordValue] = ["command": "translate", "input": .string(input), "encoder": .string(encoder),
                                           "network": .string(net.networkName)]
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else { throw CommandFailure("\(input): no such file or folder") }
        try checkVariants(isFolder: isDir.boolValue)
        if !isDir.boolValue {
            let start = Date()
            let map: GuidanceMap
            do { map = try loadGuidanceMap(path: input, kind: kind, classes: e.config.classes ?? 1, resolution: G.resolution) }
            catch { throw CommandFailure(error, context: input) }
            var (ws, images) = try translateMaps(map.tensor.reshaped([1] + map.tensor.shape), encoder: e, generator: G,
                                                 openRowSeeds: [openRowSeed(mapName: (input as NSString).lastPathComponent)])
            let seconds = Date().timeIntervalSince(start)
            var extras: [Tensor] = [], measured: [String: RecordValue]? = nil
            if !variants.regionStyle.isEmpty {
                let v = try applyRegionStyles(ws: ws, plain: images, map: map, kind: kind, classes: e.config.classes ?? 1, generator: G)
                images = v.image; extras = v.stripExtras; measured = v.record
            } else if variants.active {
                let v = try applyVariants(ws: ws, map: map, kind: kind, generator: G)
                if variants.exemplar != nil { ws = v.ws; images = G.synthesis(ws: ws) }
                extras = v.stripExtras; measured = v.record
            }
            var runArgs = args
            runArgs["samples"] = RecordValue(variants.samples); runArgs["vary"] = .string(variants.vary); runArgs["seed"] = .int(variants.seed)
            runArgs["exemplar"] = RecordValue(variants.exemplar); runArgs["layers"] = RecordValue(variants.layers)
            if !variants.regionStyle.isEmpty {
                runArgs["region_style"] = .array(variants.regionStyle.map { .string($0) }); runArgs["blend_res"] = RecordValue(variants.blendRes)
            }
            let record = TranslationRecord(map: input, generator: G.fingerprint, guidance: kind.rawValue,
                                           resizedFrom: map.resizedFrom.map { "\($0.width)x\($0.height)" },
                                           seconds: seconds, arguments: runArgs, variants: measured)
            do { try writeTranslation(dir: out, map: map, kind: kind, ws: ws, image: images.row(0), generator: G, record: record, stripExtras: extras) }
            catch { throw CommandFailure(error, context: out) }
            if let from = map.resizedFrom { printError("note: \(input): \(from.width)×\(from.height) resized to \(G.resolution)×\(G.resolution)") }
            print(String(format: "%@ → %@/output.png (%@, %.1f ms)", input, out, kind.rawValue, record.seconds * 1000))
            return
        }
        var bar: ProgressBar? = nil
        let report: BatchTranslationReport
        do {
            report = try runBatchTranslation(encoder: e, generator: G, inputDir: input, outputDir: out, shard: try Shard(parsing: shard),
                                             batchSize: batch, arguments: args) { done, pending in
                if bar == nil { bar = ProgressBar(total: pending, label: "translate") }
                bar!.update(done)
            }
        } catch { throw CommandFailure(error) }
        print("shard \(shard): \(report.inShard) maps, \(report.skipped) already done, \(report.translated) translated, \(report.failures.count) failed → \(out)")
        for n in report.notes.prefix(20) { printError("note: \(n)") }
        if report.notes.count > 20 { printError("note: … \(report.notes.count - 20) more") }
        for f in report.failures { printError("failed: \(f.map): \(f.error)") }
        if !report.failures.isEmpty { throw ExitCode(2) }
    }
}
