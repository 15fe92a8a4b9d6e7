import XCTest
import Foundation
import LatentTensor
import LatentFormats
import _TestSupport

/// `latentlab convert`: the tiny32 NVIDIA snapshot converts to exactly the reference tensors and
/// then generates NVIDIA's golden images; malicious and broken pickles are refused.
final class ConvertCommandTests: CLITestCase {
    func testTiny32SnapshotConvertsAndGeneratesGolden() throws {
        let out = temp("tiny32.safetensors")
        let r = try runOK(["convert", modelsFixture("tiny32_nvlabs.pkl"), out])
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(out): G_ema, 79 tensors, 32×32"), r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 1)

        let converted = try SafeTensorsFile(path: out)
        let reference = try SafeTensorsFile(path: modelsFixture("tiny32_weights.safetensors"))
        XCTAssertEqual(Set(converted.names), Set(reference.names))
        for name in reference.names {
            XCTAssertEqual(converted.entries[name]?.dtype, "F32", name)
            XCTAssertEqual(try converted.tensor(name), try reference.tensor(name), name)
        }
        XCTAssertEqual(converted.metadata["format"], "stylegan2")
        XCTAssertEqual(converted.metadata["network"], "G_ema")
        XCTAssertEqual(converted.metadata["source"], "tiny32_nvlabs.pkl")
        let config = try JSONSerialization.jsonObject(with: Data(converted.metadata["config"]!.utf8)) as! [String: Any]
        XCTAssertEqual(config["z_dim"] as? Int, 64)
        XCTAssertEqual(config["w_dim"] as? Int, 128)
        XCTAssertEqual(config["img_resolution"] as? Int, 32)

        // The converted file generates NVIDIA's golden images from the golden ws.
        let golden = try SafeTensorsFile(path: modelsFixture("tiny32_golden.safetensors"))
        try writeNpz(["w": try golden.tensor("ws")], to: temp("ws.npz"))
        try runOK(["generate", "--network", out, "--latent-in", temp("ws.npz"), "--noise-mode", "const", "--out", temp("img.npy")])
        let img = try readNpy(path: temp("img.npy")).toTensor()
        XCTAssertEqual(img.shape, [3, 3, 32, 32])
        XCTAssertLessThanOrEqual(maxAbsDiff(img, try golden.tensor("img_const")), 1e-4)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("img.npy.json")))) as! [String: Any]
        XCTAssertEqual(record["network"] as? String, "tiny32.safetensors")
    }

    /// --network G converts the training generator; the discriminator and unknown names are refused.
    func testNetworkChoice() throws {
        let pkl = modelsFixture("tiny32_nvlabs.pkl")
        let r = try runOK(["convert", pkl, temp("G.safetensors"), "--network", "G"])
        XCTAssertTrue(r.stdout.contains(": G, 79 tensors"), r.stdout)
        XCTAssertEqual(try SafeTensorsFile(path: temp("G.safetensors")).metadata["network"], "G")
        try runFails(["convert", pkl, temp("D.safetensors"), "--network", "D"], contains: ["'D' is a Discriminator"])
        try runFails(["convert", pkl, temp("X.safetensors"), "--network", "X"], contains: ["no network 'X'", "G, D, G_ema"])
        XCTAssertEqual(tempListing(), ["G.safetensors"])
    }

    /// Pickles that would run code are refused by name; nothing is written.
    func testMaliciousPicklesAreRefused() throws {
        for (name, global) in [("pickle_os_system.pkl", "posix.system"), ("pickle_builtins_eval.pkl", "__builtin__.eval"),
                               ("pickle_storage_global.pkl", "torch.FloatStorage")] {
            try runFails(["convert", cliFixture(name), temp("out.safetensors")],
                         contains: [cliFixture(name), "refusing global '\(global)'", "never executed"])
        }
        XCTAssertEqual(tempListing(), [])
    }

    func testBrokenInputsAndOutputs() throws {
        let pkl = modelsFixture("tiny32_nvlabs.pkl")
        let data = try Data(contentsOf: URL(fileURLWithPath: pkl))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: temp("cut.pkl")))
        try runFails(["convert", temp("cut.pkl"), temp("out.safetensors")], contains: [temp("cut.pkl"), "truncated"])
        try runFails(["convert", temp("missing.pkl"), temp("out.safetensors")], contains: [temp("missing.pkl"), "no such file"])
        try runFails(["convert", cliFixture("text.png"), temp("out.safetensors")], contains: [cliFixture("text.png")])
        try FileManager.default.createDirectory(atPath: temp("outdir"), withIntermediateDirectories: true)
        try runFails(["convert", pkl, temp("outdir")], contains: [temp("outdir"), "is a folder"])
        XCTAssertEqual(tempListing(), ["cut.pkl", "outdir"])
        try runUsageError(["convert", temp("cut.pkl"), temp("cut.pkl")], contains: ["overwrite the snapshot"])
        try runUsageError(["convert", pkl], contains: ["Missing expected argument"])
    }
}
