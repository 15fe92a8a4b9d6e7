import Foundation
import XCTest
@testable import LatentFormats
import _TestSupport

final class DescribeTests: XCTestCase {
    func testDescribeSafeTensors() throws {
        let f = try SafeTensorsFile(path: try fixture("reference_writer", "safetensors").path)
        let text = describeSafeTensors(f, listTensors: true)
        let expectedHead = """
        reference_writer.safetensors
          tensors: 8 (F32 ×3, F16 ×1, F64 ×1, I32 ×1, I64 ×1, U8 ×1)
          parameters: 63
          data: 239 bytes (239 B), header 624 bytes
          metadata:
            config: {
              "z_dim": 4,
              "mapping_kwargs": {
                "num_layers": 2
              },
              "conv_clamp": null
            }
            format: test é⏎"quoted"/
          tensor list:
            ids     I64  [2, 2]
            double  F64  [3]
        """
        XCTAssertTrue(text.hasPrefix(expectedHead), "got:\n\(text)")
        XCTAssertTrue(text.hasSuffix("    bytes   U8   [7]"), "got:\n\(text)")
        XCTAssertFalse(describeSafeTensors(f).contains("tensor list"))
    }

    func testDescribeSharedGeneratorConfig() throws {
        guard let shared = sharedDirectory() else { return }
        let path = shared.appendingPathComponent("models/scenes64.safetensors").path
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text = describeSafeTensors(try SafeTensorsFile(path: path))
        XCTAssertTrue(text.contains("  tensors: 106 (F32 ×106)"), text)
        XCTAssertTrue(text.contains("  parameters: 3,715,048"), text)
        XCTAssertTrue(text.contains("      \"mapping_kwargs\": {\n        \"num_layers\": 8\n      },"), text)
    }

    func testDescribeNpyAndNpz() throws {
        let a = try NpyArray(shape: [2, 3], floats: [-1.5, 0, 1, 2, 3, 4.5])
        XCTAssertEqual(describeNpy(a, name: "x"), "x: float32 [2, 3], 6 elements, 24 bytes, min -1.5, max 4.5, mean 1.5")
        let ids = try NpyArray(shape: [4], integers: [1, 2, 3, 10_000], dtype: .i64)
        XCTAssertEqual(describeNpy(ids), "int64 [4], 4 elements, 32 bytes, min 1, max 10000, mean 2501.5")
        XCTAssertEqual(describeNpy(try NpyArray(shape: [0, 2], floats: [])), "float32 [0, 2], 0 elements, 0 bytes")
        let text = describeNpz(["x": a, "ids": ids])
        XCTAssertEqual(text, """
        2 arrays, 56 bytes
          ids: int64 [4], 4 elements, 32 bytes, min 1, max 10000, mean 2501.5
          x: float32 [2, 3], 6 elements, 24 bytes, min -1.5, max 4.5, mean 1.5
        """)
        let fixtureText = describeNpz(try readNpzEntries(path: try fixture("numpy_savez", "npz").path))
        XCTAssertTrue(fixtureText.hasPrefix("11 arrays, "), fixtureText)
        XCTAssertTrue(fixtureText.contains("  f4: float32 [2, 3, 5], 30 elements, 120 bytes"), fixtureText)
        XCTAssertTrue(fixtureText.contains("  b1: bool [5], 5 elements, 5 bytes, min 0, max 1"), fixtureText)
    }
}
