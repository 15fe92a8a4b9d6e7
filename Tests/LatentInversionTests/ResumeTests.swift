import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentModels
import _TestSupport
import LatentInversion
import LatentCore

/// `project` is resumable: a rerun skips finished images; a run killed at any moment loses no
/// finished work and leaves no half-written file.
final class ResumeTests: XCTestCase {
    /// Four images; then the state a kill leaves (an unfinished image without metrics.json,
    /// temporary files of interrupted writes); the rerun redoes only unfinished images, leaves
    /// finished ones untouched, removes the debris and completes the summary.
    func testResumeAfterSimulatedKill() throws {
        let (G, _) = try TinyProjector.load()
        let root = try BatchFixtures.temporaryFolder("resume")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for k in 0..<4 { try BatchFixtures.addScene(k, to: root + "/in", as: "img\(k).png") }
        let out = root + "/out"
        let options = try BatchFixtures.options(steps: 4)
        let first = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: out,
                                           batchSize: 2, options: options)
        XCTAssertEqual(first.inverted, 4)
        // Kill debris: img2 died before metrics.json; img3 died mid-write of latent.npz (temp file,
        // no metrics); in the shared root, summary temp files of an old killed run, of a dead
        // process and of a live one.
        try FileManager.default.removeItem(atPath: out + "/img2/metrics.json")
        try FileManager.default.removeItem(atPath: out + "/img3/metrics.json")
        try FileManager.default.removeItem(atPath: out + "/img3/latent.npz")
        try Data([0x50, 0x4b, 3]).write(to: URL(fileURLWithPath: out + "/img3/.latent.npz.tmp-999-123"))
        try Data("{".utf8).write(to: URL(fileURLWithPath: out + "/img2/.metrics.json.tmp-999-7"))
        try Data("old".utf8).write(to: URL(fileURLWithPath: out + "/.summary.csv.tmp-999-1"))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)],
                                              ofItemAtPath: out + "/.summary.csv.tmp-999-1")
        try Data("dead".utf8).write(to: URL(fileURLWithPath: out + "/.summary.json.tmp-\(Int32.max - 5)-2"))
        let live = ".summary.json.tmp-\(getpid())-3"
        try Data("live".utf8).write(to: URL(fileURLWithPath: out + "/" + live))
        let before = BatchFixtures.files(under: out)
        Thread.sleep(forTimeInterval: 0.05)   // so a rewrite would show in the modification dates

        let second = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: out,
                                            batchSize: 2, options: options)
        XCTAssertEqual(second.inShard, 4)
        XCTAssertEqual(second.skipped, 2)
        XCTAssertEqual(second.inverted, 2)
        XCTAssertEqual(second.removedTemporaryFiles, 4)
        let after = BatchFixtures.files(under: out)
        for k in 0..<2 { for f in ["latent.npz", "target.png", "reconstruction.png", "metrics.json"] {
            XCTAssertEqual(after["img\(k)/\(f)"], before["img\(k)/\(f)"], "finished img\(k)/\(f) must not be rewritten")
        } }
        XCTAssertNotEqual(after["img2/latent.npz"], before["img2/latent.npz"], "unfinished img2 is redone")
        XCTAssertNotNil(readInversionRecord(dir: out + "/img2"))
        XCTAssertNotNil(readInversionRecord(dir: out + "/img3"))
        XCTAssertEqual(BatchFixtures.temporaryFiles(under: out), [live],
                       "debris of dead writers removed; a fresh temp file of a live process in the shared root is left alone")
        let s = try BatchFixtures.summary(out)
        XCTAssertEqual(s.finished, 4); XCTAssertEqual(s.failed, 0)
        XCTAssertEqual(s.results.map(\.image), ["img0.png", "img1.png", "img2.png", "img3.png"])

        // A third run finds everything finished and writes nothing but the summary.
        let third = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: out,
                                           batchSize: 2, options: options)
        XCTAssertEqual(third.skipped, 4); XCTAssertEqual(third.inverted, 0)
        let final = BatchFixtures.files(under: out)
        for (k, v) in after where !k.hasPrefix("summary") { XCTAssertEqual(final[k], v, k) }
    }

    /// A metrics.json that does not name the image (a folder reused by another file) does not
    /// count as finished; an unreadable one neither.
    func testOnlyMatchingRecordsCountAsFinished() throws {
        let (G, _) = try TinyProjector.load()
        let root = try BatchFixtures.temporaryFolder("records")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try BatchFixtures.addScene(0, to: root + "/in", as: "a.png")
        try BatchFixtures.addScene(1, to: root + "/in", as: "b.png")
        let options = try BatchFixtures.options(steps: 3)
        _ = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: root + "/out", options: options)
        var record = try XCTUnwrap(readInversionRecord(dir: root + "/out/a"))
        record.image = "other.png"
        try resultJSONEncoder().encode(record).write(to: URL(fileURLWithPath: root + "/out/a/metrics.json"))
        try Data("{ truncated".utf8).write(to: URL(fileURLWithPath: root + "/out/b/metrics.json"))
        let again = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: root + "/out", options: options)
        XCTAssertEqual(again.skipped, 0)
        XCTAssertEqual(again.inverted, 2)
        XCTAssertEqual(readInversionRecord(dir: root + "/out/a")?.image, "a.png")
    }

    /// The real thing: `latentlab project` SIGKILLed mid-run, then rerun.
    func testResumeAfterSIGKILL() throws {
        let root = try BatchFixtures.temporaryFolder("sigkill")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for k in 0..<6 { try BatchFixtures.addScene(k % 4, to: root + "/in", as: "img\(k).png") }
        let out = root + "/out"
        let weights = try Fixtures.resource("tiny32_weights.safetensors").path
        let args = ["project", root + "/in", "--out", out, "--network", weights, "--steps", "60", "--w-avg-samples", "100"]
        let p = try BatchFixtures.startCLI(args, logDir: root)
        // Wait for the first finished image, then kill without warning.
        let deadline = Date(timeIntervalSinceNow: 120)
        func finished() -> [String] {
            (0..<6).filter { FileManager.default.fileExists(atPath: out + "/img\($0)/metrics.json") }.map { "img\($0)" }
        }
        while finished().isEmpty && p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run must have been killed, not finished")
        let done = finished()
        XCTAssertGreaterThan(done.count, 0)
        XCTAssertLessThan(done.count, 6, "killed mid-run")
        // No half-written file under a real name: everything visible parses.
        for (rel, _) in BatchFixtures.files(under: out) where !(rel as NSString).lastPathComponent.hasPrefix(".") {
            let path = out + "/" + rel
            switch (rel as NSString).pathExtension {
            case "npz": XCTAssertNoThrow(try readNpz(path: path), rel)
            case "png": XCTAssertNoThrow(try loadProjectionTarget(path: path, resolution: 8), rel)
            case "json", "csv": XCTAssertGreaterThan((try? Data(contentsOf: URL(fileURLWithPath: path)))?.count ?? 0, 1, rel)
            default: break
            }
        }
        for d in done { XCTAssertNotNil(readInversionRecord(dir: out + "/" + d), d) }
        let before = BatchFixtures.files(under: out)

        let q = try BatchFixtures.startCLI(args, logDir: root)
        q.waitUntilExit()
        XCTAssertEqual(q.terminationStatus, 0, (try? String(contentsOfFile: root + "/stderr.txt", encoding: .utf8)) ?? "")
        let stdout = try String(contentsOfFile: root + "/stdout.txt", encoding: .utf8)
        XCTAssertTrue(stdout.contains("\(done.count) already done"), stdout)
        let after = BatchFixtures.files(under: out)
        for d in done { for f in ["latent.npz", "target.png", "reconstruction.png", "metrics.json"] {
            XCTAssertEqual(after["\(d)/\(f)"], before["\(d)/\(f)"], "finished \(d)/\(f) untouched")
        } }
        XCTAssertEqual(BatchFixtures.temporaryFiles(under: out), [], "no temporary file left behind")
        let s = try BatchFixtures.summary(out)
        XCTAssertEqual(s.finished, 6)
        XCTAssertEqual(s.results.map(\.image), (0..<6).map { "img\($0).png" })
    }
}
