import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentModels
import _TestSupport

/// Loading (default model, F16 checkpoints, refusal of foreign or broken files) and the
/// generator's public API (noise, truncation, mixing, seeds).
final class StyleGAN2LoadingTests: XCTestCase {
    func tiny32URL() throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "tiny32_weights", withExtension: "safetensors", subdirectory: "Resources"))
    }

    /// Writes a safetensors file (F32 or F16) for the tests.
    func writeSafeTensors(_ tensors: [String: Tensor], metadata: [String: String], f16: Bool = false) throws -> String {
        var header: [String: Any] = ["__metadata__": metadata]
        var data = Data()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let start = data.count
            for v in t.storage {
                if f16 { var b = Float16(v).bitPattern.littleEndian; data.append(Data(bytes: &b, count: 2)) }
                else { var b = v.bitPattern.littleEndian; data.append(Data(bytes: &b, count: 4)) }
            }
            header[name] = ["dtype": f16 ? "F16" : "F32", "shape": t.shape, "data_offsets": [start, data.count]]
        }
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var out = Data()
        var len = UInt64(json.count).littleEndian
        out.append(Data(bytes: &len, count: 8))
        out.append(json)
        out.append(data)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sg2-\(UUID().uuidString).safetensors").path
        try out.write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testLoadDefaultModel() throws {
        let g = try StyleGAN2Generator.loadDefault()
        XCTAssertEqual(g.resolution, 64)
        XCTAssertEqual(g.zDim, 512); XCTAssertEqual(g.wDim, 512); XCTAssertEqual(g.numWs, 10)
        XCTAssertEqual(g.config.channels(at: 64), 32)
        XCTAssertEqual(g.wAvg.shape, [512])
        XCTAssertEqual(g.parameters.count, StyleGAN2Generator.expectedShapes(config: g.config).count)
        XCTAssertEqual(g.fingerprint.count, 16)
        XCTAssertEqual(try StyleGAN2Generator.loadDefault().fingerprint, g.fingerprint)
        let img = g.generate(z: zFromSeed(0, zDim: g.zDim), truncationPsi: 0.7)
        XCTAssertEqual(img.shape, [1, 3, 64, 64])
        XCTAssertTrue(img.isFinite)
        XCTAssertLessThan(img.storage.map(abs).max()!, 10)
        // The tiny golden model hashes differently.
        XCTAssertNotEqual(try StyleGAN2Generator(path: tiny32URL().path).fingerprint, g.fingerprint)
    }

    func testF16CheckpointMatchesRoundedWeights() throws {
        let file = try SafeTensorsFile(path: tiny32URL().path)
        let params = try file.allTensors()
        let path = try writeSafeTensors(params, metadata: ["config": file.metadata["config"]!], f16: true)
        let g16 = try StyleGAN2Generator(path: path)
        var rounded = params
        for (k, v) in params { rounded[k] = Tensor(shape: v.shape, data: v.storage.map { Float(Float16($0)) }) }
        let config = try StyleGAN2Config(json: file.metadata["config"]!, source: "tiny32")
        let gRef = try StyleGAN2Generator(config: config, parameters: rounded, source: "rounded")
        XCTAssertEqual(g16.fingerprint, gRef.fingerprint)
        var rng = TestRNG(seed: 41)
        let ws = rng.tensor([2, g16.numWs, g16.wDim])
        XCTAssertEqual(g16.synthesis(ws: ws), gRef.synthesis(ws: ws))
    }

    func testRefusesForeignOrBrokenCheckpoints() throws {
        let file = try SafeTensorsFile(path: tiny32URL().path)
        let params = try file.allTensors()
        let config = file.metadata["config"]!
        func expectError(_ tensors: [String: Tensor], _ meta: [String: String], contains needle: String,
                         file: StaticString = #filePath, line: UInt = #line) throws {
            let path = try writeSafeTensors(tensors, metadata: meta)
            XCTAssertThrowsError(try StyleGAN2Generator(path: path), file: file, line: line) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(needle), "error '\(text)' should mention '\(needle)'", file: file, line: line)
                XCTAssertTrue(text.contains(path), "error '\(text)' should name the file", file: file, line: line)
            }
        }
        var missing = params; missing["synthesis.b8.conv0.weight"] = nil
        try expectError(missing, ["config": config], contains: "synthesis.b8.conv0.weight")
        var wrong = params; wrong["synthesis.b16.conv1.bias"] = Tensor.zeros([7])
        try expectError(wrong, ["config": config], contains: "synthesis.b16.conv1.bias")
        var extra = params; extra["synthesis.b8.skip.weight"] = Tensor.zeros([1])
        try expectError(extra, ["config": config], contains: "synthesis.b8.skip.weight")
        try expectError(params, [:], contains: "config")
        try expectError(params, ["config": config.replacingOccurrences(of: "\"c_dim\": 0", with: "\"c_dim\": 10")], contains: "c_dim")
        try expectError(params, ["config": config.replacingOccurrences(of: "\"img_resolution\": 32", with: "\"img_resolution\": 48")],
                        contains: "img_resolution")
        try expectError(params, ["config": "{\"z_dim\": 64"], contains: "JSON")
        // A CLIP-like file: keys of another model.
        try expectError(["visual.conv1.weight": Tensor.zeros([2, 2])], ["config": config], contains: "visual.conv1.weight")
        // Non-finite weights.
        var nan = params; nan["mapping.w_avg"] = Tensor(shape: [128], repeating: .nan)
        try expectError(nan, ["config": config], contains: "NaN")
    }

    func testConfigParsing() throws {
        let c = try StyleGAN2Config(json: "{\"z_dim\": 8, \"c_dim\": 0, \"w_dim\": 16, \"img_resolution\": 16, \"img_channels\": 1, "
                                    + "\"mapping_kwargs\": {\"num_layers\": 2}, \"channel_base\": 64, \"channel_max\": 8, "
                                    + "\"num_fp16_res\": 4, \"conv_clamp\": 256}", source: "inline")
        XCTAssertEqual(c.blockResolutions, [4, 8, 16])
        XCTAssertEqual(c.channels(at: 4), 8); XCTAssertEqual(c.channels(at: 16), 4)
        XCTAssertEqual(c.numWs, 6)
        XCTAssertEqual(c.convClamp, 256)
        XCTAssertEqual(c.mappingLrMultiplier, 0.01)
        XCTAssertEqual(try StyleGAN2Config(json: c.json, source: "roundtrip"), c)
        XCTAssertThrowsError(try StyleGAN2Config(json: "{\"z_dim\": 8, \"w_dim\": 8, \"img_resolution\": 8, \"foo\": 1}", source: "x"))
        XCTAssertThrowsError(try StyleGAN2Config(json: "{\"w_dim\": 8, \"img_resolution\": 8}", source: "x")) // no z_dim
    }

    func testNoiseModesAndMaps() throws {
        let g = try StyleGAN2Generator(path: tiny32URL().path)
        XCTAssertEqual(g.noiseLayerNames, ["b4.conv1", "b8.conv0", "b8.conv1", "b16.conv0", "b16.conv1", "b32.conv0", "b32.conv1"])
        XCTAssertEqual(g.noiseShape(layer: "b16.conv0"), [16, 16])
        XCTAssertNil(g.noiseShape(layer: "b64.conv0"))
        var rng = TestRNG(seed: 42)
        let w = rng.tensor([1, g.numWs, g.wDim])
        let ws = Tensor.concatenate([w, w])                    // two identical samples
        let constImg = g.synthesis(ws: ws, noiseMode: .const)
        // Explicit maps equal to the buffers reproduce .const exactly, shared or per sample.
        // Another code path (explicit maps) with the same GEMM shapes: equal within float tolerance, not
        // bit-equal, since OpenBLAS's FMA kernels may round edge columns differently.
        XCTAssertLessThanOrEqual(maxAbsDiff(g.synthesis(ws: ws, noiseMode: .none, noise: g.constNoise), constImg), 1e-5)
        var perSample = NoiseMaps()
        for (k, v) in g.constNoise.maps { perSample[k] = Tensor.concatenate([v.reshaped([1] + v.shape), v.reshaped([1] + v.shape)]) }
        XCTAssertLessThanOrEqual(maxAbsDiff(g.synthesis(ws: ws, noiseMode: .none, noise: perSample), constImg), 1e-5)
        // Random noise: deterministic per seed, different per sample, seed and from const.
        let r1 = g.synthesis(ws: ws, noiseMode: .random(seed: 1))
        XCTAssertEqual(g.synthesis(ws: ws, noiseMode: .random(seed: 1)), r1)
        XCTAssertNotEqual(g.synthesis(ws: ws, noiseMode: .random(seed: 2)), r1)
        XCTAssertGreaterThan(maxAbsDiff(r1.slice(0..<1), r1.slice(1..<2)), 1e-4)
        XCTAssertGreaterThan(maxAbsDiff(r1, constImg), 1e-4)
        // Identical samples at different batch positions: within 1e-5 (images in [-1, 1]), not bit-equal.
        XCTAssertLessThanOrEqual(maxAbsDiff(constImg.slice(0..<1), constImg.slice(1..<2)), 1e-5)
        // Random-mode noise gradients come back per sample.
        let (_, tape) = g.synthesisForward(ws: ws, noiseMode: .random(seed: 3))
        let grads = g.synthesisBackward(tape: tape, gradImage: rng.tensor(constImg.shape))
        XCTAssertEqual(grads.noise?["b8.conv0"]?.shape, [2, 8, 8])
        // .none has no noise gradients.
        let (_, tapeNone) = g.synthesisForward(ws: ws, noiseMode: .none)
        XCTAssertEqual(g.synthesisBackward(tape: tapeNone, gradImage: constImg).noise?.maps.count, 0)
    }

    func testValidationNamesTheArgument() throws {
        let g = try StyleGAN2Generator(path: tiny32URL().path)
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { try g.validate(z: Tensor.zeros([2, 63])) }.hasPrefix("z:"))
        XCTAssertTrue(message { try g.validate(ws: Tensor.zeros([1, 7, 128])) }.contains("[N, 8, 128]"))
        XCTAssertTrue(message { try g.validate(ws: Tensor(shape: [1, 8, 128], repeating: .nan)) }.contains("NaN"))
        XCTAssertEqual(message { try g.validate(ws: Tensor.zeros([1, 8, 128])) }, "")
        XCTAssertTrue(message { try g.validate(noise: NoiseMaps(["b64.conv0": Tensor.zeros([64, 64])]), batch: 1) }
                        .hasPrefix("noise[b64.conv0]: unknown layer"))
        XCTAssertTrue(message { try g.validate(noise: NoiseMaps(["b8.conv0": Tensor.zeros([2, 8, 8])]), batch: 3) }
                        .contains("[8, 8] or [3, 8, 8]"))
        XCTAssertEqual(message { try g.validate(noise: g.constNoise, batch: 5) }, "")
        let (_, tape) = g.synthesisForward(ws: Tensor.zeros([1, 8, 128]))
        XCTAssertTrue(message { try g.validate(gradImage: Tensor.zeros([1, 3, 16, 16]), tape: tape) }.hasPrefix("gradImage:"))
    }

    /// Pooled buffers come back when a tape is dropped, are reused, and can be released.
    func testCachedMemoryIsReusedAndReleasable() throws {
        let g = try StyleGAN2Generator(path: tiny32URL().path)
        let ws = Tensor.zeros([2, g.numWs, g.wDim])
        let first: Tensor
        do {
            let (img, tape) = g.synthesisForward(ws: ws)
            _ = g.synthesisBackward(tape: tape, gradImage: img)
            first = img
        }
        XCTAssertGreaterThan(StyleGAN2Generator.cachedMemoryBytes, 0)
        // Reused buffers give the same result (synthesis vs synthesisForward: within float tolerance;
        // a dirty buffer would be off by far more).
        XCTAssertLessThanOrEqual(maxAbsDiff(g.synthesis(ws: ws), first), 1e-5)
        StyleGAN2Generator.releaseCachedMemory()
        XCTAssertEqual(StyleGAN2Generator.cachedMemoryBytes, 0)
        XCTAssertLessThanOrEqual(maxAbsDiff(g.synthesis(ws: ws), first), 1e-5)
    }

    func testTruncationAndMixing() throws {
        let g = try StyleGAN2Generator(path: tiny32URL().path)
        let z = Tensor.concatenate([zFromSeed(0, zDim: g.zDim), zFromSeed(3, zDim: g.zDim)])
        let w0 = g.mapping(z: z, truncationPsi: 0)
        for r in 0..<(2 * g.numWs) { XCTAssertEqual(Array(w0.storage[(r * g.wDim)..<((r + 1) * g.wDim)]), g.wAvg.storage) }
        let ws = g.mapping(z: z)
        let cut = g.mapping(z: z, truncationPsi: 0, truncationCutoff: 3)
        XCTAssertEqual(Array(cut.storage[(3 * g.wDim)..<(4 * g.wDim)]), Array(ws.storage[(3 * g.wDim)..<(4 * g.wDim)]))
        XCTAssertEqual(Array(cut.storage[(2 * g.wDim)..<(3 * g.wDim)]), g.wAvg.storage)
        // Mixing with a broadcast batch-1 source.
        let src = g.mapping(z: zFromSeed(7, zDim: g.zDim))
        let mixed = g.mixStyles(ws: ws, mixWs: src, layers: 2..<5)
        for s in 0..<2 { for l in 0..<g.numWs {
            let want = (2..<5).contains(l) ? src.storage[(l * g.wDim)..<((l + 1) * g.wDim)] : ws.storage[((s * g.numWs + l) * g.wDim)..<((s * g.numWs + l + 1) * g.wDim)]
            XCTAssertEqual(Array(mixed.storage[((s * g.numWs + l) * g.wDim)..<((s * g.numWs + l + 1) * g.wDim)]), Array(want))
        } }
    }
}
