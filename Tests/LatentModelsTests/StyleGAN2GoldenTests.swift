import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentModels
import _TestSupport

/// The generator against outputs of NVIDIA's official `networks_stylegan2.py` (CPU, fp32):
/// mapping, truncation, images for every noise mode, style mixing, every affine style, every
/// block output, and the gradients of `sum(img_const · grad_weight_map)` w.r.t. ws and noise.
final class StyleGAN2GoldenTests: XCTestCase {
    static let absTolerance: Float = 1e-4
    static let gradRelTolerance: Float = 1e-3

    func testTiny32AgainstOfficialCode() throws {
        let weights = try XCTUnwrap(Bundle.module.url(forResource: "tiny32_weights", withExtension: "safetensors", subdirectory: "Resources"))
        let golden = try XCTUnwrap(Bundle.module.url(forResource: "tiny32_golden", withExtension: "safetensors", subdirectory: "Resources"))
        try checkAgainstGolden(weights: weights.path, golden: golden.path, label: "tiny32")
    }

    func testGan64AgainstOfficialCode() throws {
        guard let shared = sharedDirectory() else { return }
        let dir = shared.appendingPathComponent("golden")
        let weights = dir.appendingPathComponent("gan64_weights.safetensors").path
        let golden = dir.appendingPathComponent("gan64_golden.safetensors").path
        guard FileManager.default.fileExists(atPath: weights), FileManager.default.fileExists(atPath: golden) else { return }
        try checkAgainstGolden(weights: weights, golden: golden, label: "gan64")
    }

    func checkAgainstGolden(weights: String, golden: String, label: String) throws {
        let g = try StyleGAN2Generator(path: weights)
        let gold = try SafeTensorsFile(path: golden)
        func ref(_ name: String) throws -> Tensor { try gold.tensor(name) }
        var report = [String]()
        func checkAbs(_ name: String, _ got: Tensor, _ want: Tensor) {
            XCTAssertEqual(got.shape, want.shape, "\(label) \(name) shape")
            guard got.shape == want.shape else { return }
            let e = maxAbsDiff(got, want)
            report.append("\(name) \(String(format: "%.2e", e))")
            XCTAssertLessThanOrEqual(e, Self.absTolerance, "\(label) \(name): max abs error \(e)")
        }
        func checkRel(_ name: String, _ got: Tensor, _ want: Tensor) {
            XCTAssertEqual(got.shape, want.shape, "\(label) \(name) shape")
            guard got.shape == want.shape else { return }
            let e = relativeError(got, want)
            report.append("\(name) rel \(String(format: "%.2e", e))")
            XCTAssertLessThanOrEqual(e, Self.gradRelTolerance, "\(label) \(name): relative error \(e)")
        }

        // Mapping and truncation.
        let z = try ref("z")
        checkAbs("ws", g.mapping(z: z), try ref("ws"))
        checkAbs("ws_psi0.7", g.mapping(z: z, truncationPsi: 0.7), try ref("ws_psi0.7"))
        checkAbs("ws_psi0.5_cutoff2", g.mapping(z: z, truncationPsi: 0.5, truncationCutoff: 2), try ref("ws_psi0.5_cutoff2"))

        // Images from the reference ws (isolates synthesis from mapping).
        let ws = try ref("ws")
        let (img, tape) = g.synthesisForward(ws: ws, noiseMode: .const)
        checkAbs("img_const", img, try ref("img_const"))
        checkAbs("img_none", g.synthesis(ws: ws, noiseMode: .none), try ref("img_none"))
        checkAbs("img_psi0.7_const", g.synthesis(ws: try ref("ws_psi0.7")), try ref("img_psi0.7_const"))
        let mixed = g.mixStyles(ws: ws.slice(1..<2), mixWs: ws.slice(0..<1), layers: 0..<4)
        checkAbs("ws_mix", mixed, try ref("ws_mix"))
        checkAbs("img_mix_const", g.synthesis(ws: mixed), try ref("img_mix_const"))
        // End to end from z.
        checkAbs("G(z) const", g.generate(z: z), try ref("img_const"))

        // Styles and block outputs of sample 0.
        let styles = g.styles(ws: ws.slice(0..<1))
        let acts = g.synthesisForward(ws: ws.slice(0..<1)).tape.blockActivations
        for name in gold.entries.keys.sorted() {
            if name.hasPrefix("style.") {
                let key = String(name.dropFirst("style.".count))
                guard let s = styles[key] else { XCTFail("\(label): no style \(key)"); continue }
                checkAbs(name, s, try ref(name))
            } else if name.hasPrefix("act.") {
                guard let a = acts[name] else { XCTFail("\(label): no activation \(name)"); continue }
                checkAbs(name, a, try ref(name))
            }
        }
        XCTAssertEqual(styles.count, g.noiseLayerNames.count + g.config.blockResolutions.count)

        // Gradients of L = Σ img_const · R.
        let r = try ref("grad_weight_map")
        let grads = g.synthesisBackward(tape: tape, gradImage: r, needNoise: true)
        checkRel("grad_ws", grads.ws, try ref("grad_ws"))
        let noise = try XCTUnwrap(grads.noise)
        var checked = 0
        for name in gold.entries.keys.sorted() where name.hasPrefix("grad_noise.") {
            let layer = String(name.dropFirst("grad_noise.".count).dropLast(".noise_const".count))
            guard let gn = noise[layer] else { XCTFail("\(label): no noise gradient for \(layer)"); continue }
            checkRel(name, gn, try ref(name))
            checked += 1
        }
        XCTAssertEqual(checked, g.noiseLayerNames.count)
        print("[\(label) golden] " + report.joined(separator: ", "))
    }
}
