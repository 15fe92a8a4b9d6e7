import XCTest
import Foundation
import LatentTensor
import LatentFormats
import _TestSupport
import LatentInversion

/// LPIPS against the official `lpips` package (0.1), v2 golden packs with full-rank formula weights:
/// every one of 19 plausible implementation bugs moves their distance by ≥ 2.7e-3 relative and
/// their gradient by ≥ 0.12 of its maximum (`../shared/README.md`).
final class LPIPSGoldenTests: XCTestCase {
    func golden(_ net: LPIPSNet) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.resource("lpips_\(net.rawValue)_golden_v2.safetensors").path)
    }

    /// Our parameter order and shapes must be the golden file's `tensor_order` (the formula's t).
    func testTensorOrderMatchesGoldenMetadata() throws {
        for net in LPIPSNet.allCases {
            let g = try golden(net)
            XCTAssertEqual(g.metadata["version"], "2")
            let list = try JSONSerialization.jsonObject(with: Data(g.metadata["tensor_order"]!.utf8)) as! [String]
            XCTAssertEqual(list, LPIPS.parameterShapes(net).map { "\($0.name) \($0.shape)" })
        }
    }

    /// The files' `tolerance` metadata: distance within 1e-4 relative; gradient max|Δ| ≤ 1e-3 ·
    /// max|grad_x0| (the reference agrees with itself to 3e-7 and 7e-6 of that).
    func check(_ net: LPIPSNet) throws {
        let g = try golden(net)
        let x0 = try g.tensor("x0"), x1 = try g.tensor("x1")
        let wantD = try g.tensor("distance"), wantG = try g.tensor("grad_x0")
        let lpips = LPIPSFormula.lpips(net: net)
        // Through the ImageLoss (target features computed and cached), then again from the cache.
        let loss = LPIPSLoss(lpips)
        let (d, grad) = try loss.evaluate(reconstruction: x0, target: x1)
        var worst: Float = 0
        for i in 0..<wantD.count {
            worst = max(worst, abs(d[i] - wantD[flat: i]) / abs(wantD[flat: i]))
            XCTAssertEqual(d[i], wantD[flat: i], accuracy: 1e-4 * abs(wantD[flat: i]), "\(net) distance[\(i)]")
        }
        let gradScale = wantG.storage.map(abs).max()!
        let gradErr = maxAbsDiff(grad, wantG) / gradScale
        XCTAssertLessThanOrEqual(gradErr, 1e-3, "\(net) grad_x0: max|Δ| / max|grad_x0|")
        if ProcessInfo.processInfo.environment["LATENTLAB_REPORT"] != nil {
            print("LPIPS-\(net) v2: distance max rel err \(worst), grad_x0 max|Δ|/max|g| \(gradErr)")
        }
        let again = try loss.evaluate(reconstruction: x0, target: x1)
        XCTAssertEqual(again.loss, d)
        XCTAssertEqual(again.gradient, grad)
        // Forward-only distance agrees with the differentiated one (another code path: tolerance).
        let plain = try lpips.distance(x0, x1)
        for i in 0..<d.count { XCTAssertEqual(plain[i], d[i], accuracy: 1e-6 * abs(d[i])) }
    }

    func testVGGGolden() throws { try check(.vgg) }
    func testAlexGolden() throws { try check(.alex) }
}
