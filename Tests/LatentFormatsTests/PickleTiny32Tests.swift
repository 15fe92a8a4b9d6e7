import Foundation
import XCTest
import LatentFormats
import LatentTensor
import _TestSupport

/// The official-format NVlabs snapshot `tiny32_nvlabs.pkl` against its safetensors twin
/// `tiny32_weights.safetensors` (G_ema), both written by the reference code.
final class PickleTiny32Tests: XCTestCase {

    /// The golden file from the LatentModels test resources of this checkout, else `../shared/golden`.
    private func golden(_ file: String) throws -> String {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [tests.appendingPathComponent("LatentModelsTests/Resources/\(file)").path]
            + (sharedDirectory().map { [$0.appendingPathComponent("golden/\(file)").path] } ?? [])
        guard let p = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw FormatError(file, "golden file not found in \(candidates)")
        }
        return p
    }

    func testConvertedGEmaIsBitIdenticalToTheSafetensorsTwin() throws {
        let (tensors, meta) = try convertSnapshot(path: try golden("tiny32_nvlabs.pkl"))
        let twin = try SafeTensorsFile(path: try golden("tiny32_weights.safetensors"))

        XCTAssertEqual(tensors.map(\.name).sorted(), twin.names.sorted(), "same state_dict keys")
        XCTAssertEqual(Set(tensors.map(\.name)).count, tensors.count, "no duplicate names")
        for (name, t) in tensors {
            let ref = try twin.tensor(name)
            XCTAssertEqual(t.shape, ref.shape, name)
            XCTAssertTrue(t.storage.elementsEqual(ref.storage) { $0.bitPattern == $1.bitPattern }, "\(name) must be bit-identical")
        }
        XCTAssertEqual(tensors.first?.name, "synthesis.b4.const", "torch order: synthesis registered before mapping")

        // config: equal to the twin's as parsed JSON (and even as text)
        let ours = try JSONSerialization.jsonObject(with: Data(meta["config"]!.utf8)) as! NSDictionary
        let theirs = try JSONSerialization.jsonObject(with: Data(twin.metadata["config"]!.utf8)) as! NSDictionary
        XCTAssertEqual(ours, theirs)
        XCTAssertEqual(meta["config"], twin.metadata["config"])
        XCTAssertEqual(meta["format"], "stylegan2")
        XCTAssertEqual(meta["architecture"], twin.metadata["architecture"])
        XCTAssertEqual(meta["source"], "tiny32_nvlabs.pkl")
        XCTAssertEqual(meta["network"], "G_ema")
        XCTAssertNil(meta["config_source"], "config came from _init_kwargs")
    }

    func testNetworksAndDescribe() throws {
        let snap = try NVLabsSnapshot(path: try golden("tiny32_nvlabs.pkl"))
        XCTAssertEqual(snap.networkNames, ["G", "D", "G_ema"], "augment_pipe is None")
        XCTAssertEqual(try snap.className(network: "G"), "Generator")
        XCTAssertEqual(try snap.className(network: "D"), "Discriminator")
        XCTAssertEqual(try snap.configJSON(network: "G"), try snap.configJSON(network: "G_ema"))

        // G and G_ema have the same keys and shapes; D loads completely.
        let g = try snap.stateTensors(network: "G"), gEma = try snap.stateTensors(network: "G_ema")
        XCTAssertEqual(g.map(\.name), gEma.map(\.name))
        XCTAssertEqual(g.map(\.tensor.size), gEma.map(\.tensor.size))
        let d = try snap.stateDict(network: "D")
        XCTAssertGreaterThan(d.count, 10)
        XCTAssertTrue(d.allSatisfy { $0.tensor.isFinite })
        XCTAssertTrue(d.contains { $0.name.hasPrefix("b32.") }, "\(d.map(\.name))")

        let kw = try snap.initKwargs(network: "G_ema")
        XCTAssertEqual(kw["z_dim"] as? Int, 64)
        XCTAssertEqual(kw["channel_base"] as? Int, 1024)

        let text = describeSnapshot(snap)
        for expected in ["tiny32_nvlabs.pkl: NVlabs snapshot with 3 networks", "G: Generator (persistent, version 6, float32)",
                         "D: Discriminator", "G_ema: Generator", "augment_pipe: null", "training_set_kwargs: {"] {
            XCTAssertTrue(text.contains(expected), "describe lacks '\(expected)':\n\(text)")
        }
    }
}
