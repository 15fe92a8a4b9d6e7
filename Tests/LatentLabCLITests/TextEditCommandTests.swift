import Foundation
import XCTest
import LatentFormats
import LatentTensor

/// `latentlab edit --text …` run as a process on the embedded models: the files it writes, the
/// layer range, and option errors.
final class TextEditCommandTests: XCTestCase {
    func testTextAndDirectionalEditsWriteResults() throws {
        let dir = try ClipCommandTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A latent of the default generator (numWs 10, wDim 512) with a deterministic pattern.
        let w = Tensor(shape: [1, 10, 512]) { Float(sin(Double($0) * 0.37)) * 0.5 }
        let latent = dir.appendingPathComponent("latent.npz").path
        try writeNpz(["w": w], to: latent)

        let textOut = dir.appendingPathComponent("text").path
        let r = try ClipCommandTests.run(["edit", "--latent-in", latent, "--text", "a red cube", "--steps", "4", "--out", textOut])
        XCTAssertEqual(r.status, 0, r.err)
        for name in ["latent.npz", "edited.png", "original.png", "strip.png", "edit.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: textOut + "/" + name), name)
        }
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: textOut + "/edit.json"))) as! [String: Any]
        let scores = record["scores"] as! [String: Any]
        XCTAssertNotNil(scores["cos_text_before"] as? Double)
        XCTAssertNotNil(scores["cos_text_after"] as? Double)
        XCTAssertEqual(record["text"] as? String, "a red cube")
        // Defaults are the measured recommended settings (Bench/clip-edit.md), recorded as numbers.
        XCTAssertEqual(record["lambda_l2"] as? Double, 0.0005)
        XCTAssertEqual(record["augment"] as? Int, 8)
        XCTAssertEqual(record["flips"] as? Bool, true)
        XCTAssertEqual(record["min_crop"] as? Double, 0.6)
        // The summary reports the judging check (held-out views), not only CLIP's cosine.
        for key in ["judge_cos_before", "judge_cos_after", "judge_passed", "psnr"] { XCTAssertNotNil(scores[key] as? Double, key) }
        XCTAssertTrue(r.out.contains("unseen views (mirror, blur)"), r.out)

        let dirOut = dir.appendingPathComponent("direction").path
        let d = try ClipCommandTests.run(["edit", "--latent-in", latent, "--text-from", "a sphere", "--text-to", "a cube",
                                          "--layers", "3-5", "--steps", "3", "--out", dirOut])
        XCTAssertEqual(d.status, 0, d.err)
        let edited = try readNpz(path: dirOut + "/latent.npz")["w"]!.toTensor()
        XCTAssertEqual(edited.shape, [1, 10, 512])
        for row in 0..<10 {
            let same = (0..<512).allSatisfy { edited[0, row, $0] == w[0, row, $0] }
            XCTAssertEqual(same, !(3...5).contains(row), "row \(row)")
        }
        let dscores = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dirOut + "/edit.json"))) as! [String: Any])["scores"] as! [String: Any]
        XCTAssertNotNil(dscores["cos_direction"] as? Double)
    }

    func testOptionErrors() throws {
        let both = try ClipCommandTests.run(["edit", "--latent-in", "x.npz", "--text", "a", "--text-from", "b", "--text-to", "c", "--out", "/tmp/o"])
        XCTAssertNotEqual(both.status, 0)
        let half = try ClipCommandTests.run(["edit", "--latent-in", "x.npz", "--text-from", "b", "--out", "/tmp/o"])
        XCTAssertNotEqual(half.status, 0)
        XCTAssertTrue(half.err.contains("--text-to"), half.err)
        let mixed = try ClipCommandTests.run(["edit", "--latent-in", "x.npz", "--text", "a", "--direction", "d.safetensors", "--out", "/tmp/o"])
        XCTAssertNotEqual(mixed.status, 0)
    }

    /// A missing or unusable input found at run time is a one-line error with exit 1 (not the
    /// usage, exit 64); a strength list may start with a minus sign.
    func testRunTimeErrorsAndNegativeStrengths() throws {
        let dir = try ClipCommandTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try ClipCommandTests.run(["edit", "--latent-in", dir.path + "/nothing.npz", "--text", "a red cube", "--out", dir.path + "/o"])
        XCTAssertEqual(missing.status, 1, missing.err)
        XCTAssertTrue(missing.err.contains("no such file or folder"), missing.err)
        XCTAssertFalse(missing.err.contains("USAGE"), missing.err)
        let empty = dir.appendingPathComponent("empty").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let none = try ClipCommandTests.run(["edit", "--latent-in", empty, "--text", "a red cube", "--out", dir.path + "/o"])
        XCTAssertEqual(none.status, 1, none.err)
        XCTAssertTrue(none.err.contains("no latent.npz"), none.err)
        let two = dir.appendingPathComponent("two.npz").path
        try writeNpz(["w": Tensor(shape: [2, 10, 512], repeating: 0.1)], to: two)
        let many = try ClipCommandTests.run(["edit", "--latent-in", two, "--text", "a red cube", "--out", dir.path + "/o"])
        XCTAssertEqual(many.status, 1, many.err)
        XCTAssertTrue(many.err.contains("holds 2 latents"), many.err)

        let latent = dir.appendingPathComponent("latent.npz").path
        try writeNpz(["w": Tensor(shape: [1, 10, 512]) { Float(cos(Double($0) * 0.11)) * 0.5 }], to: latent)
        // The shipped SeFa library (Tests/LatentLabCLITests/ → the repository root).
        let library = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Latents/sefa.safetensors").path
        let out = dir.appendingPathComponent("strengths").path
        let r = try ClipCommandTests.run(["edit", "--latent-in", latent, "--direction", library, "--strength", "-3,0,3", "--out", out])
        XCTAssertEqual(r.status, 0, r.err)
        let bad = try ClipCommandTests.run(["edit", "--latent-in", latent, "--direction", library, "--strength", "-3,x", "--out", out])
        XCTAssertEqual(bad.status, 64, bad.err)
        XCTAssertTrue(bad.err.contains("bad strength"), bad.err)
    }
}
