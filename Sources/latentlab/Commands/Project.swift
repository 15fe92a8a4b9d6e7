import ArgumentParser
import Foundation
import LatentInversion
import LatentModels

/// `latentlab project INPUT_DIR --out OUT_DIR`: resumable, shardable batch inversion.
struct Project: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Invert every image under a folder (recursive, sorted): resumable, shardable, failure-isolated.",
        discussion: """
        One sub-folder per image (latent.npz, target.png, reconstruction.png, metrics.json) plus OUT_DIR/summary.csv \
        and summary.json. A rerun skips finished images; a run killed at any moment loses no finished work.
        --shard K/N (0 <= K < N) takes a deterministic 1/N of the images (hash of the relative path), so N machines \
        can share a dataset with no coordination. Exit code: 0 all finished, 2 some images failed (see the summary).
        """)

    @OptionGroup var net: NetworkOptions
    @OptionGroup var solver: SolverOptions
    @OptionGroup var losses: LossOptions
    @OptionGroup var cropOption: CropOption
    @Argument(help: "Folder of images (PNG/JPEG), searched recursively.") var input: String
    @Option(help: "Output folder.") var out: String
    @Option(help: "Shard K/N of the dataset (0-based K).") var shard: String = "0/1"
    @Option(help: "Images optimised together in one batched forward/backward.") var batch: Int = 1

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be >= 1") }
        do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let G = try net.loadGenerator()
        let options = try solver.projectorOptions(generator: G)
        let loss = try losses.makeLoss()
        var args = solver.record.merging(losses.record) { a, _ in a }
        args["command"] = "project"; args["network"] = net.networkName; args["crop"] = cropOption.crop
        args["batch"] = "\(batch)"; args["shard"] = shard
        var bar: ProgressBar? = nil
        let report = try runBatchProjection(generator: G, loss: loss, inputDir: input, outputDir: out,
                                            shard: try Shard(parsing: shard), batchSize: batch,
                                            crop: try cropOption.mode(), options: options, arguments: args) { p in
            if bar == nil { bar = ProgressBar(total: p.pending, label: "project") }
            let detail = p.loss.isFinite ? String(format: "images, batch step %d/%d loss %.5f", p.step, p.numSteps, p.loss) : "images"
            bar!.update(p.done, detail: detail)
        }
        let cleaned = report.removedTemporaryFiles > 0 ? ", \(report.removedTemporaryFiles) stale temporary files of a killed run removed" : ""
        print("shard \(shard): \(report.inShard) images, \(report.skipped) already done, \(report.inverted) inverted, \(report.failures.count) failed\(cleaned) → \(out)/summary.csv")
        for n in report.notes { printError("note: \(n)") }
        for f in report.failures { printError("failed: \(f.image): \(f.error)") }
        if !report.failures.isEmpty { throw ExitCode(2) }
    }
}
