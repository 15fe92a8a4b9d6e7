import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentModels
import _TestSupport

/// A rosinality/stylegan2-pytorch checkpoint (`../shared/golden/rosinality_tiny32.pt`, zip format,
/// reduced channel table) converted to NVlabs names and run by our generator, against rosinality's
/// own outputs: mapping, every image case (given noise, buffer noise, truncation, mixing, W+),
/// and the gradients w.r.t. W+ and the noise maps.
final class RosinalityConversionTests: XCTestCase {
    static let imageTolerance: Float = 1e-4

    static func goldenDir() throws -> URL {
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared is not present (rosinality golden files)") }
        return shared.appendingPathComponent("golden")
    }

    /// rosinality's `noises.noise_k` order → NVlabs layer names.
    static func noiseLayer(_ k: Int) -> String {
        if k == 0 { return "b4.conv1" }
        return "b\(4 << ((k + 1) / 2)).conv\((k + 1) % 2)"
    }

    func testConvertedGeneratorReproducesRosinality() throws {
        let dir = try Self.goldenDir()
        let conv = try convertTorchCheckpoint(path: dir.appendingPathComponent("rosinality_tiny32.pt").path)
        XCTAssertEqual(conv.kind, .rosinalityGenerator)
        XCTAssertNil(conv.encoder)
        let g = conv.builtGenerator
        XCTAssertEqual(g.resolution, 32); XCTAssertEqual(g.wDim, 64); XCTAssertEqual(g.numWs, 8)
        XCTAssertEqual([4, 8, 16, 32].map { g.config.channels(at: $0) }, [64, 64, 32, 32])
        XCTAssertNotNil(g.config.channelsByResolution, "this table is not expressible as min(base/res, max)")

        let gold = try SafeTensorsFile(path: dir.appendingPathComponent("rosinality_tiny32_golden.safetensors").path)
        func ref(_ n: String) throws -> Tensor { try gold.tensor(n) }
        var noise = NoiseMaps()
        for k in 0..<7 {
            let t = try ref("noise.\(k)")
            noise[Self.noiseLayer(k)] = t.reshaped([t.shape[2], t.shape[3]])
        }
        func check(_ name: String, _ got: Tensor, _ want: Tensor, tol: Float = RosinalityConversionTests.imageTolerance) {
            XCTAssertEqual(got.shape, want.shape, name)
            guard got.shape == want.shape else { return }
            let e = maxAbsDiff(got, want), scale = want.storage.reduce(0) { max($0, abs($1)) }
            print("RosinalityGolden \(name): max abs \(String(format: "%.3e", e)), relative \(String(format: "%.3e", e / scale))")
            XCTAssertLessThanOrEqual(e, tol, name)
        }

        let z = try ref("z"), z2 = try ref("z2")
        let ws = g.mapping(z: z)
        var styles = Tensor.zeros([3, 64])
        for b in 0..<3 { for k in 0..<64 { styles[b, k] = ws[b, 0, k] } }
        check("styles", styles, try ref("styles"), tol: 1e-5)
        check("w_avg = latent_avg", g.wAvg, try ref("latent_avg"), tol: 0)

        check("img_rand_noise_fixed", g.synthesis(ws: ws, noise: noise), try ref("img_rand_noise_fixed"))
        check("img_buffer_noise", g.synthesis(ws: ws, noiseMode: .const), try ref("img_buffer_noise"))
        let wsPsi = g.mapping(z: z, truncationPsi: 0.7)
        check("latent_psi0.7", wsPsi, try ref("latent_psi0.7"), tol: 1e-5)
        check("img_psi0.7", g.synthesis(ws: wsPsi, noise: noise), try ref("img_psi0.7"))
        let wsMix = g.mixStyles(ws: ws, mixWs: g.mapping(z: z2), layers: 3..<8)
        check("latent_mix", wsMix, try ref("latent_mix"), tol: 1e-5)
        check("img_mix", g.synthesis(ws: wsMix, noise: noise), try ref("img_mix"))

        let wPlus = try ref("w_plus")
        let (img, tape) = g.synthesisForward(ws: wPlus, noise: noise)
        check("img_wplus", img, try ref("img_wplus"))
        let grads = g.synthesisBackward(tape: tape, gradImage: try ref("grad_weight_map"))
        check("grad_wplus", grads.ws, try ref("grad_wplus"), tol: 1e-4)
        for k in 0..<7 {
            let want = try ref("grad_noise.\(k)")
            let got = try XCTUnwrap(grads.noise?[Self.noiseLayer(k)], "noise gradient \(k)")
            check("grad_noise.\(k)", got, want.reshaped([want.shape[2], want.shape[3]]), tol: 1e-4)
        }
    }

    /// The e4e container: decoder → the same generator, encoder tensors and options kept.
    func testE4EFormatSampleConverts() throws {
        let dir = try Self.goldenDir()
        let path = dir.appendingPathComponent("e4e_format_sample.pt").path
        // The sample's encoder is truncated after 12 entries: a complete-encoder conversion refuses it.
        XCTAssertThrowsError(try convertTorchCheckpoint(path: path)) { e in
            XCTAssertTrue("\(e)".contains("missing tensor 'body.0.res_layer.1.weight'"), "\(e)")
        }
        let conv = try convertTorchCheckpoint(path: path, requireCompleteEncoder: false)
        XCTAssertEqual(conv.kind, .pspEncoder)
        let enc = try XCTUnwrap(conv.encoder)
        let names = enc.tensors.map(\.name)
        XCTAssertEqual(names.first, "input_layer.0.weight")
        XCTAssertTrue(names.contains("body.0.res_layer.0.running_var"))
        XCTAssertFalse(names.contains { $0.hasPrefix("encoder.") || $0.hasSuffix("num_batches_tracked") })
        XCTAssertEqual(enc.tensors.first { $0.name == "latent_avg" }?.tensor.shape, [8, 64])
        let config = try PSPEncoderConfig(json: try XCTUnwrap(enc.metadata["config"]), source: "sample")
        XCTAssertEqual(config, PSPEncoderConfig(encoderType: .encoder4Editing, numLayers: 50, mode: .irSE, styleganSize: 32,
                                                inputNc: 3, startFromLatentAvg: true))
        XCTAssertEqual(config.styleCount, 8)
        XCTAssertTrue(enc.metadata["opts"]?.contains("\"device\": \"cuda:0\"") ?? false, enc.metadata["opts"] ?? "no opts")
        // Encoder values are the golden formula (t = 0…11 of e4e_tensor_order).
        let gold = try SafeTensorsFile(path: dir.appendingPathComponent("e4e_golden.safetensors").path)
        let formula = FormulaWeights.tensors(Array(try FormulaWeights.order(json: try XCTUnwrap(gold.metadata["e4e_tensor_order"])).prefix(12)))
        for (name, t) in enc.tensors where name != "latent_avg" {
            XCTAssertEqual(t, formula[name], name)
        }
        // The decoder is rosinality_tiny32's g_ema: same generator as the plain checkpoint.
        let plain = try convertTorchCheckpoint(path: dir.appendingPathComponent("rosinality_tiny32.pt").path)
        XCTAssertEqual(conv.builtGenerator.fingerprint, plain.builtGenerator.fingerprint)
    }
}

/// The w_avg fallback for checkpoints without `latent_avg`.
final class ComputedWAvgTests: XCTestCase {
    /// scenes64's stored w_avg is the mean of 10 000 mapped torch-random z; our mean over 2000
    /// seeded z agrees within sampling noise (~std/√2000 per coordinate).
    func testMatchesTheStoredMeanOfTheDefaultGenerator() throws {
        let g = try StyleGAN2Generator.loadDefault()
        let mean = computeWAvg(generator: g, samples: 2000)
        XCTAssertEqual(mean.shape, [g.wDim])
        let ws = mapFirstRows(generator: g, z: zFromSeeds((5000..<5200).map { $0 }, zDim: g.zDim))
        var spread: Float = 0
        for k in 0..<g.wDim {
            var v: Float = 0
            for i in 0..<200 { let d = ws[i, k] - g.wAvg[flat: k]; v += d * d }
            spread = max(spread, (v / 200).squareRoot())
        }
        let err = maxAbsDiff(mean, g.wAvg)
        print("computeWAvg vs stored w_avg: max abs \(err), largest per-coordinate std \(spread)")
        XCTAssertLessThanOrEqual(err, 6 * spread / Float(2000).squareRoot() + 1e-4)
        // Without latent_avg the LatentFormats converter marks w_avg as missing (zeros).
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared is not present") }
        let ckpt = try TorchCheckpoint(path: shared.appendingPathComponent("golden/rosinality_tiny32.pt").path)
        let conv = try convertRosinalityGenerator(stateDict: try ckpt.tensorDict("g_ema"), latentAvg: nil, source: "tiny32")
        XCTAssertEqual(conv.metadata["w_avg_source"], "missing")
        XCTAssertEqual(conv.tensors.first { $0.name == "mapping.w_avg" }?.tensor, Tensor.zeros([64]))
    }
}
