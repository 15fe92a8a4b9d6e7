import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentCore

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
    /// Stale temporary files of a killed earlier run that were removed.
    public var removedTemporaryFiles: Int
    /// What the user should know that is not a failure: hidden entries skipped, an empty shard,
    /// finished images redone because an output was damaged.
    public var notes: [String] = []
    /// Output folder (relative to the output directory) of every image of the input, all shards.
    public var folders: [String: String] = [:]
}

/// Progress of a batch run: images finished so far out of those pending.
public struct BatchProgress: Sendable {
    public var done: Int
    public var pending: Int
    /// Current step inside the running batch, and its mean loss (NaN between batches).
    public var step: Int
    public var numSteps: Int
    public var loss: Float
}

/// Inverts every image under `inputDir` (recursive, sorted) that belongs to `shard`, writing
/// one sub-folder per image under `outputDir` (see `writeInversionOutputs` and
/// `outputFolderNames`) and refreshing `summary.csv` / `summary.json` after every batch.
///
/// - Resumable: an image whose folder holds a `metrics.json` for that image and outputs that all
///   read back (`checkFinishedInversion`) is skipped; one with a damaged output is redone (a note);
///   every file is written atomically and `metrics.json` last, so a run killed at any moment
///   (SIGKILL included) loses no finished image and leaves no half-written file under a real
///   name. Hidden temporary files a kill left behind are removed by the next run (all of them in
///   this shard's image folders; in `outputDir` itself, shared by all shards, those whose writer
///   is gone, see `removeStaleTemporaryFiles`).
/// - Failure-isolated: an image that cannot be read, or whose optimisation or output fails,
///   gets an `error.json` and a `failed` row in the summary; the run goes on. Failed images are
///   retried by the next run.
/// - Batched: `batchSize` images are optimised together in one forward/backward; every image's
///   result is the one it would get alone (see `project`), so batching and sharding do not
///   change results.
///
/// - Inputs: see `listDataset` (symbolic links followed, hidden entries skipped with a note,
///   unreadable entries failed, the output folder excluded when it lies inside the input).
/// - Throws: `ProjectorError` for a missing input folder, a folder with no images, `batchSize`
///   < 1, or an output folder that cannot be created; errors writing the summary.
public func runBatchProjection(generator: StyleGAN2Generator,
                               loss: ImageLoss,
                               inputDir: String,
                               outputDir: String,
                               shard: Shard = .all,
                               batchSize: Int = 1,
                               crop: CropMode = .center,
                               options: ProjectorOptions = ProjectorOptions(),
                               arguments: [String: RecordValue] = [:],
                               progress: ((BatchProgress) -> Void)? = nil) throws -> BatchProjectionReport {
    try runBatchInversion(generator: generator, solver: OptimizationSolver(generator: generator, loss: loss, options: options),
                          inputDir: inputDir, outputDir: outputDir, shard: shard, batchSize: batchSize, crop: crop,
                          arguments: arguments, progress: progress)
}

/// `runBatchProjection` with any `InversionSolver` (optimisation, encoder, hybrid, tuning): the
/// same listing, resume, failure isolation, outputs and summaries; each batch of targets goes to
/// `solver.invert`, and the solver's extra files land in the image folders before `metrics.json`.
public func runBatchInversion(generator: StyleGAN2Generator,
                              solver: InversionSolver,
                              inputDir: String,
                              outputDir: String,
                              shard: Shard = .all,
                              batchSize: Int = 1,
                              crop: CropMode = .center,
                              arguments: [String: RecordValue] = [:],
                              progress: ((BatchProgress) -> Void)? = nil) throws -> BatchProjectionReport {
    guard batchSize >= 1 else { throw ProjectorError("batchSize must be at least 1, got \(batchSize)") }
    do { try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true) }
    catch { throw ProjectorError("\(outputDir): cannot create folder: \(fileErrorReason(error))") }
    // The output folder may lie inside the input: its own PNGs are not inputs.
    let listing = try listDataset(root: inputDir, excluding: [outputDir])
    let all = listing.images
    let folders = outputFolderNames(for: all)
    let mine = all.filter { shard.contains($0) }
    var removed = removeStaleTemporaryFiles(in: outputDir, shared: true)
    for rel in mine { removed += removeStaleTemporaryFiles(in: outputDir + "/" + folders[rel]!, shared: false) }
    var notes: [String] = []
    if !listing.hidden.isEmpty {
        let shown = listing.hidden.prefix(3).joined(separator: ", ") + (listing.hidden.count > 3 ? ", …" : "")
        notes.append("\(listing.hidden.count) hidden entries under \(inputDir) skipped (names starting with '.'): \(shown)")
    }
    if mine.isEmpty { notes.append("shard \(shard) holds none of the \(all.count) images under \(inputDir)") }
    let pending = mine.filter { rel in
        switch checkFinishedInversion(dir: outputDir + "/" + folders[rel]!, image: rel, generator: generator) {
        case .finished: return false
        case .notFinished: return true
        case .damaged(let why):
            notes.append("redoing \(rel): its finished output is damaged (\(why))")
            return true
        }
    }
    var report = BatchProjectionReport(inShard: mine.count, skipped: mine.count - pending.count, inverted: 0,
                                       failures: listing.problems.filter { shard.contains($0.path) }.map { ($0.path, $0.reason) },
                                       removedTemporaryFiles: removed, notes: notes, folders: folders)
    // Entries the listing could not take are failures of every summary (all shards see them).
    let unreadable = listing.problems.map { FailureRecord(image: $0.path, error: $0.reason) }
    guard !pending.isEmpty else {
        try writeBatchSummary(outputDir: outputDir, images: all, folders: folders, unreadable: unreadable)
        return report
    }
    var done = 0
    var index = 0
    while index < pending.count {
        // Fill a batch with readable images; unreadable ones are recorded and replaced.
        var batch: [(path: String, image: Tensor)] = []
        while batch.count < batchSize && index < pending.count {
            let rel = pending[index]; index += 1
            do {
                batch.append((rel, try loadProjectionTarget(path: inputDir + "/" + rel, resolution: generator.resolution, crop: crop)))
            } catch {
                report.failures.append((rel, errorLine(error)))
                try? recordFailure(outputDir: outputDir, folder: folders[rel]!, image: rel, error: errorLine(error))
                done += 1
            }
        }
        if batch.isEmpty { continue }
        let targets = Tensor.concatenate(batch.map { $0.image.reshaped([1] + $0.image.shape) })
        var written = Set<String>()
        do {
            let solved = try solver.invert(targets: targets, mask: nil) { p in
                progress?(BatchProgress(done: done, pending: pending.count, step: p.step, numSteps: p.numSteps,
                                        loss: p.loss.reduce(0, +) / Float(p.loss.count)))
            }
            let result = solved.result
            let metrics = try inversionMetrics(reconstruction: result.reconstruction, target: targets,
                                               finalLoss: result.finalLoss, steps: result.stepsRun,
                                               secondsPerImage: result.seconds / Double(batch.count))
            for (i, item) in batch.enumerated() {
                let dir = outputDir + "/" + folders[item.path]!
                let record = InversionRecord(image: item.path, metrics: metrics[i], generator: generator.fingerprint,
                                             space: solver.space.rawValue, arguments: arguments, solver: solved.extraRecord[i])
                try? FileManager.default.removeItem(atPath: dir + "/error.json")
                try writeInversionOutputs(dir: dir, index: i, result: result, target: targets, record: record,
                                          extraFiles: solved.extraFiles[i])
                written.insert(item.path)
                report.inverted += 1
            }
        } catch {
            // The whole batch shares one optimisation: images not yet written fail together.
            for item in batch where !written.contains(item.path) {
                report.failures.append((item.path, errorLine(error)))
                try? recordFailure(outputDir: outputDir, folder: folders[item.path]!, image: item.path, error: errorLine(error))
            }
        }
        done += batch.count
        progress?(BatchProgress(done: done, pending: pending.count, step: solver.numSteps,
                                numSteps: solver.numSteps, loss: .nan))
        try writeBatchSummary(outputDir: outputDir, images: all, folders: folders, unreadable: unreadable)
    }
    try writeBatchSummary(outputDir: outputDir, images: all, folders: folders, unreadable: unreadable)
    return report
}

/// `error.json` of an image that failed.
public struct FailureRecord: Codable, Sendable, Equatable {
    public var image: String
    public var error: String
}

func recordFailure(outputDir: String, folder: String, image: String, error: String) throws {
    try writeAtomically(resultJSONEncoder().encode(FailureRecord(image: image, error: error)), to: outputDir + "/" + folder + "/error.json")
}

/// Removes the hidden temporary files `writeAtomically` leaves when a process dies between
/// creating and renaming them (`.NAME.tmp-PID-RANDOM`), directly inside `dir`.
/// - Parameter shared: the folder is shared with other processes (the output root, where every
///   shard writes its summary): only remove files whose writer is gone, i.e. whose PID is not a
///   live process on this machine, or that are older than 10 minutes (a live writer renames its
///   file within milliseconds; on a cluster another host's PID cannot be checked here, and a
///   summary writer whose temporary file vanishes simply retries). Otherwise remove them all
///   (an image folder belongs to one shard).
/// - Returns: how many were removed.
@discardableResult
public func removeStaleTemporaryFiles(in dir: String, shared: Bool) -> Int {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return 0 }
    var removed = 0
    for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
        let path = dir + "/" + name
        if shared {
            let pidText = name[name.range(of: ".tmp-")!.upperBound...].prefix { $0.isNumber }
            let writerGone = Int32(pidText).map { pid in pid > 0 && kill(pid, 0) != 0 && errno == ESRCH } ?? false
            let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
            let old = modified.map { Date().timeIntervalSince($0) >= 600 } ?? false
            guard writerGone || old else { continue }
        }
        if (try? FileManager.default.removeItem(atPath: path)) != nil { removed += 1 }
    }
    return removed
}

/// `writeAtomically`, retried: in the shared output root a concurrent shard's clean-up may take
/// our temporary file away (see `removeStaleTemporaryFiles`).
func writeSharedFile(_ data: Data, to path: String) throws {
    var attempt = 0
    while true {
        do { return try writeAtomically(data, to: path) } catch {
            attempt += 1
            if attempt >= 3 { throw error }
        }
    }
}

/// Rebuilds `summary.csv` and `summary.json` from every image folder under `outputDir`, so
/// shards writing into one folder each leave a summary of everything finished so far.
/// Rows: finished images (`ok`, with their metrics), then failed ones (`failed`, with the error);
/// images not yet attempted are counted in `images` only. `unreadable` entries of the input
/// folder (see `DatasetListing.problems`) are listed as failed too. Rebuilds of concurrent shards
/// take turns (`withSummaryLock`), so the last one lists every image finished before it.
public func writeBatchSummary(outputDir: String, images: [String], folders: [String: String],
                              unreadable: [FailureRecord] = []) throws {
    try withSummaryLock(outputDir: outputDir) {
        try rebuildBatchSummary(outputDir: outputDir, images: images, folders: folders, unreadable: unreadable)
    }
}

private func rebuildBatchSummary(outputDir: String, images: [String], folders: [String: String],
                                 unreadable: [FailureRecord]) throws {
    var rows: [InversionRecord] = []
    var failures: [FailureRecord] = unreadable
    for rel in images {
        guard let folder = folders[rel] else { continue }
        let dir = outputDir + "/" + folder
        if let r = readInversionRecord(dir: dir), r.image == rel {
            rows.append(r)
        } else if let d = try? readInputFile(path: dir + "/error.json", maxBytes: InputFileLimit.text),
                  let f = try? resultJSONDecoder().decode(FailureRecord.self, from: d), f.image == rel {
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
    try writeSharedFile(Data(csv.utf8), to: outputDir + "/summary.csv")

    func mean(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count) }
    var means: [String: Double] = [:]
    means["mse"] = mean(rows.map(\.metrics.mse))
    means["psnr"] = mean(rows.map(\.metrics.psnr).filter(\.isFinite))
    means["ssim"] = mean(rows.map(\.metrics.ssim))
    means["ms_ssim"] = mean(rows.map(\.metrics.msSSIM))
    means["lpips"] = mean(rows.compactMap(\.metrics.lpips))
    means["seconds"] = mean(rows.map(\.metrics.seconds))
    try writeSharedFile(resultJSONEncoder().encode(BatchSummary(images: images.count, finished: rows.count, failed: failures.count,
                                                                means: means, results: rows, failures: failures)),
                        to: outputDir + "/summary.json")
}

/// `summary.json`.
public struct BatchSummary: Codable, Sendable {
    /// Images in the whole input folder (all shards).
    public var images: Int
    public var finished: Int
    public var failed: Int
    /// Means over finished images of `mse`, `psnr` (finite ones), `ssim`, `ms_ssim`, `lpips`, `seconds`.
    public var means: [String: Double]
    public var results: [InversionRecord]
    public var failures: [FailureRecord]
}
