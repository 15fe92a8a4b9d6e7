import XCTest
import Foundation
import _TestSupport

/// `latentlab train-encoder` as a subprocess on the tiny32 golden generator.
final class TrainEncoderCommandTests: CLITestCase {
    var small: [String] {
        ["--network", modelsFixture("tiny32_weights.safetensors"), "--batch", "2", "--base-channels", "4",
         "--max-channels", "8", "--progressive-every", "1"]
    }

    func testTrainsResumesAndRefuses() throws {
        let scenes = packageRoot().appendingPathComponent("Tests/LatentInversionTests/Resources/scenes").path
        let r = try runOK(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "2", "--images", scenes])
        XCTAssertTrue(r.stdout.contains("2 steps (2 this run)"), r.stdout)
        for name in ["E.safetensors", "E.training/checkpoint.safetensors", "E.training/loss.png", "E.training/psnr.png",
                     "E.training/samples.png", "E.training/history.csv", "E.training/train-encoder.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp(name)), name)
        }
        let inspect = try runOK(["inspect", temp("E.safetensors")])
        XCTAssertTrue(inspect.stdout.contains("latentlab-e4e"), inspect.stdout)
        // An existing run is not overwritten; --resume continues it.
        try runFails(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "3", "--images", scenes],
                     contains: ["a checkpoint exists", "E.training"])
        let r2 = try runOK(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "3", "--images", scenes, "--resume"])
        XCTAssertTrue(r2.stdout.contains("3 steps (1 this run)"), r2.stdout)
        // Resume with another learning rate: refused, nothing lost.
        try runFails(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "4", "--images", scenes, "--resume", "--lr", "0.01"],
                     contains: ["other training options"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("E.training/checkpoint.safetensors")))
    }

    /// --init fine-tunes an existing encoder and records where it started; the embedded encoder
    /// belongs to another generator than tiny32 and is refused; --init with --resume is a usage error.
    func testInitFineTunesAnEncoder() throws {
        try runOK(["train-encoder"] + small + ["--out", temp("A.safetensors"), "--steps", "2"])
        let r = try runOK(["train-encoder"] + small + ["--out", temp("B.safetensors"), "--steps", "1", "--init", temp("A.safetensors")])
        XCTAssertTrue(r.stdout.contains("1 steps (1 this run)"), r.stdout)
        let record = String(decoding: try Data(contentsOf: URL(fileURLWithPath: temp("B.training/train-encoder.json"))), as: UTF8.self)
        XCTAssertTrue(record.contains("A.safetensors (2 steps)") && record.contains("\"initialStage\" : 1"), record)
        try runFails(["train-encoder"] + small + ["--out", temp("C.safetensors"), "--steps", "1", "--init", "default"],
                     contains: ["another generator"])
        try runFails(["train-encoder"] + small + ["--out", temp("D.safetensors"), "--steps", "1", "--init", temp("missing.safetensors")],
                     contains: ["missing.safetensors"])
        try runUsageError(["train-encoder"] + small + ["--out", temp("B.safetensors"), "--steps", "2", "--init", temp("A.safetensors"), "--resume"],
                          contains: ["--init", "--resume"])
    }

    /// --image-latents: the folder `encode` (or `project`) wrote for --images gives the real images
    /// W+ targets; the run records it. Without --images it is a usage error; a folder missing an
    /// image's latent fails naming that image.
    func testImageLatents() throws {
        let scenes = packageRoot().appendingPathComponent("Tests/LatentInversionTests/Resources/scenes").path
        try runOK(["train-encoder"] + small + ["--out", temp("A.safetensors"), "--steps", "1"])
        try runOK(["encode", scenes, "--encoder", temp("A.safetensors"), "--network", modelsFixture("tiny32_weights.safetensors"),
                   "--out", temp("codes")])
        let r = try runOK(["train-encoder"] + small + ["--out", temp("L.safetensors"), "--steps", "2", "--images", scenes,
                                                       "--image-latents", temp("codes"), "--real-fraction", "1", "--l2", "0", "--msssim", "0"])
        XCTAssertTrue(r.stdout.contains("2 steps (2 this run)"), r.stdout)
        let record = String(decoding: try Data(contentsOf: URL(fileURLWithPath: temp("L.training/train-encoder.json"))), as: UTF8.self)
        XCTAssertTrue(record.contains("\"image_latents\" : \"\(temp("codes"))\"") && record.contains("\"realLatents\" : true"), record)
        try runUsageError(["train-encoder"] + small + ["--out", temp("M.safetensors"), "--steps", "1", "--image-latents", temp("codes")],
                          contains: ["--image-latents needs --images"])
        try FileManager.default.removeItem(atPath: temp("codes/scene_001/latent.npz"))
        try runFails(["train-encoder"] + small + ["--out", temp("N.safetensors"), "--steps", "1", "--images", scenes,
                                                  "--image-latents", temp("codes")],
                     contains: ["scene_001.png"])
    }

    func testIterativeMode() throws {
        try runOK(["train-encoder"] + small + ["--out", temp("R.safetensors"), "--steps", "1", "--iterative", "--iterations", "2"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("R.training/samples.png")))
    }

    func testBadArguments() throws {
        try runUsageError(["train-encoder"] + small + ["--out", temp("E.safetensors")], contains: ["--steps N or --minutes M"])
        try runUsageError(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "0"], contains: ["steps must be ≥ 1"])
        try runUsageError(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "2", "--batch", "0"], contains: ["batchSize"])
        try runFails(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "2", "--images", temp("nothing")],
                     contains: ["nothing", "not a folder"])
        try runFails(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "2", "--resume"],
                     contains: ["no checkpoint to resume"])
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: temp("bad.png")))
        try runFails(["train-encoder"] + small + ["--out", temp("E.safetensors"), "--steps", "2", "--images", tmp.path],
                     contains: ["bad.png"])
    }
}
