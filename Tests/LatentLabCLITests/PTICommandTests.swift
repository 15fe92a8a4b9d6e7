import XCTest
import Foundation
import LatentTensor
import LatentImageIO
import LatentInversion
import _TestSupport

/// `invert`/`project --method pti` and `edit` on their folders, as subprocesses, with few steps.
final class PTICommandTests: CLITestCase {
    func scene(_ i: Int) throws -> String {
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared (testdata/scenes) not found") }
        return shared.appendingPathComponent(String(format: "testdata/scenes/scene_%03d.png", i)).path
    }

    func json(_ path: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// invert --method pti on the default generator writes the delta; edit renders with it and says so.
    func testInvertPTIThenEditUsesTheTunedGenerator() throws {
        let out = temp("inv")
        try runOK(["invert", try scene(3), "--method", "pti", "--steps", "3", "--pti-steps", "4", "--rank", "2",
                   "--w-avg-samples", "64", "--out", out])
        let deltaPath = out + "/generator-delta.safetensors"
        let delta = try GeneratorDelta.read(path: deltaPath)
        XCTAssertEqual(delta.rank, 2)
        XCTAssertEqual(delta.layers.count, 18, "9 convolutions, weight and bias")
        let metrics = try json(out + "/metrics.json")
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/metrics.json")), as: UTF8.self)
        XCTAssertTrue(text.contains("\"pti\"") && text.contains("delta_bytes") && text.contains("pivot_psnr"), text)
        XCTAssertNotNil(metrics["psnr"] ?? (metrics["metrics"] as? [String: Any])?["psnr"], text)

        let recipe = packageRoot().appendingPathComponent("Edits/larger-object.json").path
        let r = try runOK(["edit", "--latent-in", out + "/latent.npz", "--recipe", recipe, "--strength", "0", "--out", temp("e")])
        XCTAssertTrue(r.stderr.contains("tuned generator"), r.stderr)
        let edit = try json(temp("e/edit.json"))
        XCTAssertEqual(edit["tuned_generator"] as? String, deltaPath)
        // Strength 0 renders the latent as it is: the tuned reconstruction, not the base's.
        let original = try loadImage(path: temp("e/original.png")).tensor
        let recon = try loadImage(path: out + "/reconstruction.png").tensor
        assertClose(original, recon, atol: 1.5 / 127.5, rtol: 0, "original vs reconstruction")

        // Text edits optimise with the tuned generator too: their "before" is the tuned reconstruction.
        try runOK(["edit", "--latent-in", out + "/latent.npz", "--text", "a red sphere", "--steps", "2", "--out", temp("e3")])
        let textEdit = try json(temp("e3/edit.json"))
        XCTAssertEqual(textEdit["tuned_generator"] as? String, deltaPath, "\(textEdit.keys.sorted())")
        assertClose(try loadImage(path: temp("e3/original.png")).tensor, recon, atol: 1.5 / 127.5, rtol: 0, "text edit's original vs reconstruction")

        // A delta whose base is another generator is refused with one line.
        var other = try GeneratorDelta.read(path: deltaPath)
        other.baseFingerprint = "0123456789abcdef"
        try other.encoded().write(to: URL(fileURLWithPath: deltaPath))
        try runFails(["edit", "--latent-in", out + "/latent.npz", "--recipe", recipe, "--out", temp("e2")],
                     contains: ["generator-delta.safetensors", "0123456789abcdef"])
    }

    /// project --method pti --pti-shared on two images of the tiny32 generator: one delta in both
    /// folders, resumable; --pivot FILE is for invert only.
    func testProjectPTISharedAndResume() throws {
        try FileManager.default.createDirectory(atPath: temp("in"), withIntermediateDirectories: true)
        for i in [0, 7] { try FileManager.default.copyItem(atPath: try scene(i), toPath: temp(String(format: "in/scene_%03d.png", i))) }
        let args = ["project", temp("in"), "--out", temp("out"), "--method", "pti", "--network", modelsFixture("tiny32_weights.safetensors"),
                    "--steps", "2", "--pti-steps", "3", "--pti-shared", "--batch", "2", "--w-avg-samples", "64"]
        try runOK(args)
        let a = try Data(contentsOf: URL(fileURLWithPath: temp("out/scene_000/generator-delta.safetensors")))
        let b = try Data(contentsOf: URL(fileURLWithPath: temp("out/scene_007/generator-delta.safetensors")))
        XCTAssertEqual(a, b, "one shared delta")
        XCTAssertEqual(try GeneratorDelta.decode(data: a, name: "a").rank, 32, "the default rank")
        let again = try runOK(args)
        XCTAssertTrue(again.stdout.contains("2 already done, 0 inverted"), again.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: temp("out/scene_000/generator-delta.safetensors"))), a)
        try runFails(["project", temp("in"), "--out", temp("out2"), "--method", "pti", "--pivot", temp("out/scene_000/latent.npz"),
                      "--network", modelsFixture("tiny32_weights.safetensors")], contains: ["--pivot FILE"])
        try runUsageError(["project", temp("in"), "--out", temp("out3"), "--rank", "4"], contains: ["--method pti"])
        for bad in ["0", "two"] {
            try runUsageError(["project", temp("in"), "--out", temp("out3"), "--method", "pti", "--rank", bad], contains: ["--rank", "full"])
        }
        // --rank full: dense differences, recorded as such.
        try runOK(["project", temp("in"), "--out", temp("out4"), "--method", "pti", "--network", modelsFixture("tiny32_weights.safetensors"),
                   "--steps", "1", "--pti-steps", "1", "--rank", "full", "--pti-shared", "--batch", "2", "--w-avg-samples", "64"])
        let full = try GeneratorDelta.read(path: temp("out4/scene_000/generator-delta.safetensors"))
        XCTAssertNil(full.rank)
        for name in full.layers { if case .lowRank = full.differences[name]! { XCTFail("\(name) is low-rank") } }
        XCTAssertEqual(((try json(temp("out4/scene_000/metrics.json"))["arguments"] as? [String: Any])?["rank"]) as? String, "full")
    }
}
