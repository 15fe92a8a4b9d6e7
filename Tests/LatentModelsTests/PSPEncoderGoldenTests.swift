import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentModels
import _TestSupport

/// pSp `GradualStyleEncoder` and e4e `Encoder4Editing` (IR-SE50, stylegan_size 64 → 10 styles)
/// against the official code's outputs in `../shared/golden/e4e_golden.safetensors`, with the
/// formula-defined weights rebuilt from its metadata. Both official models have the same
/// state-dict names, so one set of weights and one backbone pass (batch 2, 256×256) serve both.
final class PSPEncoderGoldenTests: XCTestCase {
    /// Built once: an IR-SE50 forward at 256² is tens of GFLOP.
    struct Run {
        var golden: SafeTensorsFile
        var features: IRFeatures
        var e4eCodes: Tensor
        var pspCodes: Tensor
    }
    nonisolated(unsafe) static var cached: Run?

    static func run() throws -> Run {
        if let cached { return cached }
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared is not present (needed for e4e_golden.safetensors)") }
        let golden = try SafeTensorsFile(path: shared.appendingPathComponent("golden/e4e_golden.safetensors").path)
        let e4eOrder = try FormulaWeights.order(json: try XCTUnwrap(golden.metadata["e4e_tensor_order"]))
        let pspOrder = try FormulaWeights.order(json: try XCTUnwrap(golden.metadata["psp_tensor_order"]))
        XCTAssertEqual(e4eOrder.map(\.name), pspOrder.map(\.name), "the golden says both models share names")
        let weights = FormulaWeights.tensors(e4eOrder)
        let e4e = try PSPEncoder(config: PSPEncoderConfig(encoderType: .encoder4Editing, styleganSize: 64, startFromLatentAvg: false),
                                 tensors: weights, source: "e4e formula weights")
        let psp = try PSPEncoder(config: PSPEncoderConfig(encoderType: .gradualStyleEncoder, styleganSize: 64, startFromLatentAvg: false),
                                 tensors: weights, source: "psp formula weights")
        let x = FormulaWeights.sineInput([2, 3, 256, 256], scale: 0.8, frequency: 0.013)
        try e4e.validate(input: x)
        // One backbone pass serves both heads: pSp's backbone is the identical network with
        // identical weights (`codes(_:)` is validate + features + rawCodes, as here).
        let f = e4e.features(x)
        let r = Run(golden: golden, features: f, e4eCodes: e4e.rawCodes(features: f), pspCodes: psp.rawCodes(features: f))
        cached = r
        return r
    }

    func compare(_ name: String, _ got: Tensor, _ want: Tensor, absTol: Float? = nil, relTol: Float? = nil) {
        XCTAssertEqual(got.shape, want.shape, name)
        guard got.shape == want.shape else { return }
        let e = maxAbsDiff(got, want), scale = want.storage.reduce(0) { max($0, abs($1)) }
        print("PSPEncoderGolden \(name): max abs \(String(format: "%.3e", e)), relative to max |ref| \(String(format: "%.3e", e / scale)) (max |ref| \(scale))")
        if let absTol { XCTAssertLessThanOrEqual(e, absTol, "\(name) max abs error") }
        if let relTol { XCTAssertLessThanOrEqual(e / scale, relTol, "\(name) error relative to max |ref|") }
    }

    func testFeaturesMatchOfficialCode() throws {
        let r = try Self.run()
        let f = r.features
        // Sample 0 only; the input layer is stored cropped to rows/cols 0..<64.
        var inputLayer = Tensor.zeros([64, 64, 64])
        for c in 0..<64 { for y in 0..<64 { for x in 0..<64 { inputLayer[c, y, x] = f.inputLayer[0, c, y, x] } } }
        compare("e4e_input_layer", inputLayer, try r.golden.tensor("e4e_input_layer"), relTol: 2e-5)
        compare("e4e_c1", f.c1.row(0), try r.golden.tensor("e4e_c1"), relTol: 2e-5)
        compare("e4e_c2", f.c2.row(0), try r.golden.tensor("e4e_c2"), relTol: 2e-5)
        compare("e4e_c3", f.c3.row(0), try r.golden.tensor("e4e_c3"), relTol: 2e-5)
    }

    func testCodesMatchOfficialCode() throws {
        let r = try Self.run()
        compare("e4e_codes", r.e4eCodes, try r.golden.tensor("e4e_codes"), absTol: 1e-4)
        compare("psp_codes", r.pspCodes, try r.golden.tensor("psp_codes"), absTol: 1e-4)
    }

    /// e4e codes[:, i] = pSp codes[:, 0] + pSp codes[:, i] (i ≥ 1), codes[:, 0] = pSp codes[:, 0].
    func testE4EIsW0PlusPSPDeltas() throws {
        let r = try Self.run()
        var expected = r.pspCodes
        for b in 0..<2 { for i in 1..<10 { for k in 0..<512 { expected[b, i, k] += r.pspCodes[b, 0, k] } } }
        compare("e4e vs psp[:,0] + psp[:,i]", r.e4eCodes, expected, absTol: 1e-5)
    }
}
