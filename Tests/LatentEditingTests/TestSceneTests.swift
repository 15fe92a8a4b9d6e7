import XCTest
import Foundation
import LatentTensor
import LatentImageIO
import LatentFormats
import LatentModels
import LatentEditing
import _TestSupport
import _LatentVerification

/// The measuring tools of the text-edit verification (Bench/clip-edit.md): colour bins, HSV,
/// object boxes and pixels from `factors.json`, masked PSNR, 8-bit rounding.
final class TestSceneTests: XCTestCase {
    func testHSVMatchesColorsys() {
        // Values of Python's colorsys.rgb_to_hsv.
        let cases: [([Double], (Double, Double, Double))] = [
            ([1, 0, 0], (0, 1, 1)), ([0, 1, 0], (1.0 / 3, 1, 1)), ([0, 0, 1], (2.0 / 3, 1, 1)), ([1, 1, 0], (1.0 / 6, 1, 1)),
            ([0.5, 0.25, 0.75], (0.75, 2.0 / 3, 0.75)), ([1, 0, 0.5], (11.0 / 12, 1, 1)), ([0.4, 0.4, 0.4], (0, 0, 0.4)),
            ([0.2, 0.6, 0.5], (0.4583333333333333, 0.6666666666666666, 0.6)),
        ]
        let image = Tensor(shape: [3, 1, cases.count], generator: { i in Float(cases[i % cases.count].0[i / cases.count] * 2 - 1) })
        for (i, p) in hsvPixels(image).enumerated() {
            let e = cases[i].1
            XCTAssertEqual(p.h, e.0, accuracy: 1e-6, "case \(i)"); XCTAssertEqual(p.s, e.1, accuracy: 1e-6); XCTAssertEqual(p.v, e.2, accuracy: 1e-6)
        }
    }

    func testColourBinsAndMeanHue() {
        XCTAssertEqual([0.0, 0.02, 0.1, 0.15, 0.3, 0.5, 0.6, 0.75, 0.85, 0.95, 0.999, 1.02].map { TestScene.colourName(hue: $0) },
                       ["red", "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "red", "red", "red"])
        // Reds on both sides of 0 average to red (a circular mean), not to cyan.
        let image = Tensor(shape: [3, 1, 2], data: [1, 1, /* g */ -1, -1, /* b */ -0.9, -1])
        var image2 = image
        image2[flat: 0] = 1; image2[flat: 2] = -1; image2[flat: 4] = -0.8     // hue ≈ 0.983
        image2[flat: 1] = 1; image2[flat: 3] = -0.8; image2[flat: 5] = -1     // hue ≈ 0.017
        let h = meanHue(image2, pixels: [true, true])
        XCTAssertLessThan(min(h, 1 - h), 1e-6)
        XCTAssertEqual(TestScene.colourName(hue: meanHue(image, pixels: [true, true])), "red")
    }

    func testMaskedPSNRAndQuantisation() throws {
        let a = Tensor.zeros([3, 4, 4])
        var b = a
        for i in 0..<b.count { b[flat: i] = i % 16 < 8 ? 0.2 : 0.8 }          // [0, 1] differences 0.1 (rows 0-1) and 0.4 (rows 2-3)
        let top = (0..<16).map { $0 < 8 }
        XCTAssertEqual(maskedPSNR(a, b, pixels: top), 20, accuracy: 1e-5)
        XCTAssertEqual(maskedPSNR(a, b, pixels: top.map(!)), -20 * log10(0.4), accuracy: 1e-5)
        // quantized8Bit gives exactly what a saved and re-read PNG holds.
        var rng = TestRNG(seed: 7)
        let x = Tensor(shape: [3, 5, 7], generator: { _ in Float(rng.uniform(-1.2, 1.2)) })
        let path = NSTemporaryDirectory() + "/latentlab-quantised-\(ProcessInfo.processInfo.processIdentifier).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try saveImage(x, to: path)
        XCTAssertEqual(try loadImage(path: path).tensor.storage, quantized8Bit(x).storage)
    }

    /// On the 24 rendered scenes: the colour word of the hue is the caption's (where it names
    /// one), the factor box holds the object that the pixel statistics find, and the photo's
    /// object pixels lie in it and carry the object's hue.
    func testSceneFactorsAgainstPixels() throws {
        guard let shared = sharedDirectory() else { return }   // ../shared absent: nothing to check against
        let scenes = try TestScene.loadAll(directory: shared.appendingPathComponent("testdata/scenes").path)
        XCTAssertEqual(scenes.count, 24)
        XCTAssertEqual(scenes[0].description(), "a purple sphere on a purple floor in front of a yellow wall")
        XCTAssertEqual(scenes[0].description(colour: "orange", shape: "cube"), "an orange cube on a purple floor in front of a yellow wall")
        for s in scenes {
            // The words before the object's noun ("a photo of a large blue cone with …").
            let words = s.caption.split(separator: " ").map(String.init)
            let nouns: Set = ["ball", "sphere", "cone", "cube", "box", "block", "can", "cylinder"]
            let objectWords = words.prefix(while: { !nouns.contains($0) })
            XCTAssertLessThan(objectWords.count, words.count, "\(s.name): no object noun in '\(s.caption)'")
            if let named = objectWords.first(where: TestScene.colourWords.contains) { XCTAssertEqual(s.colour, named, s.name) }
            let r = s.photo.shape[2]
            let box = s.objectBox(resolution: r), stats = sceneStatistics(image: s.photo)
            XCTAssertTrue(stats.box.left >= box.x0 && stats.box.right < box.x1 && stats.box.top >= box.y0 && stats.box.bottom < box.y1,
                          "\(s.name): object \(stats.box) outside the factor box \(box)")
            let pixels = s.objectPixels()
            XCTAssertGreaterThan(pixels.filter { $0 }.count, 10, s.name)
            XCTAssertEqual(TestScene.colourName(hue: meanHue(s.photo, pixels: pixels)), s.colour, s.name)
        }
    }
}

/// `runTextEditVerification` end to end on two scenes (two colour edits, one shape edit, a few
/// steps): it must finish, write a record per edit with every measurement, the edited images and
/// the example sheet, and refuse bad arguments.
final class TextEditVerificationRunTests: XCTestCase {
    func testRunsOnTwoScenes() throws {
        guard let shared = sharedDirectory() else { return }   // ../shared absent: no scenes
        let scenes = shared.appendingPathComponent("testdata/scenes").path
        let dir = NSTemporaryDirectory() + "/latentlab-textedit-verify-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Stand-in inversions: w_avg on every row (any latent of the right shape will do here).
        let G = try StyleGAN2Generator.loadDefault()
        let w = Tensor(shape: [1, G.numWs, G.wDim], generator: { G.wAvg[flat: $0 % G.wDim] })
        for stem in ["scene_000", "scene_004"] {
            try FileManager.default.createDirectory(atPath: "\(dir)/inv/\(stem)", withIntermediateDirectories: true)
            try writeNpz(["w": w], to: "\(dir)/inv/\(stem)/latent.npz")
        }
        let common = ["--scenes", scenes, "--inversions", dir + "/inv", "--only", "scene_000,scene_004"]
        XCTAssertTrue(runTextEditVerification(arguments: common + ["--colours", "red", "--shapes", "sphere,cube", "--steps", "3",
                                                                   "--augment", "1", "--flips", "1", "--min-crop", "0.8",
                                                                   "--mask", "box", "--out", dir + "/out"]))
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/edits.json"))) as! [String: Any]
        let edits = record["edits"] as! [[String: Any]]
        // scene_000: purple sphere → red, → cube; scene_004: cyan cube → red, → sphere.
        XCTAssertEqual(edits.map { "\($0["scene"]!) \($0["kind"]!) \($0["target"]!)" },
                       ["scene_000.png colour red", "scene_000.png shape cube", "scene_004.png colour red", "scene_004.png shape sphere"])
        for e in edits {
            for key in ["predicted_colour", "predicted_shape", "success", "robust_success", "other_kept", "psnr_outside_box",
                        "psnr_inside_box", "cos_prompt_before", "cos_prompt_after", "image", "prompt"] {
                XCTAssertNotNil(e[key], "\(key) missing")
            }
            XCTAssertNotNil(e[e["kind"] as! String == "colour" ? "hue_success" : "outline_success"])
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/" + (e["image"] as! String)))
            XCTAssertTrue((e["psnr_outside_box"] as! Double).isFinite)
        }
        XCTAssertEqual(edits[0]["prompt"] as? String, "a red sphere on a purple floor in front of a yellow wall")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/examples.png"))
        XCTAssertFalse(runTextEditVerification(arguments: common + ["--space", "z"]))
        XCTAssertFalse(runTextEditVerification(arguments: common + ["--colours", "mauve"]))
        XCTAssertFalse(runTextEditVerification(arguments: ["--scenes", scenes, "--inversions", dir + "/none"]))
    }
}
