import Foundation
import LatentTensor
import LatentCore

/// A setting whose value in an earlier run's results differs from this run's.
public struct SettingChange: Sendable, Equatable {
    public var key: String
    public var previous: String
    public var requested: String
    public init(key: String, previous: String, requested: String) { self.key = key; self.previous = previous; self.requested = requested }
}

/// Settings that do not change an image's result (batching and sharding are result-neutral,
/// see `runBatchProjection`), so a rerun may change them freely.
public let resultNeutralSettings: Set<String> = ["command", "batch", "shard"]

/// The settings of the finished images under `outputDir` that differ from `arguments` (keys
/// in `resultNeutralSettings` ignored; a key missing on one side counts as different). Reads
/// the `arguments` of every readable `metrics.json` and reports each differing key once, with
/// the first earlier value found. Empty when nothing is finished yet.
public func differingSettings(outputDir: String, arguments: [String: RecordValue]) -> [SettingChange] {
    guard let walker = FileManager.default.enumerator(atPath: outputDir) else { return [] }
    var changes: [String: SettingChange] = [:]
    while let rel = walker.nextObject() as? String {
        guard (rel as NSString).lastPathComponent == "metrics.json",
              let record = readInversionRecord(dir: outputDir + "/" + parentPath(rel)) else { continue }
        for key in Set(record.arguments.keys).union(arguments.keys) where !resultNeutralSettings.contains(key) && changes[key] == nil {
            let old = record.arguments[key], new = arguments[key]
            if old?.text != new?.text {
                changes[key] = SettingChange(key: key, previous: old?.text ?? "(not set)", requested: new?.text ?? "(not set)")
            }
        }
    }
    return changes.values.sorted { $0.key < $1.key }
}

/// Marks every finished image under `outputDir` as not finished (removes its `metrics.json`, the
/// marker `runBatchProjection` resumes by), so the next run redoes it with its own settings.
/// - Returns: how many were marked.
@discardableResult
public func markFinishedImagesForRedo(outputDir: String) -> Int {
    guard let walker = FileManager.default.enumerator(atPath: outputDir) else { return 0 }
    var n = 0
    while let rel = walker.nextObject() as? String {
        guard (rel as NSString).lastPathComponent == "metrics.json" else { continue }
        if (try? FileManager.default.removeItem(atPath: outputDir + "/" + rel)) != nil { n += 1 }
    }
    return n
}

/// Reconstruction PSNR (dB) below which `invert` and `project` warn that the image is likely
/// outside the generator's domain. Measured with the default generator (W+, noise maps optimised):
/// in-domain test scenes reach 30–33 dB at 500 steps (`shared/reference-figures.md`), while the six
/// photos of `shared/testdata/photos` (astronaut, camera, cat, coffee, logo, rocket) stop at
/// 18.9–23.7 dB after 300 steps; 26 dB lies between the two. A run with very few steps can fall
/// below it in-domain too, which the warning says.
public let outOfDomainPSNR: Double = 26

/// A one-line warning when `metrics` say the reconstruction is too poor to trust, else nil.
public func outOfDomainWarning(image: String, metrics: InversionMetrics) -> String? {
    guard metrics.psnr < outOfDomainPSNR else { return nil }
    return "warning: \(image): reconstruction PSNR " + String(format: "%.1f dB (< %.0f dB)", metrics.psnr, outOfDomainPSNR)
        + ": the image is likely outside the generator's domain (or the run had too few steps); edits of this latent may not mean much"
}
