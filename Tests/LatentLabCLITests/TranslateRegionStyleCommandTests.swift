import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import _TestSupport

/// `translate MAP --region-style CLASS=IMG|latent …` as a subprocess, on the shared paired scenes
/// with a 2-step seg encoder (the files, the confinement and the refusals; the colour transfer
/// is measured by `LatentBench region-style`, Bench/conditional.md).
extension TranslateCommandTests {
    func testRegionStyleConfinedAndRefusals() throws {
        let root = try pairs()
        let enc = temp("seg.safetensors")
        try runOK(["train-encoder", "--pairs", root, "--input", "seg", "--classes", "7", "--steps", "2", "--batch", "2",
                   "--base-channels", "4", "--max-channels", "8", "--msssim", "0", "--out", enc])
        let map = root + "/seg/00000.png"
        try runOK(["translate", map, "--encoder", enc, "--out", temp("plain")])
        try runOK(["translate", root + "/seg/00002.png", "--encoder", enc, "--out", temp("ex")])
        // A class absent from the map is skipped with a warning; wall from a latent, object from a photo.
        let ids = try loadImage(path: map).tensor.storage.prefix(64 * 64).map { Int((($0 + 1) * 127.5).rounded()) }
        let absent = (0..<7).first { !ids.contains($0) }
        var args = ["translate", map, "--encoder", enc, "--region-style", "wall=" + temp("ex/latent.npz"),
                    "--region-style", "object=" + root + "/photo/00003.png", "--layers", "0-9", "--blend-res", "16", "--out", temp("rs")]
        if let absent { args += ["--region-style", "\(absent)=" + temp("ex/latent.npz")] }
        let r = try runOK(args)
        XCTAssertTrue(r.stdout.contains("2 region style(s) (rows 0-9, blended from 16²)"), r.stdout)
        if let absent { XCTAssertTrue(r.stderr.contains("no \(absent) pixels; skipped"), r.stderr) }
        XCTAssertEqual(try loadImage(path: temp("rs/strip.png")).info.width, 5 * 64 + 4)   // map | 2 exemplars | plain | styled
        // latent.npz keeps the map's own codes; the output differs from the plain one inside the regions only.
        XCTAssertEqual(try readNpzW(temp("rs/latent.npz")), try readNpzW(temp("plain/latent.npz")))
        let plain = try loadImage(path: temp("plain/output.png")).tensor, styled = try loadImage(path: temp("rs/output.png")).tensor
        var outside: Float = 0, inside: Float = 0
        for c in 0..<3 { for (q, id) in ids.enumerated() {
            let d = abs(plain.storage[c * 4096 + q] - styled.storage[c * 4096 + q])
            if id >= 3 { inside = max(inside, d) } else if id != 0 { outside = max(outside, d) }
        } }
        XCTAssertLessThanOrEqual(outside, 2.0 / 255 + 1e-6)
        XCTAssertGreaterThan(inside, 0.05)
        let rec = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("rs/translate.json")))) as? [String: Any])
        let measured = try XCTUnwrap(rec["variants"] as? [String: Any])
        XCTAssertEqual(measured["region_layers"] as? String, "0-9")
        XCTAssertEqual(measured["blend_resolution"] as? Int, 16)
        let styles = try XCTUnwrap(measured["region_styles"] as? [[String: Any]])
        XCTAssertEqual(styles.map { $0["region"] as? String }, ["wall", "object"])
        XCTAssertEqual(styles[1]["class_ids"] as? [Int], [3, 4, 5, 6])

        // One-line refusals.
        try runFails(["translate", map, "--encoder", enc, "--region-style", "ceiling=" + temp("ex/latent.npz"), "--out", temp("f1")],
                     contains: ["ceiling", "unknown class"])
        try runFails(["translate", map, "--encoder", enc, "--region-style", "7=" + temp("ex/latent.npz"), "--out", temp("f2")], contains: ["0-6"])
        try runFails(["translate", map, "--encoder", enc, "--region-style", "wall=" + temp("none.png"), "--out", temp("f3")], contains: ["none.png", "no such file"])
        try runUsageError(["translate", map, "--encoder", enc, "--region-style", "wall=" + temp("ex/latent.npz"), "--samples", "3", "--out", temp("f4")],
                          contains: ["--samples"])
        try runFails(["translate", root + "/seg", "--encoder", enc, "--region-style", "wall=" + temp("ex/latent.npz"), "--out", temp("f5")],
                     contains: ["one map"])
        // A sketch encoder has no classes.
        guard let shared = sharedDirectory() else { return }
        let sketches = temp("sketch-pairs")
        for sub in ["sketch", "photo"] {
            try FileManager.default.createDirectory(atPath: sketches + "/" + sub, withIntermediateDirectories: true)
            for name in ["00000.png", "00001.png"] {
                try FileManager.default.copyItem(atPath: shared.appendingPathComponent("paired/scenes/test/\(sub)/\(name)").path, toPath: sketches + "/\(sub)/" + name)
            }
        }
        let sketchEnc = temp("sketch.safetensors")
        try runOK(["train-encoder", "--pairs", sketches, "--input", "sketch", "--steps", "1", "--batch", "2",
                   "--base-channels", "4", "--max-channels", "8", "--msssim", "0", "--out", sketchEnc])
        try runFails(["translate", sketches + "/sketch/00000.png", "--encoder", sketchEnc, "--region-style", "wall=" + temp("ex/latent.npz"),
                      "--out", temp("f6")], contains: ["seg encoder"])
    }

    private func readNpzW(_ path: String) throws -> [Float] { try readNpz(path: path)["w"]!.toTensor().storage }
}
