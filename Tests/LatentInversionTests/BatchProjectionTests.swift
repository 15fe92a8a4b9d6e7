import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentModels
import LatentImageIO
import _TestSupport
import LatentInversion

/// Helpers shared by the batch-projection and resume tests: datasets of the four scene PNGs in
/// `Resources/scenes/` (64×64, resized to the tiny generator's 32×32) in a temporary folder.
enum BatchFixtures {
    static func temporaryFolder(_ tag: String) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-\(tag)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// Copies scene `k` (0…3) to `root/relative`.
    static func addScene(_ k: Int, to root: String, as relative: String) throws {
        let src = try Fixtures.resource("scenes/scene_00\(k).png").path
        let dst = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (dst as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: src, toPath: dst)
    }

    static func options(steps: Int = 5) throws -> ProjectorOptions {
        try TinyProjector.options(steps: steps)
    }

    /// Every file under `root` (relative path → modification date), hidden ones included.
    static func files(under root: String) -> [String: Date] {
        var out: [String: Date] = [:]
        guard let e = FileManager.default.enumerator(atPath: root) else { return out }
        for case let rel as String in e {
            var isDir: ObjCBool = false
            let p = root + "/" + rel
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue else { continue }
            out[rel] = (try? FileManager.default.attributesOfItem(atPath: p))?[.modificationDate] as? Date
        }
        return out
    }

    static func temporaryFiles(under root: String) -> [String] {
        files(under: root).keys.filter { ($0 as NSString).lastPathComponent.contains(".tmp") }.sorted()
    }

    static func summary(_ out: String) throws -> BatchSummary {
        try resultJSONDecoder().decode(BatchSummary.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json")))
    }

    /// `summary.csv` rows (header dropped) split naively (the tests' error texts hold no commas in paths).
    static func csvRows(_ out: String) throws -> [String] {
        try String(contentsOfFile: out + "/summary.csv", encoding: .utf8).split(separator: "\n").dropFirst().map(String.init)
    }

    /// The built `latentlab` next to the test bundle (SwiftPM builds every product before testing).
    static func cliBinary() throws -> String {
        let dir = Bundle.module.bundleURL.deletingLastPathComponent()
        let path = dir.appendingPathComponent("latentlab").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw MissingTestInput("latentlab binary not found at \(path); run `swift build -c release` first")
        }
        return path
    }

    /// Starts `latentlab` with `arguments`, stdout/stderr captured to files under `logDir`.
    static func startCLI(_ arguments: [String], logDir: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try cliBinary())
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LATENTLAB_THREADS"] = "1"; env["OPENBLAS_NUM_THREADS"] = "1"; env["LATENTLAB_CACHE"] = "off"
        p.environment = env
        _ = FileManager.default.createFile(atPath: logDir + "/stdout.txt", contents: nil)
        _ = FileManager.default.createFile(atPath: logDir + "/stderr.txt", contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logDir + "/stdout.txt"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logDir + "/stderr.txt"))
        try p.run()
        return p
    }
}

final class BatchProjectionTests: XCTestCase {
    /// Outputs per image: latent.npz (`w` [1, numWs, wDim] + every noise map), target.png,
    /// reconstruction.png, metrics.json; the metrics are those of G at the stored latent.
    func testOutputsAreCompleteAndReproducible() throws {
        let (G, _) = try TinyProjector.load()
        let root = try BatchFixtures.temporaryFolder("outputs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try BatchFixtures.addScene(0, to: root + "/in", as: "a.png")
        try BatchFixtures.addScene(1, to: root + "/in", as: "sub/b.png")
        let report = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: root + "/out",
                                            batchSize: 2, options: try BatchFixtures.options(steps: 6), arguments: ["k": "v"])
        XCTAssertEqual(report.inShard, 2); XCTAssertEqual(report.inverted, 2); XCTAssertTrue(report.failures.isEmpty)
        for (rel, folder) in [("a.png", "a"), ("sub/b.png", "sub/b")] {
            let dir = root + "/out/" + folder
            for f in ["latent.npz", "target.png", "reconstruction.png", "metrics.json"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + f), "\(dir)/\(f)")
            }
            let npz = try readNpz(path: dir + "/latent.npz")
            XCTAssertEqual(npz["w"]?.shape, [1, G.numWs, G.wDim])
            var noise = NoiseMaps()
            for name in G.noiseLayerNames {
                let m = try XCTUnwrap(npz["noise.\(name)"], name)
                XCTAssertEqual(m.shape, G.noiseShape(layer: name)!)
                noise[name] = m.toTensor()
            }
            let record = try XCTUnwrap(readInversionRecord(dir: dir))
            XCTAssertEqual(record.image, rel)
            XCTAssertEqual(record.metrics.steps, 6)
            XCTAssertEqual(record.arguments["k"], "v")
            XCTAssertEqual(record.generator, G.fingerprint)
            // G(w, noise) from the file reproduces the recorded PSNR against the prepared target.
            let target = try loadProjectionTarget(path: root + "/in/" + rel, resolution: G.resolution)
            let image = G.synthesis(ws: npz["w"]!.toTensor(), noise: noise)
            XCTAssertEqual(naivePSNR(image, target.reshaped([1, 3, 32, 32]))[0], record.metrics.psnr, accuracy: 1e-3)
        }
        let s = try BatchFixtures.summary(root + "/out")
        XCTAssertEqual(s.images, 2); XCTAssertEqual(s.finished, 2); XCTAssertEqual(s.failed, 0)
        XCTAssertEqual(s.results.map(\.image), ["a.png", "sub/b.png"])
        XCTAssertEqual(s.means["psnr"]!, s.results.map(\.metrics.psnr).reduce(0, +) / 2, accuracy: 1e-9)
        XCTAssertEqual(try BatchFixtures.csvRows(root + "/out").map { $0.split(separator: ",")[1] }, ["ok", "ok"])
        XCTAssertEqual(BatchFixtures.temporaryFiles(under: root), [])
    }

    /// Batch size does not change any image's result (within 1e-3 after 8 Adam steps: batched GEMMs
    /// round differently, by up to ~2e-4 on OpenBLAS's FMA kernels; see ProjectorTests).
    func testBatchSizeDoesNotChangeResults() throws {
        let (G, _) = try TinyProjector.load()
        let root = try BatchFixtures.temporaryFolder("batchsize")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for k in 0..<3 { try BatchFixtures.addScene(k, to: root + "/in", as: "s\(k).png") }
        for b in [1, 3] {
            _ = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: root + "/out\(b)",
                                       batchSize: b, options: try BatchFixtures.options(steps: 8))
        }
        for k in 0..<3 {
            let w1 = try readNpz(path: root + "/out1/s\(k)/latent.npz")["w"]!.toTensor()
            let w3 = try readNpz(path: root + "/out3/s\(k)/latent.npz")["w"]!.toTensor()
            assertClose(w3, w1, atol: 1e-3, rtol: 1e-3, "s\(k)")
        }
    }

    /// A corrupt PNG and a text file named .png among good images: both listed with their error,
    /// the others finished, the run goes on.
    func testFailureIsolation() throws {
        let (G, _) = try TinyProjector.load()
        let root = try BatchFixtures.temporaryFolder("failures")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try BatchFixtures.addScene(0, to: root + "/in", as: "a.png")
        try BatchFixtures.addScene(1, to: root + "/in", as: "c.png")
        try BatchFixtures.addScene(2, to: root + "/in", as: "e.png")
        let png = try Data(contentsOf: Fixtures.resource("scenes/scene_003.png"))
        try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: root + "/in/b_truncated.png"))
        try Data("this is not an image\n".utf8).write(to: URL(fileURLWithPath: root + "/in/d_notes.png"))
        let report = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: root + "/out",
                                            batchSize: 2, options: try BatchFixtures.options(steps: 4))
        XCTAssertEqual(report.inShard, 5)
        XCTAssertEqual(report.inverted, 3)
        XCTAssertEqual(report.failures.map(\.image).sorted(), ["b_truncated.png", "d_notes.png"])
        for f in report.failures { XCTAssertTrue(f.error.contains(f.image), "the error names the file: \(f.error)") }
        for ok in ["a", "c", "e"] { XCTAssertNotNil(readInversionRecord(dir: root + "/out/" + ok)) }
        for bad in ["b_truncated", "d_notes"] {
            XCTAssertNil(readInversionRecord(dir: root + "/out/" + bad))
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/out/\(bad)/error.json"))
        }
        let s = try BatchFixtures.summary(root + "/out")
        XCTAssertEqual(s.finished, 3); XCTAssertEqual(s.failed, 2); XCTAssertEqual(s.images, 5)
        XCTAssertEqual(s.failures.map(\.image), ["b_truncated.png", "d_notes.png"])
        let rows = try BatchFixtures.csvRows(root + "/out")
        XCTAssertEqual(rows.count, 5)
        XCTAssertEqual(rows.filter { $0.contains(",failed,") }.count, 2)
        XCTAssertTrue(rows.contains { $0.hasPrefix("d_notes.png,failed,") && $0.count > "d_notes.png,failed,,,,,,,,,".count },
                      "the failed row carries the error: \(rows)")
        // A rerun retries the failed images only (they fail again) and keeps the finished ones.
        let again = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: root + "/out",
                                           batchSize: 2, options: try BatchFixtures.options(steps: 4))
        XCTAssertEqual(again.skipped, 3); XCTAssertEqual(again.inverted, 0); XCTAssertEqual(again.failures.count, 2)
    }

    /// The CLI exits with code 2 when some images failed, 0 when all finished.
    func testCLIExitCodes() throws {
        let root = try BatchFixtures.temporaryFolder("cli-exit")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try BatchFixtures.addScene(0, to: root + "/in", as: "good.png")
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: root + "/in/bad.png"))
        let weights = try Fixtures.resource("tiny32_weights.safetensors").path
        let common = ["--network", weights, "--steps", "3", "--w-avg-samples", "100", "--batch", "2"]
        let p = try BatchFixtures.startCLI(["project", root + "/in", "--out", root + "/out"] + common, logDir: root)
        p.waitUntilExit()
        let stderr = try String(contentsOfFile: root + "/stderr.txt", encoding: .utf8)
        XCTAssertEqual(p.terminationStatus, 2, stderr)
        XCTAssertTrue(stderr.contains("bad.png"), stderr)
        XCTAssertNotNil(readInversionRecord(dir: root + "/out/good"))
        XCTAssertEqual(try BatchFixtures.summary(root + "/out").failures.map(\.image), ["bad.png"])
        try FileManager.default.removeItem(atPath: root + "/in/bad.png")
        let q = try BatchFixtures.startCLI(["project", root + "/in", "--out", root + "/out2"] + common, logDir: root)
        q.waitUntilExit()
        XCTAssertEqual(q.terminationStatus, 0)
        let bad = try BatchFixtures.startCLI(["project", root + "/in", "--out", root + "/out3", "--shard", "4/4"], logDir: root)
        bad.waitUntilExit()
        XCTAssertNotEqual(bad.terminationStatus, 0, "an invalid --shard is refused")
    }

    /// `latentlab invert --save-progress`: NVIDIA's outputs plus a strip of the optimisation
    /// (target, then the reconstruction after step 1 and after every eighth of the steps).
    func testInvertCLIWritesOutputsAndProgressStrip() throws {
        let (G, _) = try TinyProjector.load()
        let root = try BatchFixtures.temporaryFolder("cli-invert")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try BatchFixtures.addScene(2, to: root, as: "photo.png")
        let weights = try Fixtures.resource("tiny32_weights.safetensors").path
        let p = try BatchFixtures.startCLI(["invert", root + "/photo.png", "--out", root + "/out", "--network", weights,
                                            "--steps", "16", "--w-avg-samples", "100", "--save-progress"], logDir: root)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, (try? String(contentsOfFile: root + "/stderr.txt", encoding: .utf8)) ?? "")
        let npz = try readNpz(path: root + "/out/latent.npz")
        XCTAssertEqual(npz["w"]?.shape, [1, G.numWs, G.wDim])
        XCTAssertEqual(Set(npz.keys), Set(["w"] + G.noiseLayerNames.map { "noise.\($0)" }))
        let record = try XCTUnwrap(readInversionRecord(dir: root + "/out"))
        XCTAssertEqual(record.metrics.steps, 16)
        XCTAssertEqual(record.arguments["save_progress"], "true")
        // Frames after steps 1, 2, 4, 6, …, 16: nine, plus the target; 1-pixel gaps.
        let strip = try probeImage(path: root + "/out/progress.png")
        XCTAssertEqual(strip.height, 32)
        XCTAssertEqual(strip.width, 10 * 32 + 9)
        let recon = try probeImage(path: root + "/out/reconstruction.png")
        XCTAssertEqual([recon.width, recon.height], [32, 32])
        // The last frame is the final reconstruction.
        let stripPixels = try loadImage(path: root + "/out/progress.png").tensor
        let reconPixels = try loadImage(path: root + "/out/reconstruction.png").tensor
        var worst: Float = 0
        for c in 0..<3 { for y in 0..<32 { for x in 0..<32 {
            worst = max(worst, abs(stripPixels[c, y, 9 * 33 + x] - reconPixels[c, y, x]))
        } } }
        XCTAssertLessThan(worst, 1e-6)
    }
}
