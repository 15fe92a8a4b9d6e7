import Foundation
import LatentTensor

/// An NVlabs StyleGAN2/2-ADA/3 training snapshot (`network-snapshot-*.pkl`), read without
/// executing any pickled code.
///
/// The file is `pickle.dump(dict(G=…, D=…, G_ema=…, augment_pipe=…, training_set_kwargs=…))`
/// (`training/training_loop.py`); each network is a persistent object (see `NVLabsModule`) whose
/// tensors are `_rebuild_tensor_v2` views of storages serialised with legacy `torch.save`
/// (see `TorchStorage.loadLegacy`). The file is memory-mapped and tensor data is converted only
/// when `stateDict` asks for it.
///
/// ```swift
/// let snap = try NVLabsSnapshot(path: "network-snapshot-000400.pkl")
/// snap.networkNames                        // ["G", "D", "G_ema"]
/// let sd = try snap.stateDict(network: "G_ema")  // [("mapping.fc0.weight", Tensor[512, 512]), …]
/// ```
public final class NVLabsSnapshot: @unchecked Sendable {
    public let path: String
    /// The decoded top-level dict.
    public let root: PickleDict
    /// Entries of the top-level dict that are networks, in file order (e.g. `G`, `D`, `G_ema`,
    /// and `augment_pipe` when it is not None).
    public let networkNames: [String]

    /// Decodes the snapshot at `path`.
    /// - Throws: `FormatError(path, reason)` for unreadable files, non-pickles, truncated or
    ///   corrupt data, any global outside `PickleAllowList.nvlabsSnapshot`, or a top level that is
    ///   not a dict.
    public init(path: String) throws {
        self.path = path
        let data = try readFormatFile(path, maxBytes: InputFileLimit.checkpoint)
        let source = (path as NSString).lastPathComponent
        let unpickler = Unpickler(source: path, allowList: .nvlabsSnapshot, reducer: TorchTensor.reducer(source: source))
        let (value, end) = try unpickler.load(data)
        guard end == data.count else {
            throw FormatError(path, "\(data.count - end) bytes of trailing data after the pickle")
        }
        guard let dict = value.dictValue else {
            throw FormatError(path, "not an NVlabs snapshot: the pickle holds \(value), expected a dict of networks (G, D, G_ema, …)")
        }
        root = dict
        var names: [String] = []
        for (k, v) in dict.stringItems {
            do { if try NVLabsModule(v) != nil { names.append(k) } }
            catch let e as PickleError { throw FormatError(path, "entry '\(k)': \(e.reason)") }
        }
        networkNames = names
    }

    /// The named network.
    /// - Throws: `FormatError` naming the available networks when `network` is not one of them.
    public func module(network: String) throws -> NVLabsModule {
        guard let v = root[network] else {
            throw FormatError(path, "no network '\(network)' (available: \(networkNames.joined(separator: ", ")))")
        }
        guard let m = try wrap({ try NVLabsModule(v) }) else {
            throw FormatError(path, "entry '\(network)' is \(v), not a network (available: \(networkNames.joined(separator: ", ")))")
        }
        return m
    }

    /// The Python class name of a network, e.g. `Generator`.
    public func className(network: String) throws -> String { try module(network: network).className }

    /// The network's `state_dict()` tensors, unmaterialised, with torch's key names and order.
    public func stateTensors(network: String) throws -> [(name: String, tensor: TorchTensor)] {
        let m = try module(network: network)
        return try wrap { try m.stateTensors() }
    }

    /// The network's `state_dict()`: parameters and persistent buffers with their dotted names
    /// (e.g. `mapping.fc0.weight`, `synthesis.b8.conv0.noise_const`), in torch's order, each as a
    /// contiguous float32 tensor (offsets and strides honoured, other dtypes converted).
    public func stateDict(network: String) throws -> [(name: String, tensor: Tensor)] {
        try stateTensors(network: network).map { ($0.name, $0.tensor.floatTensor()) }
    }

    /// The constructor arguments (`_init_kwargs`, plus `_init_args` under the Generator's
    /// positional names) as Foundation JSON values; empty when the snapshot did not record them.
    public func initKwargs(network: String) throws -> [String: Any] {
        let m = try module(network: network)
        return try wrap {
            var out: [String: Any] = [:]
            for (k, v) in try m.mergedInitKwargs() { out[k] = try v.jsonObject(path: "\(network).\(k)") }
            return out
        }
    }

    /// The top-level entry `key` (e.g. `training_set_kwargs`), as decoded.
    public func entry(_ key: String) -> PickleValue? { root[key] }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PickleError { throw FormatError(path, e.reason) }
    }
}

extension NVLabsModule {
    /// Positional names of NVlabs `Generator.__init__` (stylegan2-ada-pytorch and stylegan3).
    static let generatorPositionalNames = ["z_dim", "c_dim", "w_dim", "img_resolution", "img_channels",
                                           "mapping_kwargs", "synthesis_kwargs"]

    /// `_init_args` named by the Generator signature, then `_init_kwargs`, in order.
    func mergedInitKwargs() throws -> [(key: String, value: PickleValue)] {
        var out: [(key: String, value: PickleValue)] = []
        let args = initArgs
        if !args.isEmpty {
            guard className == "Generator", args.count <= NVLabsModule.generatorPositionalNames.count else {
                throw PickleError("\(className) was constructed with \(args.count) positional arguments, which cannot be named")
            }
            for (i, a) in args.enumerated() { out.append((NVLabsModule.generatorPositionalNames[i], a)) }
        }
        if let kw = initKwargs {
            for (k, v) in kw.items {
                guard let ks = k.stringValue else { throw PickleError("\(className)._init_kwargs has a non-string key \(k)") }
                out.removeAll { $0.key == ks }
                out.append((ks, v))
            }
        }
        return out
    }
}
