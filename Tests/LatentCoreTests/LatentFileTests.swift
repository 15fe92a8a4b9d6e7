import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentModels
import LatentCore
import _TestSupport

/// The one latent-file format: every accepted shape, the round trip, and each refusal naming the file.
final class LatentFileTests: XCTestCase {
    // A generator's sizes without its weights: numWs 4, wDim 6, zDim 5, two noise layers.
    let shapes = ["b4.conv1": [4, 4], "b8.conv0": [8, 8]]
    func read(_ path: String) throws -> LatentFile { try LatentFile.read(path: path, wDim: 6, numWs: 4, zDim: 5, noiseShapes: shapes) }

    func testAcceptedShapesNormalise() throws {
        let root = try temporaryFolder(self)
        var rng = TestRNG(seed: 1)
        let wPlus = rng.tensor([2, 4, 6])
        try writeNpz(["w": wPlus], to: root + "/a.npz")
        XCTAssertEqual(try read(root + "/a.npz").codes, .w(wPlus))
        // [N, wDim] and [wDim]: one w used for every row.
        let w2 = rng.tensor([3, 6])
        try writeNpz(["w": w2], to: root + "/b.npz")
        guard case .w(let b) = try read(root + "/b.npz").codes else { return XCTFail("not w") }
        XCTAssertEqual(b.shape, [3, 4, 6])
        for i in 0..<3 { for r in 0..<4 { for j in 0..<6 { XCTAssertEqual(b[i, r, j], w2[i, j]) } } }
        try writeNpz(["w": w2.row(0)], to: root + "/c.npz")
        XCTAssertEqual(try read(root + "/c.npz").count, 1)
        // z as [N, zDim] or [zDim]; a bare .npy is w when its last dimension is wDim, else z.
        try writeNpz(["z": rng.tensor([5])], to: root + "/z.npz")
        guard case .z(let z) = try read(root + "/z.npz").codes else { return XCTFail("not z") }
        XCTAssertEqual(z.shape, [1, 5])
        try writeNpy(NpyArray(rng.tensor([2, 5])), to: root + "/z.npy")
        guard case .z = try read(root + "/z.npy").codes else { return XCTFail("npy [2, 5] is z") }
        try writeNpy(NpyArray(rng.tensor([2, 4, 6])), to: root + "/w.npy")
        guard case .w = try read(root + "/w.npy").codes else { return XCTFail("npy [2, 4, 6] is w") }
    }

    func testRoundTripKeepsNoiseAndAttachments() throws {
        let root = try temporaryFolder(self)
        var rng = TestRNG(seed: 2)
        let noise = NoiseMaps(["b4.conv1": rng.tensor([1, 4, 4]), "b8.conv0": rng.tensor([1, 8, 8])])
        let file = LatentFile(ws: rng.tensor([1, 4, 6]), noise: noise, attachments: ["encoder": "e4e-scenes64", "generator_delta": "pti.safetensors"])
        try file.write(to: root + "/latent.npz")
        // One latent: maps stored [H, W], as NVIDIA-style tools expect.
        XCTAssertEqual(try readNpz(path: root + "/latent.npz")["noise.b8.conv0"]!.shape, [8, 8])
        XCTAssertEqual(try read(root + "/latent.npz"), file)
        // Several latents: [N, H, W] per layer; a latent's slice keeps its own maps.
        let two = LatentFile(ws: rng.tensor([2, 4, 6]), noise: NoiseMaps(["b4.conv1": rng.tensor([2, 4, 4])]))
        try two.write(to: root + "/two.npz")
        let back = try read(root + "/two.npz")
        XCTAssertEqual(back, two)
        XCTAssertEqual(back.slice(1 ..< 2).noise!["b4.conv1"]!, two.noise!["b4.conv1"]!.slice(1 ..< 2))
    }

    func testRefusalsNameTheFile() throws {
        let root = try temporaryFolder(self)
        var rng = TestRNG(seed: 3)
        func refused(_ arrays: [String: Tensor], _ needle: String, line: UInt = #line) throws {
            let p = root + "/\(UUID().uuidString).npz"
            try writeNpz(arrays, to: p)
            XCTAssertThrowsError(try read(p), line: line) {
                XCTAssertTrue("\($0)".hasPrefix(p + ": "), "\($0)", line: line)
                XCTAssertTrue("\($0)".contains(needle), "\($0)", line: line)
            }
        }
        try refused(["w": rng.tensor([1, 4, 6]), "z": rng.tensor([1, 5])], "both")
        try refused(["x": rng.tensor([1, 5])], "unknown array 'x'")
        try refused(["w": rng.tensor([1, 3, 6])], "needs w")
        try refused(["w": rng.tensor([1, 4, 6]), "noise.b16.conv0": rng.tensor([16, 16])], "names no noise layer")
        try refused(["w": rng.tensor([1, 4, 6]), "noise.b4.conv1": rng.tensor([5, 5])], "has shape")
        try refused(["w": Tensor(shape: [1, 4, 6], repeating: .nan)], "NaN")
        try refused(["w": Tensor.zeros([0, 4, 6])], "no latents")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: root + "/text.npz"))
        XCTAssertThrowsError(try read(root + "/text.npz")) {
            XCTAssertTrue("\($0)".contains("not a latent file"), "\($0)")
            XCTAssertFalse("\($0)".contains("hello"), "\($0)")
        }
        XCTAssertThrowsError(try read(root + "/missing.npz")) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
    }

    func testWsRangeParser() throws {
        XCTAssertEqual(try parseWsRange("2-5", numWs: 10), 2 ..< 6)
        XCTAssertEqual(try parseWsRange(" 3 ", numWs: 10), 3 ..< 4)
        XCTAssertEqual(try parseWsRange("0-9", numWs: 10), 0 ..< 10)
        XCTAssertEqual(try parseWsRange("0-99", numWs: Int.max), 0 ..< 100)
        for bad in ["5-2", "0-10", "-1", "a-b", "", "1-2-3"] { XCTAssertThrowsError(try parseWsRange(bad, numWs: 10), bad) }
        XCTAssertEqual(wsRangeText(2 ..< 6), "2-5")
    }

    func testRunRecordKeepsNumbersAsNumbers() throws {
        let root = try temporaryFolder(self)
        var r = RunRecord(command: "generate", ["trunc": RecordValue(Float(0.7)), "images": .int(3), "flips": .bool(true),
                                                "seeds": .string("0-2"), "cutoff": RecordValue(Int?.none)])
        r["shape"] = .array([1, 2])
        try r.write(to: root + "/r.json")
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/r.json"))) as! [String: Any]
        XCTAssertEqual(obj["trunc"] as? Double, 0.7)
        XCTAssertEqual(obj["images"] as? Int, 3)
        XCTAssertEqual(obj["flips"] as? Bool, true)
        XCTAssertEqual(obj["command"] as? String, "generate")
        XCTAssertTrue(obj["cutoff"] is NSNull)
        XCTAssertEqual(try resultJSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/r.json"))), r)
    }

    func testMaskWeightsAreClamped() {
        let img = Tensor(shape: [3, 1, 3], data: [-1, 0, 1.5, -1, 0, 1.5, -1.4, 0, 1.5])
        let w = maskWeights(image: img)
        XCTAssertEqual(w.shape, [1, 1, 1, 3])
        XCTAssertEqual(w[0, 0, 0, 0], 0)
        XCTAssertEqual(w[0, 0, 0, 1], 0.5, accuracy: 1e-7)
        XCTAssertEqual(w[0, 0, 0, 2], 1)
    }

    /// A folder's latents by sub-folder, sorted; hidden folders (an interrupted run's `.tmp-`
    /// work) and everything under them are skipped; a folder with none is refused.
    func testFindLatentFilesSkipsHiddenFolders() throws {
        let root = try temporaryFolder(self)
        let fm = FileManager.default
        for rel in ["b/latent.npz", "a/latent.npz", "a/deeper/latent.npz", ".tmp-c/latent.npz", "d/.tmp-x/latent.npz",
                    ".hidden/e/latent.npz", "f/other.npz"] {
            let path = root + "/" + rel
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try writeNpz(["w": Tensor.zeros([1, 4, 6])], to: path)
        }
        let found = try findLatentFiles(root)
        XCTAssertEqual(found.map(\.name), ["a", "a/deeper", "b"])
        XCTAssertEqual(found.map(\.path), [root + "/a/latent.npz", root + "/a/deeper/latent.npz", root + "/b/latent.npz"])
        // A file is itself; a folder with only hidden latents has none.
        XCTAssertEqual(try findLatentFiles(root + "/b/latent.npz").map(\.name), [""])
        XCTAssertThrowsError(try findLatentFiles(root + "/d")) { XCTAssertTrue("\($0)".contains("no latent.npz files found"), "\($0)") }
    }
}
