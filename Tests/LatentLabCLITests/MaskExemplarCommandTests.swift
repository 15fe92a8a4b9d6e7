import Foundation
import XCTest
import LatentFormats
import LatentTensor
import _TestSupport

/// `edit --mask` (feature blending), `edit --exemplar`, `inpaint` and `generate --like` run as
/// processes on the embedded scenes64 generator with few steps.
final class MaskExemplarCommandTests: CLITestCase {
    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    func ws(_ path: String) throws -> Tensor { try readNpz(path: path)["w"]!.toTensor() }

    var scene0: String { packageRoot().appendingPathComponent("Tests/LatentInversionTests/Resources/scenes/scene_000.png").path }
    var scene1: String { packageRoot().appendingPathComponent("Tests/LatentInversionTests/Resources/scenes/scene_001.png").path }

    /// A recipe confined to the right half: the left half stays the original to ≥ 45 dB while the
    /// unconfined edit moves it; a direction with two strengths records each.
    func testEditWithMaskConfinesDirectionsAndRecipes() throws {
        try runOK(["generate", "--seeds", "5,7", "--out", temp("g")])
        let recipe = packageRoot().appendingPathComponent("Edits/red-wall.json").path
        let r = try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--recipe", recipe, "--mask", cliFixture("mask_right_half_64.png"),
                           "--blend-res", "16", "--out", temp("e")])
        XCTAssertTrue(r.stdout.contains("outside the mask"), r.stdout)
        for name in ["original.png", "edited.png", "strip.png", "latent.npz", "edit.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("e/" + name)), name)
        }
        let record = try json(temp("e/edit.json"))
        XCTAssertEqual(record["blend_res"] as? Int, 16)
        let m = (record["metrics"] as! [String: Any])["edited"] as! [String: Double]
        XCTAssertGreaterThanOrEqual(m["psnr_outside_mask"]!, 45)
        XCTAssertLessThan(m["psnr_outside_mask_unconfined"]!, 40, "the recipe must change the left half when unconfined")
        XCTAssertLessThan(m["psnr_inside_vs_unconfined"]!, 120)

        try runOK(["edit", "--latent-in", temp("g/seed0007.npz"), "--direction", "sefa:0", "--strength", "-3,3",
                   "--mask", cliFixture("mask_right_half_64.png"), "--out", temp("d")])
        let d = try json(temp("d/edit.json"))
        XCTAssertEqual(d["blend_res"] as? Int, 16, "default: a quarter of the resolution")
        let dm = d["metrics"] as! [String: [String: Double]]
        XCTAssertEqual(Set(dm.keys), ["-3.00", "+3.00"])
        for (_, v) in dm { XCTAssertGreaterThanOrEqual(v["psnr_outside_mask"]!, 45) }
    }

    /// A named region computed from the render: the wall recipe inside the wall only.
    func testNamedRegionMask() throws {
        try runOK(["generate", "--seeds", "5", "--out", temp("g")])
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--recipe", packageRoot().appendingPathComponent("Edits/red-wall.json").path,
                   "--mask", "wall", "--out", temp("w")])
        let rec = try json(temp("w/edit.json"))
        XCTAssertEqual(rec["mask"] as? String, "wall")
        let m = (rec["metrics"] as! [String: Any])["edited"] as! [String: Double]
        XCTAssertGreaterThanOrEqual(m["psnr_outside_mask"]!, 45)
        XCTAssertLessThan(m["psnr_outside_mask_unconfined"]!, 40)
    }

    /// A recipe that carries its region: confined without --mask; --mask overrides it.
    func testRecipeCarriesItsMask() throws {
        try runOK(["generate", "--seeds", "5", "--out", temp("g")])
        let recipe = packageRoot().appendingPathComponent("Edits/red-wall-only.json").path
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--recipe", recipe, "--blend-res", "32", "--out", temp("r")])
        let rec = try json(temp("r/edit.json"))
        XCTAssertEqual(rec["mask"] as? String, "wall")
        XCTAssertEqual(rec["mask_from"] as? String, "recipe")
        XCTAssertEqual(rec["blend_res"] as? Int, 32)
        XCTAssertEqual(rec["feather"] as? Double, 0, "the recipe's own feather")
        XCTAssertGreaterThanOrEqual(((rec["metrics"] as! [String: Any])["edited"] as! [String: Double])["psnr_outside_mask"]!, 45)
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--recipe", recipe, "--feather", "1.5", "--out", temp("f")])
        XCTAssertEqual(try json(temp("f/edit.json"))["feather"] as? Double, 1.5, "--feather overrides the recipe's")
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--recipe", recipe, "--mask", cliFixture("mask_right_half_64.png"),
                   "--out", temp("o")])
        let overridden = try json(temp("o/edit.json"))
        XCTAssertEqual(overridden["mask"] as? String, cliFixture("mask_right_half_64.png"))
        XCTAssertEqual(overridden["feather"] as? Double, 1, "the recipe's feather goes with its mask")
    }

    /// A mask of another size is resized with a note; a file that is no image is one line; a
    /// blend resolution that is no block is one line; --blend-res without --mask is a usage error.
    func testBadMasks() throws {
        try runOK(["generate", "--seeds", "5", "--out", temp("g")])
        let r = try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--direction", "sefa:0", "--strength", "2",
                           "--mask", cliFixture("mask_hole_32.png"), "--out", temp("e")])
        XCTAssertTrue(r.stderr.contains("note: --mask") && r.stderr.contains("32×32"), r.stderr)
        try runFails(["edit", "--latent-in", temp("g/seed0005.npz"), "--direction", "sefa:0", "--mask", cliFixture("text.png"),
                      "--out", temp("x")], contains: ["--mask", "text.png"])
        try runFails(["edit", "--latent-in", temp("g/seed0005.npz"), "--direction", "sefa:0", "--mask", cliFixture("mask_right_half_64.png"),
                      "--blend-res", "128", "--out", temp("x")], contains: ["--blend-res", "128"])
        try runUsageError(["edit", "--latent-in", "x.npz", "--direction", "sefa:0", "--blend-res", "16", "--out", temp("x")],
                          contains: ["--blend-res"])
        try runFails(["inpaint", scene0, "--mask", cliFixture("text.png"), "--steps", "2", "--out", temp("i")], contains: ["--mask"])
    }

    /// A latent exemplar's fine rows replace the latent's (alpha 1), the rest is untouched; alpha
    /// 0.5 lands halfway; another generator's latent is refused with one line; an image exemplar
    /// is inverted into OUT/exemplar; with a mask the region alone takes its style.
    func testExemplarTransfer() throws {
        try runOK(["generate", "--seeds", "5,9", "--out", temp("g")])
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", temp("g/seed0009.npz"), "--layers", "fine",
                   "--out", temp("e")])
        let (w, ex, out) = (try ws(temp("g/seed0005.npz")), try ws(temp("g/seed0009.npz")), try ws(temp("e/latent.npz")))
        for row in 0..<10 { for j in stride(from: 0, to: 512, by: 37) {
            XCTAssertEqual(out[0, row, j], row >= 8 ? ex[0, row, j] : w[0, row, j], "row \(row)")
        } }
        XCTAssertEqual(try json(temp("e/edit.json"))["layers"] as? String, "8-9")
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("e/exemplar.png")))
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", temp("g/seed0009.npz"), "--layers", "2-3",
                   "--alpha", "0.5", "--out", temp("h")])
        let half = try ws(temp("h/latent.npz"))
        XCTAssertEqual(half[0, 2, 7], (w[0, 2, 7] + ex[0, 2, 7]) / 2, accuracy: 1e-5)
        XCTAssertEqual(half[0, 4, 7], w[0, 4, 7])

        try writeNpz(["w": Tensor.zeros([1, 8, 128])], to: temp("other.npz"))
        try runFails(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", temp("other.npz"), "--out", temp("x")],
                     contains: ["--exemplar", "other.npz"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("x/latent.npz")))

        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", scene1, "--exemplar-steps", "3",
                   "--mask", cliFixture("mask_right_half_64.png"), "--out", temp("i")])
        for name in ["exemplar/latent.npz", "exemplar/metrics.json", "edited.png", "strip.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("i/" + name)), name)
        }
        let rec = try json(temp("i/edit.json"))
        XCTAssertEqual(rec["exemplar_kind"] as? String, "image")
        XCTAssertGreaterThanOrEqual(((rec["metrics"] as! [String: Any])["edited"] as! [String: Double])["psnr_outside_mask"]!, 45)
    }

    /// `--channels SET`: the shipped colour-channel set moves only the rows its layers read
    /// (recorded in edit.json); the set file's checks and the option conflicts are one line each.
    func testExemplarStyleChannels() throws {
        let set = packageRoot().appendingPathComponent("Latents/scenes64-colour-channels.json").path
        try runOK(["generate", "--seeds", "5,9", "--out", temp("g")])
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", temp("g/seed0009.npz"), "--channels", set,
                   "--out", temp("e")])
        let record = try json(temp("e/edit.json"))
        XCTAssertEqual(record["channel_set"] as? String, "colour")
        XCTAssertGreaterThan(record["channel_count"] as? Int ?? 0, 0)
        XCTAssertNil(record["layers"])
        let (w, out) = (try ws(temp("g/seed0005.npz")), try ws(temp("e/latent.npz")))
        XCTAssertGreaterThan(maxAbsDiff(w, out), 1e-3, "the exemplar's channels must move the latent")
        // The set's layers, hence the rows that may move (ToRGB of block b reads row 2·log2(b) − 3).
        let channels = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: set))) as! [String: Any])["channels"] as! [String: Any]
        var rows = Set<Int>()
        for layer in channels.keys {
            let parts = layer.split(separator: ".")
            let k = Int(log2(Double(Int(parts[0].dropFirst())!)))
            rows.insert(parts[1] == "conv0" ? 2 * k - 5 : parts[1] == "conv1" ? 2 * k - 4 : 2 * k - 3)
        }
        for row in 0..<10 where !rows.contains(row) { for j in stride(from: 0, to: 512, by: 31) {
            XCTAssertEqual(out[0, row, j], w[0, row, j], "row \(row) is read by no layer of the set")
        } }
        // With a mask the channel transfer is confined like any edit.
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", temp("g/seed0009.npz"), "--channels", set,
                   "--mask", cliFixture("mask_right_half_64.png"), "--out", temp("m")])
        let masked = try json(temp("m/edit.json"))
        XCTAssertGreaterThanOrEqual(((masked["metrics"] as! [String: Any])["edited"] as! [String: Double])["psnr_outside_mask"]!, 45)
        try runFails(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", temp("g/seed0009.npz"), "--channels", set,
                      "--layers", "fine", "--out", temp("x")], contains: ["--layers", "--channels"])
        try runUsageError(["edit", "--latent-in", temp("g/seed0005.npz"), "--recipe", packageRoot().appendingPathComponent("Edits/red-wall.json").path,
                           "--channels", set, "--out", temp("x")], contains: ["--channels applies to --exemplar"])
        try runFails(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", temp("g/seed0009.npz"), "--channels",
                      packageRoot().appendingPathComponent("Edits/red-wall.json").path, "--out", temp("x")],
                     contains: ["--channels", "not a style-channel set"])
        try Data(#"{"format": "latentlab-style-channels", "name": "odd", "generator": "x", "channels": {"b128.torgb": [1]}}"#.utf8)
            .write(to: URL(fileURLWithPath: temp("odd.json")))
        try runFails(["edit", "--latent-in", temp("g/seed0005.npz"), "--exemplar", temp("g/seed0009.npz"), "--channels", temp("odd.json"),
                      "--out", temp("x")], contains: ["no layer b128.torgb"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("x/latent.npz")))
    }

    /// A text edit with a mask is confined by blending too: the judged PSNR outside the mask.
    func testTextEditWithMaskIsBlended() throws {
        try runOK(["generate", "--seeds", "5", "--out", temp("g")])
        try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--text", "a red sphere", "--steps", "2", "--augment", "0",
                   "--mask", cliFixture("mask_right_half_64.png"), "--blend-res", "32", "--out", temp("t")])
        let rec = try json(temp("t/edit.json"))
        XCTAssertEqual(rec["blend_res"] as? Int, 32)
        XCTAssertGreaterThanOrEqual((rec["scores"] as! [String: Double])["psnr_outside_mask"]!, 45)
    }

    /// --target-image runs the text-edit machinery toward CLIP's embedding of an image.
    func testTargetImage() throws {
        try runOK(["generate", "--seeds", "5", "--out", temp("g")])
        let r = try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--target-image", scene1, "--steps", "2", "--augment", "0",
                           "--out", temp("t")])
        XCTAssertTrue(r.stdout.contains("cos(image, text)"), r.stdout)
        let rec = try json(temp("t/edit.json"))
        XCTAssertEqual(rec["target_image"] as? String, scene1)
        XCTAssertNotNil((rec["scores"] as! [String: Double])["cos_text_after"])
        try runUsageError(["edit", "--latent-in", "x.npz", "--target-image", scene1, "--text", "a cube", "--out", temp("x")],
                          contains: ["--target-image"])
        try runFails(["edit", "--latent-in", temp("g/seed0005.npz"), "--target-image", cliFixture("text.png"), "--steps", "1",
                      "--out", temp("y")], contains: ["--target-image"])
    }

    /// inpaint writes the fill, the composite, the latent, the strip and metrics; the composite
    /// equals the input away from the hole.
    func testInpaint() throws {
        let r = try runOK(["inpaint", scene0, "--mask", cliFixture("mask_hole_32.png"), "--steps", "4", "--out", temp("p")])
        XCTAssertTrue(r.stderr.contains("note: --mask"), r.stderr)
        for name in ["filled.png", "composite.png", "latent.npz", "strip.png", "metrics.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("p/" + name)), name)
        }
        let m = try json(temp("p/metrics.json"))["metrics"] as! [String: Any]
        XCTAssertEqual(m["hole_fraction"] as! Double, 12.0 * 12 / (32 * 32), accuracy: 0.005)   // resampled edges are soft
        XCTAssertGreaterThan(m["psnr_outside_hole_composite"] as! Double, m["psnr_outside_hole"] as! Double)
        XCTAssertEqual(try ws(temp("p/latent.npz")).shape, [1, 10, 512])
    }

    /// generate --like keeps the rows outside --vary and records the diversity.
    func testGenerateLike() throws {
        try runOK(["generate", "--seeds", "5", "--out", temp("g")])
        let r = try runOK(["generate", "--like", temp("g/seed0005.npz"), "--vary", "fine", "--samples", "3", "--seed", "11",
                           "--out", temp("v")])
        XCTAssertTrue(r.stdout.contains("diversity over 2 pairs"), r.stdout)
        let w = try ws(temp("g/seed0005.npz"))
        for s in 11...13 {
            let v = try ws(temp(String(format: "v/sample%04d.npz", s)))
            XCTAssertEqual(v[0, 7, 3], w[0, 7, 3])
            XCTAssertNotEqual(v[0, 8, 3], w[0, 8, 3])
        }
        let d = try json(temp("v/generate.json"))["diversity"] as! [String: Any]
        XCTAssertEqual(d["pairs"] as? Int, 2)
        XCTAssertGreaterThan(d["pixel_l1"] as! Double, 0)
        XCTAssertGreaterThan(d["clip_cosine"] as! Double, 0)
        try runUsageError(["generate", "--seeds", "1", "--like", temp("g/seed0005.npz"), "--out", temp("x")], contains: ["--like"])
        // LPIPS diversity with user weights: random AlexNet-LPIPS weights of the official shapes.
        var rng = TestRNG(seed: 21)
        var tensors: [(name: String, tensor: Tensor)] = []
        for (i, (out, inp, k)) in [(64, 3, 11), (192, 64, 5), (384, 192, 3), (256, 384, 3), (256, 256, 3)].enumerated() {
            let index = [0, 3, 6, 8, 10][i], bound = 1 / Double(inp * k * k).squareRoot()
            tensors.append(("features.\(index).weight", rng.tensor([out, inp, k, k], -bound, bound)))
            tensors.append(("features.\(index).bias", rng.tensor([out], -0.05, 0.05)))
        }
        for (k, ch) in [64, 192, 384, 256, 256].enumerated() { tensors.append(("lin\(k).model.1.weight", rng.tensor([1, ch, 1, 1], 0, 1))) }
        try writeSafeTensors(tensors, to: temp("lpips.safetensors"))
        let l = try runOK(["generate", "--like", temp("g/seed0005.npz"), "--vary", "coarse", "--samples", "2", "--lpips-weights",
                           temp("lpips.safetensors"), "--lpips-net", "alex", "--out", temp("l")])
        XCTAssertTrue(l.stdout.contains("LPIPS"), l.stdout)
        XCTAssertGreaterThan((try json(temp("l/generate.json"))["diversity"] as! [String: Any])["lpips"] as! Double, 0)
    }
}
