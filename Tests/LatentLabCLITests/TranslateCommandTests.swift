import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import _TestSupport

/// `train-encoder --pairs` and `translate` as subprocesses, on four pairs of the shared paired
/// scenes with the embedded generator (a 2-step encoder: the files and the flow, not the quality,
/// which Bench/conditional.md measures).
final class TranslateCommandTests: CLITestCase {
    func pairs() throws -> String {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared is not present") }
        let root = temp("pairs")
        for sub in ["seg", "photo"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
            for i in 0..<4 {
                let name = String(format: "%05d.png", i)
                try FileManager.default.copyItem(atPath: shared.appendingPathComponent("paired/scenes/test/\(sub)/\(name)").path, toPath: root + "/\(sub)/" + name)
            }
        }
        return root
    }

    func testTrainTranslateAndRefusals() throws {
        let root = try pairs()
        let enc = temp("seg.safetensors")
        try runOK(["train-encoder", "--pairs", root, "--input", "seg", "--classes", "7", "--steps", "2", "--batch", "2",
                   "--base-channels", "4", "--max-channels", "8", "--msssim", "0", "--out", enc])
        let meta = try SafeTensorsFile(path: enc).metadata["config"] ?? ""
        XCTAssertTrue(meta.contains("\"guidance\":\"seg\"") && meta.contains("\"classes\":7"), meta)

        // One map.
        let r = try runOK(["translate", root + "/seg/00000.png", "--encoder", enc, "--out", temp("one")])
        XCTAssertTrue(r.stdout.contains("output.png"), r.stdout)
        for f in ["output.png", "latent.npz", "strip.png", "translate.json"] { XCTAssertTrue(FileManager.default.fileExists(atPath: temp("one/" + f)), f) }
        XCTAssertEqual(try loadImage(path: temp("one/strip.png")).info.width, 2 * 64 + 1)
        // The latent renders the output again.
        try runOK(["generate", "--latent-in", temp("one/latent.npz"), "--out", temp("again.png")])
        let a = try loadImage(path: temp("again.png")).tensor, b = try loadImage(path: temp("one/output.png")).tensor
        XCTAssertLessThanOrEqual(maxAbsDiff(a, b), 2.0 / 255 + 1e-6)

        // A folder: batched, resumable; a bad map fails alone (exit 2) and a wrong size is resized with a note.
        try FileManager.default.copyItem(atPath: root + "/seg", toPath: temp("maps"))
        let gray32 = Tensor(shape: [1, 32, 32], data: [Float](repeating: 3 / 127.5 - 1, count: 1024))
        try saveImage(gray32, to: temp("maps/small.png"))
        try saveImage(Tensor(shape: [1, 64, 64], data: [Float](repeating: 9 / 127.5 - 1, count: 4096)), to: temp("maps/zz_bad.png"))
        let folder = try run(["translate", temp("maps"), "--encoder", enc, "--batch", "3", "--out", temp("out")])
        XCTAssertEqual(folder.status, 2, folder.stderr)
        XCTAssertTrue(folder.stdout.contains("5 translated, 1 failed"), folder.stdout)
        XCTAssertTrue(folder.stderr.contains("small.png: 32×32 resized to 64×64"), folder.stderr)
        XCTAssertTrue(folder.stderr.contains("zz_bad.png") && folder.stderr.contains("class id 9"), folder.stderr)
        try FileManager.default.removeItem(atPath: temp("maps/zz_bad.png"))
        let resumed = try runOK(["translate", temp("maps"), "--encoder", enc, "--out", temp("out")])
        XCTAssertTrue(resumed.stdout.contains("5 already done, 0 translated"), resumed.stdout)

        // Diverse samples and an exemplar (a latent: the first output's) on one map.
        let v = try runOK(["translate", root + "/seg/00001.png", "--encoder", enc, "--samples", "3", "--vary", "fine", "--seed", "5",
                           "--exemplar", temp("one/latent.npz"), "--layers", "middle", "--out", temp("var")])
        XCTAssertTrue(v.stdout.contains("3 samples (rows 8-9 varied)"), v.stdout)
        for f in ["samples.png", "samples/sample0005.png", "samples/sample0007.npz", "strip.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("var/" + f)), f)
        }
        XCTAssertEqual(try loadImage(path: temp("var/strip.png")).info.width, 3 * 64 + 2)   // map | exemplar | output
        let rec = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("var/translate.json")))) as? [String: Any])
        let measured = try XCTUnwrap(rec["variants"] as? [String: Any])
        XCTAssertEqual(measured["exemplar_layers"] as? String, "4-7")
        XCTAssertGreaterThan(try XCTUnwrap(measured["diversity_pixel_l1"] as? Double), 0)
        // The output takes rows 4-7 from the exemplar latent.
        let w = try readNpz(path: temp("var/latent.npz"))["w"]!.toTensor(), ex = try readNpz(path: temp("one/latent.npz"))["w"]!.toTensor()
        XCTAssertEqual(Array(w.storage[(4 * 512)..<(8 * 512)]), Array(ex.storage[(4 * 512)..<(8 * 512)]))
        try runFails(["translate", temp("maps"), "--encoder", enc, "--samples", "3", "--out", temp("v2")], contains: ["one map"])
        try runUsageError(["translate", root + "/seg/00001.png", "--encoder", enc, "--layers", "fine", "--out", temp("v3")], contains: ["--exemplar"])

        // One-line refusals.
        try runFails(["translate", temp("maps/zz_none.png"), "--encoder", enc, "--out", temp("x")], contains: ["zz_none.png"])
        let embedded = packageRoot().appendingPathComponent("Sources/LatentEncoders/Resources/scenes64-encoder.safetensors").path
        try runFails(["translate", root + "/seg/00000.png", "--encoder", embedded, "--out", temp("y")], contains: ["not a guidance encoder"])
        try runFails(["encode", root + "/photo/00000.png", "--encoder", enc, "--out", temp("z")], contains: ["guidance encoder"])
        try runUsageError(["train-encoder", "--pairs", root, "--steps", "1", "--out", temp("w.safetensors")], contains: ["--input"])
        try runUsageError(["train-encoder", "--input", "seg", "--steps", "1", "--out", temp("w.safetensors")], contains: ["--pairs"])
        try runFails(["train-encoder", "--pairs", temp("maps"), "--input", "seg", "--steps", "1", "--out", temp("w.safetensors")], contains: ["seg"])
    }
}
