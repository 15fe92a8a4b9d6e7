import XCTest
import Foundation

/// `latentlab inspect` over good files and a corpus of bad ones: every good file is described on
/// stdout, every bad one gets exactly one stderr line naming it and the reason, exit 1 if any
/// failed, and nothing crashes.
final class InspectCommandTests: CLITestCase {
    /// stdout split into one block per file: a block starts at a line that is not indented.
    private func blocks(_ stdout: String) -> [String] {
        var out: [String] = []
        for line in stdout.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix(" "), !out.isEmpty { out[out.count - 1] += "\n" + line } else { out.append(String(line)) }
        }
        return out
    }

    /// The block describing `path`, failing when there is not exactly one.
    private func block(for path: String, in stdout: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        let found = blocks(stdout).filter { $0.hasPrefix(path + ": ") }
        XCTAssertEqual(found.count, 1, "\(path) described \(found.count) times in:\n\(stdout)", file: file, line: line)
        return found.first ?? ""
    }

    private func assertContains(_ text: String, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        for p in parts { XCTAssertTrue(text.contains(p), "'\(p)' missing from:\n\(text)", file: file, line: line) }
    }

    /// Good images: format, size as displayed, channels, bit depth, interlacing, orientation, and
    /// what loading does (alpha on white, RGB).
    func testImages() throws {
        let files = ["rgb8.png", "rgb16.png", "graya8.png", "cmyk_pil.jpg", "progressive.jpg", "orient_6.jpg"].map(cliFixture)
        let r = try runOK(["inspect"] + files)
        XCTAssertEqual(r.stderr, "")
        XCTAssertEqual(blocks(r.stdout).count, files.count)
        assertContains(block(for: files[0], in: r.stdout), ["PNG 13×7", "3 channels (RGB)", "8-bit", "orientation 1", "no alpha"])
        assertContains(block(for: files[1], in: r.stdout), ["PNG 13×7", "16-bit"])
        assertContains(block(for: files[2], in: r.stdout), ["PNG 13×7", "gray+alpha", "alpha is composited on white", "loaded as RGB"])
        assertContains(block(for: files[3], in: r.stdout), ["JPEG 48×32", "4 channels", "CMYK", "loaded as RGB"])
        assertContains(block(for: files[4], in: r.stdout), ["JPEG 48×32", "progressive"])
        // Stored 16×24 with EXIF orientation 6: described as displayed (24×16).
        assertContains(block(for: files[5], in: r.stdout), ["JPEG 24×16", "orientation 6", "rotated 90° clockwise", "stored as 16×24"])
    }

    /// Checkpoints and arrays: safetensors (tensor count, dtypes, size, config), npz / npy (names,
    /// shapes, dtypes), the NVIDIA snapshot (its networks).
    func testCheckpointsAndArrays() throws {
        let weights = modelsFixture("tiny32_weights.safetensors"), pkl = modelsFixture("tiny32_nvlabs.pkl")
        let npz = cliFixture("numpy_savez_compressed.npz"), npy = cliFixture("numpy_f4.npy")
        let r = try runOK(["inspect", weights, npz, npy, pkl])
        XCTAssertEqual(r.stderr, "")
        XCTAssertEqual(blocks(r.stdout).count, 4)
        assertContains(block(for: weights, in: r.stdout),
                       ["safetensors (format stylegan2)", "tensors: 79 (F32 ×79)", "parameters: 357,491",
                        "data: 1,429,964 bytes", "config: {", "\"z_dim\": 64", "\"w_dim\": 128", "\"img_resolution\": 32"])
        assertContains(block(for: npz, in: r.stdout),
                       ["npz archive, 11 arrays", "f4: float32 [2, 3, 5]", "i8: int64 [4, 1]", "f2: float16 [2, 5]", "empty: float32 [0, 3]"])
        assertContains(block(for: npy, in: r.stdout), ["npy array, float32 [2, 3, 5], 30 elements"])
        let snapshot = block(for: pkl, in: r.stdout)
        assertContains(snapshot, ["NVlabs snapshot with 3 networks", "G: Generator", "D: Discriminator", "G_ema: Generator",
                                  "\"z_dim\": 64", "training_set_kwargs"])
        XCTAssertFalse(snapshot.contains("tiny32_nvlabs.pkl: tiny32_nvlabs.pkl"), "file name said twice:\n\(snapshot)")
    }

    /// The kind comes from the bytes: a JPEG named .png, an npy named .bin.
    func testKindFromContentNotExtension() throws {
        let jpegAsPNG = temp("really-a-jpeg.png"), npyAsBin = temp("array.bin")
        try FileManager.default.copyItem(atPath: cliFixture("progressive.jpg"), toPath: jpegAsPNG)
        try FileManager.default.copyItem(atPath: cliFixture("numpy_f4.npy"), toPath: npyAsBin)
        let r = try runOK(["inspect", jpegAsPNG, npyAsBin])
        XCTAssertTrue(block(for: jpegAsPNG, in: r.stdout).contains("JPEG 48×32"))
        XCTAssertTrue(block(for: npyAsBin, in: r.stdout).contains("float32 [2, 3, 5]"))
    }

    /// The bad-file corpus mixed with good files: exit 1, the good ones still described, one
    /// stderr line per bad file naming it (once) and the reason.
    func testBadCorpusMixedWithGoodFiles() throws {
        // Truncated copies of each container kind, made here from good files.
        func truncatedCopy(_ source: String, _ name: String, keep fraction: Double) throws -> String {
            let data = try Data(contentsOf: URL(fileURLWithPath: source))
            let path = temp(name)
            try data.prefix(Int(Double(data.count) * fraction)).write(to: URL(fileURLWithPath: path))
            return path
        }
        let folder = temp("a-folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let bad: [(path: String, reason: [String])] = [
            (cliFixture("truncated.png"), ["truncated PNG data"]),
            (cliFixture("truncated.jpg"), ["truncated JPEG data"]),
            (cliFixture("corrupt_crc.png"), ["corrupt PNG data"]),
            (cliFixture("corrupt_scan.jpg"), ["corrupt JPEG data"]),
            (cliFixture("empty.png"), ["empty file"]),
            (cliFixture("text.png"), ["a text file", "This is a text file"]),
            (cliFixture("huge_header.png"), ["60000×60000", "pixels"]),
            (cliFixture("tiny.gif"), ["a GIF image", "PNG and JPEG"]),
            (cliFixture("pickle_os_system.pkl"), ["refusing global 'posix.system'", "never executed"]),
            (try truncatedCopy(modelsFixture("tiny32_weights.safetensors"), "cut.safetensors", keep: 0.5), ["truncated"]),
            (try truncatedCopy(cliFixture("numpy_savez_compressed.npz"), "cut.npz", keep: 0.6), ["not a zip archive"]),
            (try truncatedCopy(cliFixture("numpy_f4.npy"), "cut.npy", keep: 0.7), ["truncated"]),
            (try truncatedCopy(modelsFixture("tiny32_nvlabs.pkl"), "cut.pkl", keep: 0.5), ["truncated"]),
            (folder, ["is a folder"]),
            (temp("no-such-file.png"), ["no such file"]),
        ]
        let good = [cliFixture("rgb16.png"), cliFixture("cmyk_pil.jpg"), cliFixture("numpy_f4.npy"),
                    modelsFixture("tiny32_weights.safetensors")]
        // Interleaved, so a failure must not stop the files after it.
        var args = ["inspect"]
        for i in 0..<max(bad.count, good.count) {
            if i < bad.count { args.append(bad[i].path) }
            if i < good.count { args.append(good[i]) }
        }
        let r = try run(args)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(blocks(r.stdout).count, good.count, r.stdout)
        for g in good { _ = block(for: g, in: r.stdout) }
        let lines = r.stderrLines
        XCTAssertEqual(lines.count, bad.count, "one line per bad file:\n\(r.stderr)")
        for (path, reason) in bad {
            let mine = lines.filter { $0.hasPrefix(path + ": ") }
            XCTAssertEqual(mine.count, 1, "\(path): \(mine)")
            guard let line = mine.first else { continue }
            XCTAssertFalse(line.dropFirst(path.count).contains(path), "path repeated: \(line)")
            XCTAssertGreaterThan(line.count, path.count + 8, "no reason given: \(line)")
            for s in reason { XCTAssertTrue(line.contains(s), "'\(s)' missing from: \(line)") }
        }
        XCTAssertFalse(r.stderr.contains("Error:"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Usage:"), r.stderr)
    }

    /// Every malicious pickle fixture is refused by name, and nothing is described.
    func testMaliciousPickles() throws {
        let files = ["pickle_os_system.pkl", "pickle_builtins_eval.pkl", "pickle_storage_global.pkl"].map(cliFixture)
        let r = try run(["inspect"] + files)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderrLines.count, 3, r.stderr)
        for (path, global) in zip(files, ["posix.system", "__builtin__.eval", "torch.FloatStorage"]) {
            XCTAssertTrue(r.stderr.contains("\(path): refusing global '\(global)'"), r.stderr)
        }
    }

    func testNoArgumentsIsAUsageError() throws {
        try runUsageError(["inspect"], contains: ["Missing expected argument"])
    }
}
