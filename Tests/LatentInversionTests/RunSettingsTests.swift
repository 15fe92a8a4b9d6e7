import XCTest
import Foundation
import LatentTensor
import LatentCore
import LatentInversion
import _TestSupport

/// The rerun check of `project`: which settings of finished images differ, result-neutral ones
/// ignored, numbers compared as numbers; marking for redo; the out-of-domain warning rule.
final class RunSettingsTests: XCTestCase {
    func metrics(psnr: Double) -> InversionMetrics {
        try! resultJSONDecoder().decode(InversionMetrics.self, from: Data(#"{"mse": 0, "psnr": \#(psnr), "ssim": 1, "ms_ssim": 1, "loss": 0, "steps": 10, "seconds": 1}"#.utf8))
    }

    func testDifferingSettingsAndRedo() throws {
        let root = try temporaryFolder(self)
        let args: [String: RecordValue] = ["steps": 500, "lr": 0.2, "space": "w+", "batch": 8, "shard": "0/4", "l2": .double(1)]
        for name in ["a", "b/c"] {
            try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            try resultJSONEncoder().encode(InversionRecord(image: name + ".png", metrics: metrics(psnr: 30), generator: "g", space: "w+", arguments: args))
                .write(to: URL(fileURLWithPath: root + "/" + name + "/metrics.json"))
        }
        XCTAssertEqual(differingSettings(outputDir: root + "/none", arguments: args), [])
        // Batch and shard are result-neutral; 1.0 read back from JSON as 1 is the same number.
        var same = args; same["batch"] = 1; same["shard"] = "1/4"; same["l2"] = 1
        XCTAssertEqual(differingSettings(outputDir: root, arguments: same), [])
        var other = args; other["steps"] = 1000; other["init_latent"] = "w.npz"
        XCTAssertEqual(differingSettings(outputDir: root, arguments: other),
                       [SettingChange(key: "init_latent", previous: "(not set)", requested: "w.npz"),
                        SettingChange(key: "steps", previous: "500", requested: "1000")])
        XCTAssertEqual(markFinishedImagesForRedo(outputDir: root), 2)
        XCTAssertNil(readInversionRecord(dir: root + "/b/c"))
        XCTAssertEqual(differingSettings(outputDir: root, arguments: other), [])
    }

    func testOutOfDomainWarning() {
        XCTAssertNil(outOfDomainWarning(image: "scene.png", metrics: metrics(psnr: 31)))
        let w = outOfDomainWarning(image: "cat.png", metrics: metrics(psnr: 22.4))
        XCTAssertEqual(w?.hasPrefix("warning: cat.png: reconstruction PSNR 22.4 dB (< 26 dB)"), true, w ?? "")
    }
}
