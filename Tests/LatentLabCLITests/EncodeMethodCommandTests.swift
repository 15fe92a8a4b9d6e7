import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import _TestSupport

/// `encode IMAGE|DIR`, `invert`/`project --method encoder|hybrid` with the embedded encoder, and
/// the refusals around them, run as subprocesses.
final class EncodeMethodCommandTests: CLITestCase {
    /// Three test scenes copied into `dir` (64×64 renders of the default generator's domain).
    func scenes(_ dir: String, count: Int = 3) throws -> [String] {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared is not present") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return try (0..<count).map { i in
            let name = String(format: "scene_%03d.png", i * 5)
            try FileManager.default.copyItem(atPath: shared.appendingPathComponent("testdata/scenes/\(name)").path, toPath: dir + "/" + name)
            return dir + "/" + name
        }
    }

    func metrics(_ dir: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.json"))) as? [String: Any])
    }

    func testEncodeImageWritesWhatInvertWrites() throws {
        let image = try scenes(temp("in"), count: 1)[0]
        let r = try runOK(["encode", image, "--out", temp("e")])
        XCTAssertTrue(r.stdout.contains("(encoder)"), r.stdout)
        for f in ["latent.npz", "target.png", "reconstruction.png", "metrics.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("e/" + f)), f)
        }
        let m = try metrics(temp("e"))
        let args = try XCTUnwrap(m["arguments"] as? [String: Any])
        XCTAssertEqual(args["command"] as? String, "encode")
        XCTAssertEqual(args["method"] as? String, "encoder")
        XCTAssertEqual(m["space"] as? String, "w+")
        let psnr = try XCTUnwrap((m["metrics"] as? [String: Any])?["psnr"] as? Double)
        // The embedded encoder on an in-domain scene (Bench/encoders.md: 26.9 dB on average, 24.5 at the worst scene).
        XCTAssertGreaterThan(psnr, 22, "encoder PSNR \(psnr)")
        let w = try XCTUnwrap(try readNpz(path: temp("e/latent.npz"))["w"])
        XCTAssertEqual(w.shape, [1, 10, 512])

        // invert --method encoder is the same computation.
        try runOK(["invert", image, "--method", "encoder", "--out", temp("i")])
        let w2 = try XCTUnwrap(try readNpz(path: temp("i/latent.npz"))["w"])
        XCTAssertEqual(w.toTensor(), w2.toTensor())
    }

    func testEncodeFolderIsBatchedAndResumable() throws {
        _ = try scenes(temp("in"))
        let r = try runOK(["encode", temp("in"), "--batch", "2", "--out", temp("o")])
        XCTAssertTrue(r.stdout.contains("3 inverted"), r.stdout)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("o/summary.json")))) as? [String: Any])
        XCTAssertEqual(summary["finished"] as? Int, 3)
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("o/contact_sheet.png")))
        let again = try runOK(["encode", temp("in"), "--out", temp("o")])
        XCTAssertTrue(again.stdout.contains("3 already done"), again.stdout)
        // One image alone gives the batch's latent (float tolerance: other batch positions in the GEMMs).
        try runOK(["encode", temp("in/scene_005.png"), "--out", temp("one")])
        let alone = try readNpz(path: temp("one/latent.npz"))["w"]!.toTensor()
        let inBatch = try readNpz(path: temp("o/scene_005/latent.npz"))["w"]!.toTensor()
        XCTAssertLessThanOrEqual(maxAbsDiff(alone, inBatch), 1e-3)
        // Settings of another method are refused on resume.
        try runFails(["project", temp("in"), "--steps", "2", "--out", temp("o")], contains: ["method"])
    }

    func testHybridStartsFromTheEncoderAndImprovesOnIt() throws {
        let image = try scenes(temp("in"), count: 1)[0]
        try runOK(["invert", image, "--method", "hybrid", "--steps", "30", "--out", temp("h")])
        let m = try metrics(temp("h"))
        let psnr = try XCTUnwrap((m["metrics"] as? [String: Any])?["psnr"] as? Double)
        let solver = try XCTUnwrap(m["solver"] as? [String: Any])
        let encoderPSNR = try XCTUnwrap(solver["encoder_psnr"] as? Double)
        XCTAssertGreaterThan(psnr, encoderPSNR + 1, "hybrid \(psnr) dB vs its encoder start \(encoderPSNR) dB")
        let args = try XCTUnwrap(m["arguments"] as? [String: Any])
        XCTAssertEqual(args["method"] as? String, "hybrid")
        XCTAssertEqual(args["steps"] as? Int, 30)
        XCTAssertEqual(args["noise_init"] as? String, "const")
        XCTAssertEqual(args["latent_noise"] as? Double, 0)
    }

    func testBadMethodCombinationsAreRefusedInOneLine() throws {
        let image = try scenes(temp("in"), count: 1)[0]
        try runUsageError(["invert", image, "--encoder", "x.safetensors", "--out", temp("a")], contains: ["--method encoder or hybrid"])
        try runUsageError(["encode", image, "--iterations", "0", "--out", temp("a")], contains: ["--iterations"])
        // The embedded encoder cannot do ReStyle refinements.
        try runFails(["encode", image, "--iterations", "3", "--out", temp("b")], contains: ["--iterative"])
        // A mask needs an optimising method.
        try runFails(["invert", image, "--method", "encoder", "--mask", image, "--out", temp("c")], contains: ["--mask"])
        // A generator file is not an encoder.
        try runFails(["encode", image, "--encoder", modelsFixture("tiny32_weights.safetensors"), "--out", temp("d")],
                     contains: ["not an encoder file"])
        // Another generator without an encoder of its own.
        try runFails(["invert", image, "--method", "encoder", "--network", modelsFixture("tiny32_weights.safetensors"), "--out", temp("e")],
                     contains: ["--encoder"])
        try runFails(["encode", temp("nope.png"), "--out", temp("f")], contains: ["nope.png"])
        for d in ["b", "c", "d", "e", "f"] { XCTAssertFalse(FileManager.default.fileExists(atPath: temp(d + "/metrics.json"))) }
    }

    /// `convert E.safetensors --dtype f16`: half the bytes, still an encoder, codes within f16 rounding.
    func testHalfPrecisionCopyOfTheEncoder() throws {
        let image = try scenes(temp("in"), count: 1)[0]
        let embedded = packageRoot().appendingPathComponent("Sources/LatentEncoders/Resources/scenes64-encoder.safetensors").path
        let r = try runOK(["convert", embedded, temp("e32.safetensors"), "--dtype", "f32"])
        XCTAssertTrue(r.stdout.contains("encoder"), r.stdout)
        try runOK(["convert", temp("e32.safetensors"), temp("e16.safetensors"), "--dtype", "f16"])
        let size = { (p: String) in (try FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
        XCTAssertLessThan(Double(try size(temp("e16.safetensors"))), 0.55 * Double(try size(temp("e32.safetensors"))))
        try runOK(["encode", image, "--encoder", temp("e32.safetensors"), "--out", temp("a")])
        try runOK(["encode", image, "--encoder", temp("e16.safetensors"), "--out", temp("b")])
        let a = try readNpz(path: temp("a/latent.npz"))["w"]!.toTensor(), b = try readNpz(path: temp("b/latent.npz"))["w"]!.toTensor()
        XCTAssertLessThanOrEqual(maxAbsDiff(a, b), 0.05)
        try runFails(["convert", embedded, temp("x.safetensors"), "--dtype", "i8"], contains: ["--dtype"])
    }
}
