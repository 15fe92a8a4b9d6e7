import Foundation
import XCTest
import LatentFormats
import LatentTensor
import _TestSupport

/// A synthetic NVlabs snapshot written by CPython's pickle at protocols 2, 4 and 5
/// (`Resources/pickle_make_fixtures.py`) that exercises what the tiny32 file does not: strided and
/// offset views, float16/bfloat16/float64/int64 storages, a legacy storage view, a storage shared
/// by two buffers, non-persistent buffers, `None` parameters and children, a plain torch module
/// child, `dnnlib.util.EasyDict` kwargs with nested `synthesis_kwargs` and flat synthesis keywords,
/// positional `_init_args`, memo-shared modules, a generator without `_init_kwargs` and one whose
/// `_init_kwargs` contradict its tensors.
final class PickleSnapshotTests: XCTestCase {
    private let protocols = ["pickle_synthetic_p2.pkl", "pickle_synthetic_p4.pkl", "pickle_synthetic_p5.pkl"]

    private func expected() throws -> (order: [String], tensors: SafeTensorsFile) {
        let f = try SafeTensorsFile(path: pickleFixture("pickle_synthetic_expected.safetensors"))
        let order = try JSONSerialization.jsonObject(with: Data(f.metadata["order"]!.utf8)) as! [String]
        return (order, f)
    }

    func testStateDictNamesOrderAndValuesAreExact() throws {
        let (order, ref) = try expected()
        XCTAssertEqual(order.count, 13)
        for name in protocols {
            let snap = try NVLabsSnapshot(path: pickleFixture(name))
            XCTAssertEqual(snap.networkNames, ["G", "D", "G_noargs", "G_bad"], name)
            for network in ["G", "G_noargs"] {
                let sd = try snap.stateDict(network: network)
                XCTAssertEqual(sd.map(\.name), order, "\(name) \(network): torch state_dict order, non-persistent buffers and None skipped")
                for (n, t) in sd {
                    let r = try ref.tensor(n)
                    XCTAssertEqual(t.shape, r.shape, "\(name) \(n)")
                    XCTAssertEqual(t.storage, r.storage, "\(name) \(n) must be bit-identical")
                }
            }
        }
    }

    func testTensorMetadata() throws {
        let snap = try NVLabsSnapshot(path: pickleFixture("pickle_synthetic_p4.pkl"))
        let t = Dictionary(uniqueKeysWithValues: try snap.stateTensors(network: "G").map { ($0.name, $0.tensor) })
        XCTAssertEqual(t["mapping.fc0.weight"]?.isContiguous, false)
        XCTAssertEqual(t["mapping.fc0.weight"]?.stride, [1, 5])
        XCTAssertEqual(t["mapping.fc1.weight"]?.dtype, .f16)
        XCTAssertEqual(t["mapping.fc1.bias"]?.dtype, .bf16)
        XCTAssertEqual(t["mapping.w_avg"]?.dtype, .f64)
        XCTAssertEqual(t["mapping.w_avg"]?.storageOffset, 2)
        XCTAssertEqual(t["mapping.w_avg"]?.isParameter, false)
        XCTAssertEqual(t["mapping.fc0.weight"]?.isParameter, true)
        XCTAssertEqual(t["mapping.fc0.weight"]?.requiresGrad, true)
        XCTAssertEqual(t["synthesis.b8.extra.counter"]?.integers(), [7, -3, 1 << 40])
        XCTAssertEqual(t["synthesis.b8.resample_filter"]?.storageOffset, 4)
        XCTAssertEqual(t["synthesis.b8.resample_filter"]?.storage.count, 20, "shares the 20-element storage with the skipped buffer")
        XCTAssertNil(t["synthesis.b8.scratch"], "non-persistent buffer")

        let d = try snap.stateDict(network: "D")
        XCTAssertEqual(d.map(\.name), ["scale", "viewed"])
        XCTAssertEqual(d[1].tensor.storage, [3, 4, 5, 6], "legacy storage view (offset 3, size 4)")
    }

    func testGeneratorConfigFromKwargsAndInferred() throws {
        for name in protocols {
            let snap = try NVLabsSnapshot(path: pickleFixture(name))
            XCTAssertEqual(try snap.configJSON(network: "G"),
                           #"{"z_dim": 3, "c_dim": 0, "w_dim": 5, "img_resolution": 8, "img_channels": 3, "mapping_kwargs": {"num_layers": 2}, "channel_base": 32, "channel_max": 6, "num_fp16_res": 0, "conv_clamp": 256, "architecture": "skip"}"#,
                           name)
            XCTAssertEqual(try snap.configJSON(network: "G_noargs"),
                           #"{"z_dim": 3, "c_dim": 0, "w_dim": 5, "img_resolution": 8, "img_channels": 3, "mapping_kwargs": {"num_layers": 2}, "channel_base": 32, "channel_max": 6, "num_fp16_res": 0, "conv_clamp": null}"#,
                           name)
            XCTAssertEqual(try snap.configJSON(network: "D"),
                           #"{"c_dim": 0, "img_resolution": 8, "img_channels": 3, "architecture": "resnet"}"#, name)
        }
    }

    func testInitKwargsClassNamesAndAttributes() throws {
        let snap = try NVLabsSnapshot(path: pickleFixture("pickle_synthetic_p2.pkl"))
        XCTAssertEqual(try snap.className(network: "G"), "Generator")
        XCTAssertEqual(try snap.className(network: "D"), "Discriminator")
        let kw = try snap.initKwargs(network: "G")
        XCTAssertEqual(kw["z_dim"] as? Int, 3, "positional _init_args are named by the Generator signature")
        XCTAssertEqual((kw["mapping_kwargs"] as? [String: Any])?["num_layers"] as? Int, 2)
        XCTAssertEqual((kw["synthesis_kwargs"] as? [String: Any])?["conv_clamp"] as? Int, 256)
        XCTAssertEqual(kw["fused_modconv_default"] as? String, "inference_only", "kept in the kwargs, dropped from the config")
        XCTAssertTrue(try snap.initKwargs(network: "G_noargs").isEmpty)
        let dState = try snap.module(network: "D").state
        XCTAssertEqual(dState["gain"]?.doubleValue, 1.25, "numpy float32 scalar")
        XCTAssertEqual(dState["steps"]?.intValue, -7, "numpy int64 scalar")
        XCTAssertEqual(dState["flag"]?.boolValue, true, "numpy bool scalar")
        XCTAssertEqual(try snap.entry("training_set_kwargs")?.jsonText(),
                       #"{"path": "scenes.zip", "resolution": 8, "use_labels": false}"#)
        XCTAssertTrue(snap.entry("augment_pipe")?.isNone ?? false)
    }

    func testConvertAndErrors() throws {
        let path = pickleFixture("pickle_synthetic_p4.pkl")
        let (tensors, meta) = try convertSnapshot(path: path, network: "G_noargs")
        XCTAssertEqual(tensors.count, 13)
        XCTAssertEqual(meta["format"], "stylegan2")
        XCTAssertEqual(meta["network"], "G_noargs")
        XCTAssertEqual(meta["source"], "pickle_synthetic_p4.pkl")
        XCTAssertEqual(meta["config_source"], "inferred from tensor shapes")

        let d = errorText { try convertSnapshot(path: path, network: "D") }
        XCTAssertTrue(d.contains("network 'D' is a Discriminator"), d)
        let missing = errorText { try convertSnapshot(path: path, network: "G_ema") }
        XCTAssertTrue(missing.contains("no network 'G_ema' (available: G, D, G_noargs, G_bad)"), missing)
        let bad = errorText { try convertSnapshot(path: path, network: "G_bad") }
        XCTAssertTrue(bad.contains("Generator _init_kwargs disagree with its tensors: w_dim 7 vs 5; b4 has 6 channels, channel_base 32/channel_max 8 give 8"), bad)
        let notNet = errorText { try NVLabsSnapshot(path: path).stateDict(network: "training_set_kwargs") }
        XCTAssertTrue(notNet.contains("not a network"), notNet)
    }

    func testDescribe() throws {
        let text = describeSnapshot(try NVLabsSnapshot(path: pickleFixture("pickle_synthetic_p4.pkl")))
        XCTAssertTrue(text.contains("G: Generator (persistent, version 6"), text)
        XCTAssertTrue(text.contains("D: Discriminator"), text)
        // G: 10 parameter tensors; w_avg (5), resample_filter (16), counter (3) are buffers
        XCTAssertTrue(text.contains("in 10 tensors, 24 buffer elements in 3 tensors"), text)
        XCTAssertTrue(text.contains("augment_pipe: null"), text)
        XCTAssertTrue(text.contains(#""channel_base": 32"#), text)
        XCTAssertTrue(text.contains("G_bad: Generator"), text)
        XCTAssertTrue(text.contains("config unavailable: Generator _init_kwargs disagree"), text)
    }
}
