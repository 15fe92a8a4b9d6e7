import Foundation
import LatentTensor
import LatentImageIO
import LatentModels

/// What a `project` run did.
public struct BatchProjectionReport: Sendable {
    /// Images in this shard.
    public var inShard: Int
    /// Finished by an earlier run and skipped.
    public var skipped: Int
    /// Inverted by this run.
    public var inverted: Int
    /// Images that could not be read or inverted: relative path and reason.
    public var failures: [(image: String, error: String)]
}

/// Progress of a batch run: images finished so far out of those pending.
public struct BatchProgress: Sendable {
    public var done: Int
    public var pending: Int
    /// Current step inside the running batch, and its mean loss.
    public var step: Int
    public var numSteps: Int
    public var loss: Float
}

/// Inverts every image under `inputDir` (recursive, sorted) that belongs to `shard`, writing
/// one sub-folder per image under `outputDir` (see `writeInversionOutputs`) and refreshing
/// `summary.csv` / `summary.json` after every batch.
///
/// - Resumable: images whose `metrics.json` exists are skipped; every file is written
///   atomically and `metrics.json` last, so a run killed at any moment (SIGKILL included)
///   loses no finished image and leaves no half-written file.
/// - Failure-isolated: an image that cannot be read (or whose optimisation diverges) gets an
///   `error.json` and a row in the summary; the run goes on.
/// - Batched: `batchSize` images are optimised together in one forward/backward.
public func runBatchProjection(generator: StyleGAN2Generator,
                               loss: ImageLoss,
                               inputDir: String,
                               outputDir: String,
                               shard: Shard = .all,
                               batchSize: Int = 1,
                               crop: CropMode = .center,
                               options: ProjectorOptions = ProjectorOptions(),
                               arguments: [String: String] = [:],
                               progress: ((BatchProgress) -> Void)? = nil) throws -> BatchProjectionReport {
    precondition(batchSize >= 1, "batchSize must be >= 1")
    let all = try listImages(root: inputDir)
    let folders = outputFolderNames(for: all)
    let mine = all.filter { shard.contains($0) }
    let pending = mine.filter { readInversionRecord(dir: outputDir + "/" + folders[$0]!) == nil }
    var report = BatchProjectionReport(inShard: mine.count, skipped: mine.count - pending.count, inverted: 0, failures: [])
    try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
    guard !pending.isEmpty else {
        try writeBatchSummary(outputDir: outputDir, images: all, folders: folders)
        return report
    }
    let stats = try WStatistics.estimate(generator: generator, samples: options.wAvgSamples)
    var done = 0
    var index = 0
    while index < pending.count {
        // Fill a batch with readable images; unreadable ones are recorded and replaced.
        var batch: [(path: String, image: Tensor)] = []
        while batch.count < batchSize && index < pending.count {
            let rel = pending[index]; index += 1
            do {
                let loaded = try loadImage(path: inputDir + "/" + rel)
                let t = try preprocess(loaded.tensor, crop: crop, size: generator.resolution)
                batch.append((rel, t))
            } catch {
                try recordFailure(outputDir: outputDir, folder: folders[rel]!, image: rel, error: "\(error)")
                report.failures.append((rel, "\(error)"))
                done += 1
            }
        }
        if batch.isEmpty { continue }
        let targets = Tensor.concatenate(batch.map { $0.image.reshaped([1] + $0.image.shape) })
        do {
            let result = try project(generator: generator, targets: targets, loss: loss, statistics: stats,
                                     options: options) { p in
                progress?(BatchProgress(done: done, pending: pending.count, step: p.step, numSteps: p.numSteps,
                                        loss: p.loss.reduce(0, +) / Float(p.loss.count)))
            }
            let metrics = try inversionMetrics(reconstruction: result.reconstruction, target: targets,
                                           finalLoss: result.finalLoss, steps: result.stepsRun,
                                           secondsPerImage: result.seconds / Double(batch.count))
            for (i, item) in batch.enumerated() {
                let dir = outputDir + "/" + folders[item.path]!
                let record = InversionRecord(image: item.path, metrics: metrics[i], generator: generator.fingerprint,
                                             space: options.space.rawValue, arguments: arguments)
                try writeInversionOutputs(dir: dir, index: i, result: result, target: targets, record: record)
                try? FileManager.default.removeItem(atPath: dir + "/error.json")
            }
            report.inverted += batch.count
        } catch let e as ProjectorError {
            for item in batch {
                try recordFailure(outputDir: outputDir, folder: folders[item.path]!, image: item.path, error: e.description)
                report.failures.append((item.path, e.description))
            }
        }
        done += batch.count
        progress?(BatchProgress(done: done, pending: pending.count, step: options.schedule.numSteps, numSteps: options.schedule.numSteps, loss: .nan))
        try writeBatchSummary(outputDir: outputDir, images: all, folders: folders)
    }
    return report
}

struct FailureRecord: Codable { var image: String; var error: String }

func recordFailure(outputDir: String, folder: String, image: String, error: String) throws {
    try writeAtomically(resultJSONEncoder().encode(FailureRecord(image: image, error: error)), to: outputDir + "/" + folder + "/error.json")
}

/// Rebuilds `summary.csv` and `summary.json` from every image folder under `outputDir`, so
/// shards writing into one folder each leave a summary of everything finished so far.
public func writeBatchSummary(outputDir: String, images: [String], folders: [String: String]) throws {
    var rows: [InversionRecord] = []
    var failures: [FailureRecord] = []
    for rel in images {
        let dir = outputDir + "/" + folders[rel]!
        if let r = readInversionRecord(dir: dir) {
            rows.append(r)
        } else if let d = FileManager.default.contents(atPath: dir + "/error.json"),
                  let f = try? resultJSONDecoder().decode(FailureRecord.self, from: d) {
            failures.append(f)
        }
    }
    func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    var csv = "image,status,mse,psnr,ssim,ms_ssim,lpips,loss,steps,seconds,error\n"
    for r in rows {
        let m = r.metrics
        csv += [csvField(r.image), "ok", "\(m.mse)", "\(m.psnr)", "\(m.ssim)", "\(m.msSSIM)",
                m.lpips.map { "\($0)" } ?? "", "\(m.loss)", "\(m.steps)", "\(m.seconds)", ""].joined(separator: ",") + "\n"
    }
    for f in failures {
        csv += [csvField(f.image), "failed", "", "", "", "", "", "", "", "", csvField(f.error)].joined(separator: ",") + "\n"
    }
    try writeAtomically(Data(csv.utf8), to: outputDir + "/summary.csv")

    func mean(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count) }
    var means: [String: Double] = [:]
    means["mse"] = mean(rows.map(\.metrics.mse))
    means["psnr"] = mean(rows.map(\.metrics.psnr).filter(\.isFinite))
    means["ssim"] = mean(rows.map(\.metrics.ssim))
    means["ms_ssim"] = mean(rows.map(\.metrics.msSSIM))
    means["lpips"] = mean(rows.compactMap(\.metrics.lpips))
    means["seconds"] = mean(rows.map(\.metrics.seconds))
    struct Summary: Encodable {
        var images: Int; var finished: Int; var failed: Int
        var means: [String: Double]
        var results: [InversionRecord]; var failures: [FailureRecord]
    }
    try writeAtomically(resultJSONEncoder().encode(Summary(images: images.count, finished: rows.count, failed: failures.count,
                                           means: means, results: rows, failures: failures)),
                        to: outputDir + "/summary.json")
}
