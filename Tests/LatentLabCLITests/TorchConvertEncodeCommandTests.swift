import XCTest
import Foundation
import LatentTensor
@testable import LatentFormats
import LatentModels
import _TestSupport

/// `latentlab convert` on PyTorch `.pt` files and `latentlab encode --raw`, as subprocesses.
final class TorchConvertEncodeCommandTests: CLITestCase {
    func golden(_ name: String) throws -> String {
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared is not present") }
        return shared.appendingPathComponent("golden/\(name)").path
    }

    func testRosinalityCheckpointConvertsAndGenerates() throws {
        let out = temp("ros.safetensors")
        let r = try runOK(["convert", try golden("rosinality_tiny32.pt"), out])
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(out): rosinality generator, 68 tensors, 32×32, w 64, numWs 8"), r.stdout)
        let f = try SafeTensorsFile(path: out)
        XCTAssertEqual(f.metadata["format"], "stylegan2")
        XCTAssertTrue(f.metadata["config"]?.contains("\"channels\": {\"4\": 64, \"8\": 64, \"16\": 32, \"32\": 32}") ?? false)
        // The file generates rosinality's W+ image (buffer noise = noise_const, its noises.* buffers).
        let gold = try SafeTensorsFile(path: try golden("rosinality_tiny32_golden.safetensors"))
        let g = try StyleGAN2Generator(path: out)
        let ws = g.mapping(z: try gold.tensor("z"))
        try writeNpz(["w": ws], to: temp("ws.npz"))
        try runOK(["generate", "--network", out, "--latent-in", temp("ws.npz"), "--noise-mode", "const", "--out", temp("img.npy")])
        let img = try readNpy(path: temp("img.npy")).toTensor()
        XCTAssertLessThanOrEqual(maxAbsDiff(img, try gold.tensor("img_buffer_noise")), 1e-4)
    }

    func testE4EContainerIsConvertedOnlyWhenComplete() throws {
        // The shared sample's encoder is truncated (format only): refused in one line, nothing written.
        let msg = try runFails(["convert", try golden("e4e_format_sample.pt"), temp("e4e")],
                               contains: ["e4e_format_sample.pt", "missing tensor 'body.0.res_layer.1.weight'"])
        XCTAssertEqual(msg.split(separator: "\n").count, 1, msg)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("e4e")))

        // --partial-encoder writes both files: the decoder as a generator, the encoder tensors as found.
        let r = try runOK(["convert", try golden("e4e_format_sample.pt"), temp("e4e"), "--partial-encoder"])
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 2, r.stdout)
        XCTAssertTrue(r.stdout.contains("not checked as a complete encoder"), r.stdout)
        let g = try StyleGAN2Generator(path: temp("e4e/generator.safetensors"))
        XCTAssertEqual(g.resolution, 32)
        let enc = try SafeTensorsFile(path: temp("e4e/encoder.safetensors"))
        XCTAssertEqual(enc.names.count, 11)   // the 12 entries less the two num_batches_tracked counters, plus latent_avg
        XCTAssertEqual(enc.entries["latent_avg"]?.shape, [8, 64])
        XCTAssertEqual(enc.entries["input_layer.0.weight"]?.shape, [64, 3, 3, 3])
        let config = try PSPEncoderConfig(json: try XCTUnwrap(enc.metadata["config"]), source: "e4e")
        XCTAssertEqual(config.encoderType, .encoder4Editing)
        XCTAssertEqual(config.styleganSize, 32)
        XCTAssertThrowsError(try PSPEncoder(path: temp("e4e/encoder.safetensors")))
    }

    func testMaliciousAndBrokenCheckpointsAreRefused() throws {
        // os.system inside data.pkl of an otherwise valid torch zip.
        var p: [UInt8] = [0x80, 0x02, UInt8(ascii: "c")] + Array("os\nsystem\n".utf8)
        let cmd = Array("touch \(temp("pwned"))".utf8)
        p += [UInt8(ascii: "X")] + (0..<4).map { UInt8((cmd.count >> (8 * $0)) & 0xFF) } + cmd + [0x85, UInt8(ascii: "R"), UInt8(ascii: ".")]
        let evil = temp("evil.pt")
        try makeZip(["archive/data.pkl": p, "archive/version": Array("3\n".utf8)]).write(to: URL(fileURLWithPath: evil))
        try runFails(["convert", evil, temp("out.safetensors")], contains: ["evil.pt", "refusing global 'os.system'"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("pwned")), "nothing executed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("out.safetensors")))

        let full = try Data(contentsOf: URL(fileURLWithPath: try golden("rosinality_tiny32.pt")))
        try full.prefix(full.count / 3).write(to: URL(fileURLWithPath: temp("cut.pt")))
        try runFails(["convert", temp("cut.pt"), temp("out.safetensors")], contains: ["cut.pt", "zip"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("out.safetensors")))
    }

    /// A stored zip with the given members, as torch.save lays them out.
    func makeZip(_ members: [String: [UInt8]]) throws -> Data {
        var z = ZipWriter()
        for name in members.keys.sorted() { try z.add(name: name, contents: members[name]!, compressed: false) }
        return z.finished()
    }

    /// `encode --raw` on a 2-style (stylegan_size 4) IR-SE50 e4e with formula weights: the codes
    /// the CLI writes are the library's; bad inputs are refused in one line.
    func testEncodeRawWritesTheEncodersCodes() throws {
        let goldenFile = try SafeTensorsFile(path: try golden("e4e_golden.safetensors"))
        let order = try FormulaWeights.order(json: try XCTUnwrap(goldenFile.metadata["e4e_tensor_order"]))
            .filter { e in !e.name.hasPrefix("styles.") || ["styles.0.", "styles.1."].contains { e.name.hasPrefix($0) } }
        var tensors = FormulaWeights.tensors(order).filter { !$0.key.hasSuffix("num_batches_tracked") }
        tensors["latent_avg"] = FormulaWeights.sineInput([512], scale: 0.3, frequency: 0.7)
        let config = PSPEncoderConfig(encoderType: .encoder4Editing, styleganSize: 4)
        let encPath = temp("enc.safetensors")
        try writeSafeTensors(tensors.keys.sorted().map { ($0, tensors[$0]!) }, metadata: ["config": config.json], to: encPath)
        let x = FormulaWeights.sineInput([2, 3, 32, 32], scale: 0.8, frequency: 0.013)
        try writeNpy(x, to: temp("x.npy"))
        let r = try runOK(["encode", "--encoder", encPath, "--input", temp("x.npy"), "--raw", "--out", temp("codes.npy")])
        XCTAssertTrue(r.stdout.contains("codes [2, 2, 512]"), r.stdout)
        let codes = try readNpy(path: temp("codes.npy")).toTensor()
        let want = try PSPEncoder(path: encPath).codes(x, addLatentAvg: false)
        XCTAssertEqual(codes.shape, [2, 2, 512])
        XCTAssertLessThanOrEqual(maxAbsDiff(codes, want), 1e-5)

        try writeNpy(Tensor.zeros([1, 4, 32, 32]), to: temp("x4.npy"))
        try runFails(["encode", "--encoder", encPath, "--input", temp("x4.npy"), "--raw", "--out", temp("c4.npy")],
                     contains: ["x4.npy", "[N, 3, 256, 256]"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("c4.npy")))
        try runUsageError(["encode", "--encoder", encPath, "--input", temp("x.npy"), "--out", temp("c.npy")], contains: ["--raw"])
    }
}
