import XCTest
import LatentTensor
import LatentFormats
import LatentEncoders
import _TestSupport

/// The encoder file: written, read back identically, and refused with one line when it is not one.
final class TrainedEncoderFileTests: XCTestCase {
    func makeEncoder(iterative: Bool = false) throws -> TrainedEncoder {
        let a = EncoderArchitecture(resolution: 8, inputChannels: iterative ? 6 : 3, baseChannels: 3, maxChannels: 5,
                                    convsPerLevel: 1, numWs: 4, wDim: 6)
        var net = try EncoderNetwork(architecture: a, seed: 7)
        // Non-zero biases so a lost tensor shows.
        for (name, t) in net.parameters where name.hasSuffix(".bias") { net.parameters[name] = t.map { _ in 0.01 } + Tensor(shape: t.shape, generator: { Float($0) * 0.001 }) }
        let config = EncoderFileConfig(architecture: a, generatorFingerprint: "abc123", iterative: iterative,
                                       trainingIterations: iterative ? 3 : 1, stage: 2, steps: 17)
        return TrainedEncoder(network: net, config: config, latentAvg: Tensor(shape: [6], generator: { Float($0) - 2.5 }))
    }

    func testRoundTrip() throws {
        let dir = try temporaryFolder("file")
        defer { try? FileManager.default.removeItem(at: dir) }
        let e = try makeEncoder()
        let path = dir.appendingPathComponent("E.safetensors").path
        try e.write(to: path)
        let back = try TrainedEncoder(path: path)
        XCTAssertEqual(back.config, e.config)
        XCTAssertEqual(back.latentAvg, e.latentAvg)
        XCTAssertEqual(back.network.parameters, e.network.parameters)
        // encode = latent_avg + network at the stored stage.
        var rng = SplitMix64(seed: 3)
        let images = Tensor(shape: [2, 3, 8, 8], generator: { _ in Float(rng.next() % 2001) / 1000 - 1 })
        let codes = try back.encode(images: images)
        XCTAssertEqual(codes.shape, [2, 4, 6])
        let base = Tensor(shape: [2, 4, 6], generator: { Float($0 % 6) - 2.5 })
        XCTAssertEqual(codes, e.network.forward(images, base: base, stage: 2).codes)
        XCTAssertThrowsError(try back.encode(images: Tensor.zeros([2, 3, 16, 16])))
        let meta = try SafeTensorsFile(path: path).metadata
        XCTAssertEqual(meta["format"], "latentlab-e4e")
        XCTAssertTrue(meta["config"]!.contains("\"generatorFingerprint\":\"abc123\""))
    }

    func testIterativeEncoderNeedsGenerator() throws {
        let e = try makeEncoder(iterative: true)
        XCTAssertThrowsError(try e.encode(images: Tensor.zeros([1, 3, 8, 8]))) { err in
            XCTAssertTrue("\(err)".contains("iterative"), "\(err)")
        }
    }

    func testNotAnEncoderRefused() throws {
        let dir = try temporaryFolder("bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A generator checkpoint.
        let gen = packageRoot().appendingPathComponent("Tests/LatentModelsTests/Resources/tiny32_weights.safetensors").path
        XCTAssertThrowsError(try TrainedEncoder(path: gen)) { err in
            XCTAssertTrue("\(err)".hasPrefix(gen), "\(err)")
            XCTAssertFalse("\(err)".contains("\n"))
        }
        // Truncated encoder file.
        let e = try makeEncoder()
        let path = dir.appendingPathComponent("E.safetensors").path
        try e.write(to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = dir.appendingPathComponent("cut.safetensors").path
        try data.prefix(data.count - 40).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try TrainedEncoder(path: cut)) { err in XCTAssertTrue("\(err)".hasPrefix(cut), "\(err)") }
        // A tensor missing.
        var tensors = e.config.architecture.parameterShapes.dropLast().map { (name: $0.name, tensor: e.network.parameters[$0.name]!) }
        tensors.append((name: "latent_avg", tensor: e.latentAvg))
        let missing = dir.appendingPathComponent("missing.safetensors").path
        let config = try SafeTensorsFile(path: path).metadata["config"]!
        try writeSafeTensors(tensors, metadata: ["config": config], to: missing)
        XCTAssertThrowsError(try TrainedEncoder(path: missing)) { err in
            XCTAssertEqual("\(err)", "\(missing): missing tensor 'head.delta3.bias'")
        }
    }
}
