import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentCore
import LatentInversion
import LatentFormats

/// What `translate` writes next to each output (`translate.json`, written last: its presence
/// marks the map as finished).
public struct TranslationRecord: Codable, Sendable, Equatable {
    /// The map's path relative to the input folder (or as given for one map).
    public var map: String
    public var generator: String
    /// Guidance kind of the encoder (`seg`, `sketch`).
    public var guidance: String
    /// Set when the map was resized to the generator's resolution: "WxH".
    public var resizedFrom: String?
    public var seconds: Double
    public var arguments: [String: RecordValue]
    /// Measurements of variants (diverse samples, an exemplar), when any were made.
    public var variants: [String: RecordValue]?

    public init(map: String, generator: String, guidance: String, resizedFrom: String?, seconds: Double, arguments: [String: RecordValue],
                variants: [String: RecordValue]? = nil) {
        self.map = map; self.generator = generator; self.guidance = guidance; self.resizedFrom = resizedFrom
        self.seconds = seconds; self.arguments = arguments; self.variants = variants
    }
}

/// Maps → W+ codes → images with a guidance encoder.
/// - Parameters:
///   - maps: `[N, C, R, R]` from `loadGuidanceMap`.
///   - openRowSeeds: for an encoder trained with given rows (`EncoderFileConfig.givenRows`, the
///     rows a map leaves open), one seed per map: those rows come from `mapping(z(seed))` (ψ 1)
///     instead of the encoder's regressed mean, which renders a grey average. Nil: seed 0 for
///     every map.
/// - Returns: codes `[N, numWs, wDim]` and images `[N, 3, R, R]` (const noise, as trained).
public func translateMaps(_ maps: Tensor, encoder: TrainedEncoder, generator G: StyleGAN2Generator,
                          openRowSeeds: [UInt32]? = nil) throws -> (ws: Tensor, images: Tensor) {
    try checkEncoder(encoder, matches: G)
    var ws = try encoder.encode(maps: maps)
    if let rows = encoder.config.givenRows, !rows.isEmpty {
        let n = ws.shape[0]
        let seeds = openRowSeeds ?? [UInt32](repeating: 0, count: n)
        guard seeds.count == n else { throw EncoderError("\(seeds.count) seeds for \(n) maps") }
        ws = replacingRows(rows, of: ws, from: G.mapping(z: zFromSeeds(seeds, zDim: G.zDim)))
    }
    return (ws, G.synthesis(ws: ws))
}

/// `codes` `[N, numWs, wDim]` with ws rows `rows` of every item taken from `source` (same shape),
/// or set to zero when `source` is nil.
func replacingRows(_ rows: [Int], of codes: Tensor, from source: Tensor?) -> Tensor {
    var out = codes
    let n = codes.shape[0], numWs = codes.shape[1], d = codes.shape[2]
    for i in 0..<n {
        for r in rows {
            let at = (i * numWs + r) * d
            for k in 0..<d { out.storage[at + k] = source?.storage[at + k] ?? 0 }
        }
    }
    return out
}

/// The seed of a map's open rows in `translate`: FNV-1a of its name (the path relative to the
/// input folder, or the file name), so a map gets the same colours alone, in a folder, in any shard.
public func openRowSeed(mapName: String) -> UInt32 { UInt32(truncatingIfNeeded: fnv1a64(mapName)) }

/// Writes one translation into `dir`: `output.png`, `latent.npz` (`w` `[1, numWs, wDim]` and the
/// const noise maps, so `generate --latent-in` reproduces it), `strip.png` (map | output) and
/// last `translate.json`, every file atomically.
/// - Parameter stripExtras: pictures shown between the map and the output (e.g. the exemplar).
public func writeTranslation(dir: String, map: GuidanceMap, kind: GuidanceKind, ws: Tensor, image: Tensor,
                             generator G: StyleGAN2Generator, record: TranslationRecord, stripExtras: [Tensor] = []) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let noise = G.stackedNoise([G.constNoise]) ?? NoiseMaps()
    try LatentFile(ws: ws, noise: noise).write(to: dir + "/latent.npz")
    let clamped = image.map { min(max($0, -1), 1) }
    try saveImage(clamped, to: dir + "/output.png")
    let strip = [guidanceMapPicture(map, kind: kind)] + stripExtras + [clamped]
    try saveImage(try imageGrid(strip, columns: strip.count, padding: 1), to: dir + "/strip.png")
    try writeAtomically(resultJSONEncoder().encode(record), to: dir + "/translate.json")
}

/// What a folder translation did.
public struct BatchTranslationReport: Sendable {
    public var inShard = 0, skipped = 0, translated = 0
    public var failures: [(map: String, error: String)] = []
    public var notes: [String] = []
}

/// Translates every map under `inputDir` (recursive, sorted) in `shard`, `batchSize` at a time,
/// into `outputDir/<name>/` (see `writeTranslation`). Resumable: a folder whose `translate.json`
/// names its map and whose outputs read back is skipped; failure-isolated: a map that cannot be
/// read gets a failure line and the run goes on.
public func runBatchTranslation(encoder: TrainedEncoder, generator G: StyleGAN2Generator, inputDir: String, outputDir: String,
                                shard: Shard = .all, batchSize: Int = 16, arguments: [String: RecordValue] = [:],
                                progress: ((_ done: Int, _ pending: Int) -> Void)? = nil) throws -> BatchTranslationReport {
    guard let kind = encoder.config.guidance else { throw EncoderError("this encoder encodes photos, not guidance maps") }
    guard batchSize >= 1 else { throw EncoderError("batchSize must be at least 1, got \(batchSize)") }
    try checkEncoder(encoder, matches: G)
    do { try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true) }
    catch { throw EncoderError("\(outputDir): cannot create folder: \(fileErrorReason(error))") }
    let listing = try listDataset(root: inputDir, excluding: [outputDir])
    let folders = outputFolderNames(for: listing.images)
    let mine = listing.images.filter { shard.contains($0) }
    var report = BatchTranslationReport()
    report.inShard = mine.count
    report.failures = listing.problems.filter { shard.contains($0.path) }.map { ($0.path, $0.reason) }
    if !listing.hidden.isEmpty { report.notes.append("\(listing.hidden.count) hidden entries under \(inputDir) skipped") }
    for rel in mine { removeStaleTemporaryFiles(in: outputDir + "/" + folders[rel]!, shared: false) }
    let pending = mine.filter { rel in !translationFinished(dir: outputDir + "/" + folders[rel]!, map: rel, resolution: G.resolution) }
    report.skipped = mine.count - pending.count
    let classes = encoder.config.classes ?? 1, r = G.resolution
    var index = 0
    while index < pending.count {
        var batch: [(rel: String, map: GuidanceMap)] = []
        while batch.count < batchSize && index < pending.count {
            let rel = pending[index]; index += 1
            do { batch.append((rel, try loadGuidanceMap(path: inputDir + "/" + rel, kind: kind, classes: classes, resolution: r))) }
            catch { report.failures.append((rel, errorLine(error))) }
        }
        guard !batch.isEmpty else { continue }
        let start = Date()
        let maps = Tensor.concatenate(batch.map { $0.map.tensor.reshaped([1] + $0.map.tensor.shape) })
        let (ws, images) = try translateMaps(maps, encoder: encoder, generator: G, openRowSeeds: batch.map { openRowSeed(mapName: $0.rel) })
        let seconds = Date().timeIntervalSince(start) / Double(batch.count)
        for (i, item) in batch.enumerated() {
            let record = TranslationRecord(map: item.rel, generator: G.fingerprint, guidance: kind.rawValue,
                                           resizedFrom: item.map.resizedFrom.map { "\($0.width)x\($0.height)" }, seconds: seconds,
                                           arguments: arguments)
            do {
                try writeTranslation(dir: outputDir + "/" + folders[item.rel]!, map: item.map, kind: kind, ws: ws.slice(i ..< i + 1),
                                     image: images.row(i), generator: G, record: record)
                report.translated += 1
            } catch { report.failures.append((item.rel, errorLine(error))) }
            if let from = item.map.resizedFrom { report.notes.append("\(item.rel): \(from.width)×\(from.height) resized to \(r)×\(r)") }
        }
        progress?(report.translated + report.failures.count, pending.count)
    }
    return report
}

/// A finished translation: `translate.json` names `map`, and the output PNG and latent read back.
func translationFinished(dir: String, map: String, resolution: Int) -> Bool {
    guard let data = try? readInputFile(path: dir + "/translate.json", maxBytes: InputFileLimit.text),
          let record = try? resultJSONDecoder().decode(TranslationRecord.self, from: data), record.map == map,
          let png = try? loadImage(path: dir + "/output.png"), png.info.width == resolution,
          (try? readNpz(path: dir + "/latent.npz"))?["w"] != nil else { return false }
    return true
}
