import Foundation
import XCTest
import _TestSupport
import LatentTensor
import LatentInversion

/// Test fixtures shared by the inversion tests.
enum Fixtures {
    /// The formula-defined image pair of `Resources/make_metric_fixtures.py` (float64, rounded to
    /// float32), in [-1, 1].
    static func formulaImages(n: Int, c: Int, h: Int, w: Int) -> (x: Tensor, y: Tensor) {
        var xs = [Float](), ys = [Float]()
        for nn in 0..<n { for cc in 0..<c { for i in 0..<h { for j in 0..<w {
            let (di, dj, dc, dn) = (Double(i), Double(j), Double(cc), Double(nn))
            let x = 0.6 * sin(0.21 * di + 0.17 * dj + 1.3 * dc + 0.7 * dn) + 0.3 * sin(1.7 * (di * Double(w) + dj) + 0.5 * dc)
            let y = 0.8 * x + 0.15 * sin(2.3 * di - 0.9 * dj + 0.4 * dc + dn) + 0.05
            xs.append(Float(x)); ys.append(Float(y))
        } } } }
        return (Tensor(shape: [n, c, h, w], data: xs), Tensor(shape: [n, c, h, w], data: ys))
    }

    /// A file in the test bundle's `Resources/`.
    static func resource(_ name: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources") else {
            throw MissingTestInput("test resource \(name) missing from the bundle")
        }
        return url
    }

    /// `metrics_fixtures.json`: expectations computed offline with scikit-image and numpy.
    static func metricExpectations() throws -> [String: [Double]] {
        let data = try Data(contentsOf: try resource("metrics_fixtures.json"))
        guard let dict = try JSONSerialization.jsonObject(with: data) as? [String: [Double]] else {
            throw MissingTestInput("metrics_fixtures.json is malformed (expected an object of name → [numbers])")
        }
        return dict
    }
}
