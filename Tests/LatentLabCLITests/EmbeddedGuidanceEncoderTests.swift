import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import _LatentVerification
import _TestSupport

/// The shipped default guidance encoders (`translate --encoder seg|sketch`) on test maps whose
/// object sits far left or right: the output follows the map's layout (object centre x and horizon
/// estimated on the output, against the true factors), and a map of the other kind is refused.
final class EmbeddedGuidanceEncoderTests: CLITestCase {
    /// Test maps with the object far from the centre: name → (cx, horizon) from factors.json.
    let offCentre: [(name: String, cx: Double, horizon: Double)] = [
        ("00000", 0.29528, 0.6579), ("00002", 0.29209, 0.65239), ("00019", 0.26689, 0.56172), ("00021", 0.26971, 0.56894),
        ("00023", 0.29306, 0.62494), ("00024", 0.72199, 0.6871), ("00028", 0.7486, 0.64012), ("00031", 0.27899, 0.71392),
    ]

    func testSegAndSketchFollowTheLayout() throws {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared is not present") }
        for kind in ["seg", "sketch"] {
            var xHits = 0, horizonHits = 0, report = [String]()
            for m in offCentre {
                let map = shared.appendingPathComponent("paired/scenes/test/\(kind)/\(m.name).png").path
                let out = temp("\(kind)-\(m.name)")
                try runOK(["translate", map, "--encoder", kind, "--out", out])
                let record = try String(contentsOfFile: out + "/translate.json", encoding: .utf8)
                XCTAssertTrue(record.contains("\"encoder\" : \"\(kind)\"") || record.contains("\"encoder\":\"\(kind)\""), record)
                let s = sceneStatistics(image: try loadImage(path: out + "/output.png").tensor)
                if abs(s.centroidX - m.cx) <= 0.1 { xHits += 1 }
                if abs(s.horizon - m.horizon) <= 0.08 { horizonHits += 1 }
                report.append(String(format: "%@ x %.3f/%.3f horizon %.3f/%.3f", m.name, s.centroidX, m.cx, s.horizon, m.horizon))
            }
            // Bench/conditional.md: median errors x 0.012, horizon 0.02 over the 200 test maps; single maps
            // miss by 0.1+ (measured: 6 of 8 within 0.1 in x, 7–8 of 8 in horizon, the hits within 0.03;
            // the estimator also loses a faint horizon). A centred blob (x error ≥ 0.2 on every one of
            // these maps) or a lost horizon fails.
            XCTAssertGreaterThanOrEqual(xHits, 5, "\(kind): object centre x within 0.1 — \(report)")
            XCTAssertGreaterThanOrEqual(horizonHits, 6, "\(kind): horizon within 0.08 — \(report)")
        }
        // A colour photo is not a seg map.
        let photo = shared.appendingPathComponent("paired/scenes/test/photo/00000.png").path
        let r = try run(["translate", photo, "--encoder", "seg", "--out", temp("bad")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("gray"), r.stderr)
    }
}
