import XCTest
import Foundation
import LatentTensor
import LatentFormats
import _TestSupport
import LatentInversion

/// LPIPS against the official `lpips` package (golden files with formula-defined weights).
final class LPIPSGoldenTests: XCTestCase {
    func golden(_ net: LPIPSNet) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.resource("lpips_\(net.rawValue)_golden.safetensors").path)
    }

    /// Our parameter order and shapes must be the golden file's `tensor_order` (the formula's t).
    func testTensorOrderMatchesGoldenMetadata() throws {
        for net in LPIPSNet.allCases {
            let meta = try golden(net).metadata["tensor_order"]!
            let list = try JSONSerialization.jsonObject(with: Data(meta.utf8)) as! [String]
            let ours = LPIPS.parameterShapes(net).map { "\($0.name) \($0.shape)" }
            XCTAssertEqual(list, ours.map { $0.replacingOccurrences(of: ",", with: ",") })
        }
    }

    func check(_ net: LPIPSNet) throws {
        let g = try golden(net)
        let x0 = try g.tensor("x0"), x1 = try g.tensor("x1")
        let wantD = try g.tensor("distance"), wantG = try g.tensor("grad_x0")
        let lpips = LPIPS.formulaWeights(net: net)
        // Through the ImageLoss (target features computed and cached), then again from the cache.
        let loss = LPIPSLoss(lpips)
        let (d, grad) = try loss.evaluate(reconstruction: x0, target: x1)
        var worst: Float = 0
        for i in 0..<wantD.count {
            worst = max(worst, abs(d[i] - wantD[flat: i]) / abs(wantD[flat: i]))
            XCTAssertEqual(d[i], wantD[flat: i], accuracy: 1e-4 * abs(wantD[flat: i]), "\(net) distance[\(i)]")
        }
        let err = relativeError(grad, wantG)
        XCTAssertLessThan(err, 1e-3, "\(net) grad_x0 relative error")
        if ProcessInfo.processInfo.environment["LATENTLAB_REPORT"] != nil {
            print("LPIPS-\(net): distance max rel err \(worst), grad_x0 rel err \(err)")
        }
        let again = try loss.evaluate(reconstruction: x0, target: x1)
        XCTAssertEqual(again.loss, d)
        XCTAssertEqual(again.gradient, grad)
        // Forward-only distance agrees with the differentiated one.
        if net == .alex { XCTAssertEqual(try lpips.distance(x0, x1), d) }
    }

    func testVGGGolden() throws { try check(.vgg) }
    func testAlexGolden() throws { try check(.alex) }
}
