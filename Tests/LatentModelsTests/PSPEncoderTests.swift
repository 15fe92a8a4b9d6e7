import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentModels
import _TestSupport

/// pSp/e4e encoder structure and semantics that the golden file does not pin down: every official
/// state-dict name, the config JSON, the progressive stages, `latent_avg`, `input_nc`, refusals.
final class PSPEncoderTests: XCTestCase {
    /// The names and shapes the encoder reads are exactly the official `Encoder4Editing` /
    /// `GradualStyleEncoder` state dict (from the golden's metadata), minus the counters.
    func testStateDictNamesAndShapesAreTheOfficialOnes() throws {
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared is not present") }
        let golden = try SafeTensorsFile(path: shared.appendingPathComponent("golden/e4e_golden.safetensors").path)
        let official = try FormulaWeights.order(json: try XCTUnwrap(golden.metadata["e4e_tensor_order"]))
            .filter { !$0.name.hasSuffix("num_batches_tracked") }
        for type in PSPEncoderConfig.EncoderType.allCases {
            let ours = try PSPEncoder.stateDictShapes(config: PSPEncoderConfig(encoderType: type, styleganSize: 64))
            XCTAssertEqual(Set(ours.map(\.name)), Set(official.map(\.name)), "\(type)")
            let shapes = Dictionary(uniqueKeysWithValues: ours.map { ($0.name, $0.shape) })
            for e in official { XCTAssertEqual(shapes[e.name], e.shape, e.name) }
        }
        // IR without SE: no res_layer.5; style count follows stylegan_size (1024 → 18).
        let ir = try PSPEncoder.stateDictShapes(config: PSPEncoderConfig(encoderType: .encoder4Editing, mode: .ir, styleganSize: 1024))
        XCTAssertFalse(ir.contains { $0.name.contains("res_layer.5") })
        XCTAssertTrue(ir.contains { $0.name == "styles.17.linear.weight" })
        XCTAssertFalse(ir.contains { $0.name.hasPrefix("styles.18.") })
    }

    func testConfigJSONRoundTripAndRefusals() throws {
        let c = PSPEncoderConfig(encoderType: .gradualStyleEncoder, mode: .ir, styleganSize: 256, inputNc: 1,
                                 startFromLatentAvg: false, progressiveStage: 4)
        XCTAssertEqual(try PSPEncoderConfig(json: c.json, source: "t"), c)
        XCTAssertEqual(PSPEncoderConfig(encoderType: .encoder4Editing, styleganSize: 1024).styleCount, 18)
        let minimal = try PSPEncoderConfig(json: "{\"encoder_type\": \"Encoder4Editing\", \"stylegan_size\": 512}", source: "t")
        XCTAssertEqual(minimal, PSPEncoderConfig(encoderType: .encoder4Editing, styleganSize: 512))
        for (json, expected) in [("{\"encoder_type\": \"BackboneEncoder\", \"stylegan_size\": 64}", "encoder_type"),
                                 ("{\"encoder_type\": \"Encoder4Editing\"}", "missing 'stylegan_size'"),
                                 ("{\"encoder_type\": \"Encoder4Editing\", \"stylegan_size\": 64, \"n_style\": 3}", "unknown key 'n_style'"),
                                 ("{\"encoder_type\": \"Encoder4Editing\", \"stylegan_size\": 100}", "power of two"),
                                 ("{\"encoder_type\": \"Encoder4Editing\", \"stylegan_size\": 64, \"num_layers\": 34}", "50, 100 or 152")] {
            XCTAssertThrowsError(try PSPEncoderConfig(json: json, source: "cfg.json")) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e)")
            }
        }
        // The official FPN taps only fit IR-50.
        XCTAssertThrowsError(try PSPEncoder.stateDictShapes(config: PSPEncoderConfig(encoderType: .encoder4Editing, numLayers: 100, styleganSize: 64))) { e in
            XCTAssertTrue("\(e)".contains("only run with num_layers 50"), "\(e)")
        }
    }

    /// A small-input run (32×32, input_nc 2, stylegan_size 16 → 6 styles, coarse and middle) with
    /// random weights: e4e = w0 + pSp deltas at the Inference stage, earlier stages apply fewer
    /// deltas, `latent_avg` is added per style as psp.py does, and bad tensors or inputs are refused.
    func testStagesLatentAvgAndInputChannels() throws {
        var rng = TestRNG(seed: 61)
        let base = PSPEncoderConfig(encoderType: .encoder4Editing, styleganSize: 16, inputNc: 2)
        var tensors = [String: Tensor]()
        for (name, shape) in try PSPEncoder.stateDictShapes(config: base) {
            let fanIn = Double(shape.dropFirst().reduce(1, *))
            if name.hasSuffix("running_var") { tensors[name] = rng.tensor(shape, 0.5, 1.5) }
            else if shape.count == 1 { tensors[name] = rng.tensor(shape, name.hasSuffix("weight") ? 0.8 : -0.1, name.hasSuffix("weight") ? 1.2 : 0.1) }
            else { let s = (6 / fanIn).squareRoot() * (name.contains("linear") ? fanIn.squareRoot() : 1); tensors[name] = rng.tensor(shape, -s, s) }
        }
        tensors["latent_avg"] = rng.tensor([512])
        let x = rng.tensor([2, 2, 32, 32])
        func encoder(_ type: PSPEncoderConfig.EncoderType, stage: Int = PSPEncoderConfig.inferenceStage) throws -> PSPEncoder {
            var c = base; c.encoderType = type; c.progressiveStage = stage
            return try PSPEncoder(config: c, tensors: tensors, source: "random")
        }
        let e4e = try encoder(.encoder4Editing), psp = try encoder(.gradualStyleEncoder)
        let f = e4e.features(x)
        XCTAssertEqual(f.c3.shape, [2, 512, 2, 2]); XCTAssertEqual(f.c1.shape, [2, 128, 8, 8])
        let codes = e4e.rawCodes(features: f), pCodes = psp.rawCodes(features: f)
        XCTAssertEqual(codes.shape, [2, 6, 512])
        for b in 0..<2 { for k in 0..<512 {
            XCTAssertEqual(codes[b, 0, k], pCodes[b, 0, k], accuracy: 1e-6)
            for i in 1..<6 { XCTAssertEqual(codes[b, i, k], pCodes[b, 0, k] + pCodes[b, i, k], accuracy: 1e-5) }
        } }
        // Stage s (e.g. 3 = Delta3Training): deltas 1…s applied, the later rows are w0 (the
        // heads of a pyramid level run stacked, so stages that end inside a level run part of it).
        for stage in [0, 1, 3, 4] {
            let staged = try encoder(.encoder4Editing, stage: stage).rawCodes(features: f)
            for b in 0..<2 { for k in 0..<512 {
                for i in 0...stage { XCTAssertEqual(staged[b, i, k], codes[b, i, k], accuracy: 1e-6, "stage \(stage)") }
                for i in (stage + 1)..<6 { XCTAssertEqual(staged[b, i, k], pCodes[b, 0, k], accuracy: 1e-6, "stage \(stage)") }
            } }
        }
        // latent_avg added per style (psp.py forward with start_from_latent_avg).
        let withAvg = try e4e.codes(x, addLatentAvg: true), raw = try e4e.codes(x, addLatentAvg: false)
        XCTAssertLessThanOrEqual(maxAbsDiff(raw, codes), 1e-6)
        for b in 0..<2 { for i in 0..<6 { for k in stride(from: 0, to: 512, by: 37) {
            XCTAssertEqual(withAvg[b, i, k], raw[b, i, k] + tensors["latent_avg"]![flat: k], accuracy: 1e-5)
        } } }
        // Refusals: 3-channel input, a missing or an extra tensor, a latent_avg of the wrong size.
        XCTAssertThrowsError(try e4e.codes(rng.tensor([1, 3, 32, 32]), addLatentAvg: false))
        XCTAssertThrowsError(try e4e.codes(rng.tensor([1, 2, 512, 512]), addLatentAvg: false))
        var broken = tensors; broken["styles.5.linear.bias"] = nil
        XCTAssertThrowsError(try PSPEncoder(config: base, tensors: broken, source: "enc.safetensors")) { e in
            XCTAssertEqual("\(e)", "enc.safetensors: encoder: missing tensor 'styles.5.linear.bias'")
        }
        broken = tensors; broken["styles.6.linear.bias"] = Tensor.zeros([512])
        XCTAssertThrowsError(try PSPEncoder(config: base, tensors: broken, source: "enc.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("unexpected tensor 'styles.6.linear.bias'"), "\(e)")
        }
        broken = tensors; broken["latent_avg"] = Tensor.zeros([5, 512])
        XCTAssertThrowsError(try PSPEncoder(config: base, tensors: broken, source: "enc.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("latent_avg has shape [5, 512]"), "\(e)")
        }
        // The `encoder.` prefix of pSp containers is accepted.
        var prefixed = [String: Tensor]()
        for (k, v) in tensors { prefixed[k == "latent_avg" ? k : "encoder." + k] = v }
        let fromPrefixed = try PSPEncoder(config: base, tensors: prefixed, source: "prefixed")
        XCTAssertLessThanOrEqual(maxAbsDiff(try fromPrefixed.codes(x, addLatentAvg: true), withAvg), 1e-6)
    }
}
