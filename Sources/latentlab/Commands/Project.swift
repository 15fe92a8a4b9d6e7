import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentCore
import LatentInversion
import LatentModels
import LatentEncoders

/// `latentlab project INPUT_DIR --out OUT_DIR`: resumable, shardable batch inversion.
struct Project: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Invert every image under a folder (recursive, sorted): resumable, shardable, failure-isolated.",
        discussion: """
        One sub-folder per image (latent.npz, target.png, reconstruction.png, metrics.json) plus OUT_DIR/summary.csv, \
        summary.json and contact_sheet.png (target | reconstruction, the first 64 finished images of the shard). A rerun \
        skips finished images; a run killed at any moment loses no finished work. A rerun with other settings than \
        the finished images were made with is refused (the differing settings are listed) unless --redo, which \
        redoes every image with the new settings; --batch and --shard may change freely.
        --shard K/N (0 <= K < N) takes a deterministic 1/N of the images (hash of the relative path), so N machines \
        can share a dataset with no coordination. --method encoder|hybrid inverts with an encoder (one pass) or \
        an encoder followed by a short optimisation (see 'invert'). Exit code: 0 all finished, 2 some images failed (see the summary).
        """)

    @OptionGroup var net: NetworkOptions
    @OptionGroup var methodOptions: MethodOptions
    @OptionGroup var solver: SolverOptions
    @OptionGroup var losses: LossOptions
    @OptionGroup var cropOption: CropOption
    @Argument(help: "Folder of images (PNG/JPEG), searched recursively.") var input: String
    @Option(help: "Output folder.") var out: String
    @Option(help: "Shard K/N of the dataset (0-based K).") var shard: String = "0/1"
    @Option(help: "Images optimised together in one batched forward/backward.") var batch: Int = 1
    @Flag(help: "Redo finished images when the settings differ from theirs (instead of refusing).") var redo = false

    func validate() throws {
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be 1-4096") }
        do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") }
    }

    func run() throws { try runProject(command: "project") }

    /// The whole command; `encode DIR` runs it as `--method encoder` under its own name.
    func runProject(command: String) throws {
        let G = try net.loadGenerator()
        let (inverter, note) = try methodOptions.makeSolver(generator: G, net: net, solver: solver, losses: losses, allowsPivotFile: false)
        if let note { printError("note: \(note)") }
        var args = methodOptions.record(solver: solver, losses: losses)
        args["command"] = .string(command); args["network"] = .string(net.networkName); args["crop"] = .string(cropOption.crop)
        args["batch"] = .int(batch); args["shard"] = .string(shard)
        let changes = differingSettings(outputDir: out, arguments: args)
        if !changes.isEmpty {
            let list = changes.map { "\($0.key) \($0.previous) → \($0.requested)" }.joined(separator: ", ")
            guard redo else {
                throw CommandFailure("\(out): holds results made with other settings (\(list)); give --redo to redo them, or a new --out")
            }
            printError("--redo: \(markFinishedImagesForRedo(outputDir: out)) finished image(s) will be redone (\(list))")
        }
        let numSteps = inverter.numSteps
        var bar: ProgressBar? = nil
        let report = try runBatchInversion(generator: G, solver: inverter, inputDir: input, outputDir: out,
                                           shard: try Shard(parsing: shard), batchSize: batch,
                                           crop: try cropOption.mode(), arguments: args) { p in
            // Units are optimisation steps of images, so the ETA moves while a batch runs.
            if bar == nil { bar = ProgressBar(total: p.pending * numSteps, label: command) }
            let running = min(batch, p.pending - p.done)
            let detail = p.loss.isFinite ? String(format: "(%d/%d images) loss %.5f", p.done, p.pending, p.loss) : "(\(p.done)/\(p.pending) images)"
            bar!.update(p.done * numSteps + (p.loss.isFinite ? p.step * running : 0), detail: detail)
        }
        // The summary of every shard finished so far, read once: for the contact sheet and the domain warnings.
        let summary = try? resultJSONDecoder().decode(BatchSummary.self, from: readInputFile(path: out + "/summary.json", maxBytes: InputFileLimit.text))
        let sheet = try summary.flatMap { try writeProjectContactSheet(out: out, summary: $0, folders: report.folders) }
        let cleaned = report.removedTemporaryFiles > 0 ? ", \(report.removedTemporaryFiles) stale temporary files of a killed run removed" : ""
        print("shard \(shard): \(report.inShard) images, \(report.skipped) already done, \(report.inverted) inverted, \(report.failures.count) failed\(cleaned) → \(out)/summary.csv\(sheet.map { ", \($0)" } ?? "")")
        for r in summary?.results ?? [] { if let w = outOfDomainWarning(image: r.image, metrics: r.metrics) { printError(w) } }
        for n in report.notes { printError("note: \(n)") }
        for f in report.failures { printError("failed: \(f.image): \(f.error)") }
        if !report.failures.isEmpty { throw ExitCode(2) }
    }

    /// `contact_sheet.png`: target | reconstruction of the first 64 finished images (summary order).
    func writeProjectContactSheet(out: String, summary: BatchSummary, folders: [String: String]) throws -> String? {
        var rows: [[Tensor]] = []
        var shape: [Int]? = nil   // of the unlabelled images: the sheet takes one size
        for r in summary.results.prefix(64) {
            guard let folder = folders[r.image] else { continue }
            let dir = out + "/" + folder
            guard let t = try? loadImage(path: dir + "/target.png").tensor,
                  let rec = try? loadImage(path: dir + "/reconstruction.png").tensor, t.shape == rec.shape else { continue }
            if let shape, shape != t.shape { continue }
            shape = t.shape
            rows.append([labelled(t, "target"), labelled(rec, "reconstruction")])
        }
        guard !rows.isEmpty else { return nil }
        try writeContactSheet(rows: rows, to: out + "/contact_sheet.png", scale: 1)
        return "contact_sheet.png"
    }
}
