import Foundation
import LatentTensor

/// A PyTorch `torch.save` file read without executing pickled code: the zip format torch ≥ 1.6
/// writes by default (`<archive>/data.pkl`, `<archive>/data/<key>` raw little-endian storages,
/// `<archive>/version`, `<archive>/byteorder`), following `torch/serialization.py`
/// `_save`/`_load`, or the legacy format of older torch versions (see
/// `TorchStorage.decodeLegacyContainer`).
///
/// `data.pkl` may reference only data constructors (`collections.OrderedDict`, …),
/// `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` and the storage classes
/// (`torch.FloatStorage`, …, as the type in a persistent id `('storage', type, key, location,
/// numel)`); anything else — `os.system`, `builtins.eval`, a model class — fails the load before a
/// value is built. Each storage's byte count must equal `numel · element size`.
///
/// ```swift
/// let ckpt = try TorchCheckpoint(path: "stylegan2-ffhq-config-f.pt")
/// let sd = try ckpt.tensorDict("g_ema")    // [("style.1.weight", TorchTensor), …]
/// ```
public final class TorchCheckpoint: @unchecked Sendable {
    public let path: String
    /// The unpickled object (usually a dict).
    public let root: PickleValue
    /// `<archive>/version` (torch writes 3); 1001 for the legacy format.
    public let version: Int

    /// What a zip `.pt`'s `data.pkl` may reference.
    public static let allowList = PickleAllowList(
        globals: PickleAllowList.dataConstructors
            .union(["torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
                    "torch._utils._rebuild_parameter_with_state"])
            .union(DType.torchTypes.map { "torch.\($0.torchStorageName!)" }),
        // rosinality's training checkpoints keep their `args` (an argparse.Namespace, pickled as
        // NEWOBJ + BUILD): admitted as an inert object, never constructed.
        classPrefixes: ["argparse"])

    /// Whether `data` starts like a zip archive (`PK\u{3}\u{4}`), i.e. torch's default `.pt` format.
    public static func isZip(_ data: Data) -> Bool {
        data.count >= 4 && data.prefix(4).elementsEqual([0x50, 0x4B, 0x03, 0x04])
    }

    /// - Throws: `FormatError(path, reason)` for unreadable, truncated or corrupt archives, a
    ///   missing `data.pkl`, a big-endian archive, a refused global, an unknown storage type, or a
    ///   storage whose size does not match its declaration.
    public init(path: String) throws {
        self.path = path
        let data: Data
        do { data = try readInputFile(path: path, maxBytes: InputFileLimit.checkpoint, mapped: true) }
        catch { throw FormatError(path, fileErrorReason(error)) }
        guard TorchCheckpoint.isZip(data) else {
            // The legacy (torch < 1.6) format opens with a pickle of the magic number.
            guard data.count >= 14, data.prefix(4).elementsEqual([0x80, 0x02, 0x8A, 0x0A]),
                  data.dropFirst(4).prefix(10).elementsEqual(TorchStorage.legacyMagic) else {
                throw FormatError(path, "not a PyTorch checkpoint: it starts neither with a zip header (torch ≥ 1.6) nor with the legacy torch.save magic number")
            }
            do {
                root = try TorchStorage.decodeLegacyContainer(data, source: path, objectAllowList: TorchCheckpoint.allowList,
                                                              reducer: TorchTensor.reducer(source: (path as NSString).lastPathComponent))
            } catch let e as PickleError {
                throw FormatError(path, "legacy torch.save file: \(e.reason)")
            }
            version = 1001
            return
        }
        let zip = try ZipArchive(data: data, name: path)
        let pkls = zip.entries.filter { $0.name.hasSuffix("/data.pkl") || $0.name == "data.pkl" }
        guard pkls.count == 1, let pkl = pkls.first else {
            throw FormatError(path, pkls.isEmpty ? "zip archive without data.pkl: not a torch.save checkpoint"
                                                 : "zip archive with \(pkls.count) data.pkl members: not a torch.save checkpoint")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        let byName = Dictionary(zip.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if let e = byName[prefix + "byteorder"] {
            let order = String(decoding: try zip.contents(of: e), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard order == "little" else { throw FormatError(path, "byte order '\(order)' is not supported (only little-endian)") }
        }
        var version = 0
        if let e = byName[prefix + "version"] {
            let text = String(decoding: try zip.contents(of: e), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let v = Int(text), v >= 1 else { throw FormatError(path, "archive version '\(text)' is not a number") }
            version = v
        }
        self.version = version

        var storages = [String: TorchStorage]()
        var unpickler = Unpickler(source: path, allowList: TorchCheckpoint.allowList,
                                  reducer: TorchTensor.reducer(source: (path as NSString).lastPathComponent))
        unpickler.persistentLoad = { pid in
            guard let t = pid.sequenceValue, t.count == 5, t[0].stringValue == "storage" else {
                throw PickleError("unsupported persistent id \(pid) (expected ('storage', type, key, location, numel))")
            }
            guard case .global(let g) = t[1], g.module == "torch", let dtype = DType(torchStorageName: g.name) else {
                throw PickleError("unknown storage type \(t[1])")
            }
            guard let key = t[2].stringValue, !key.contains("/"), let numel = t[4].intValue, numel >= 0 else {
                throw PickleError("malformed storage persistent id \(pid)")
            }
            if let s = storages[key] {
                guard s.dtype == dtype, s.count == numel else {
                    throw PickleError("storage '\(key)' is declared both as \(s.count) \(s.dtype.name) and \(numel) \(dtype.name) elements")
                }
                return .storage(s)
            }
            guard let entry = byName[prefix + "data/" + key] else {
                throw PickleError("storage '\(key)' has no member \(prefix)data/\(key) in the archive (truncated?)")
            }
            let (bytes, overflow) = numel.multipliedReportingOverflow(by: dtype.itemSize)
            guard !overflow, entry.uncompressedSize == bytes else {
                throw PickleError("storage '\(key)' declares \(numel) \(dtype.name) elements (\(numel * dtype.itemSize) bytes) but its member holds \(entry.uncompressedSize) bytes")
            }
            let raw: [UInt8]
            do { raw = try zip.contents(of: entry) } catch let e as FormatError { throw PickleError(e.reason) }
            let s = try TorchStorage(dtype: dtype, count: numel, raw: Data(raw))
            storages[key] = s
            return .storage(s)
        }
        let pklBytes = Data(try zip.contents(of: pkl))
        let (value, end) = try unpickler.load(pklBytes)
        guard end == pklBytes.count else { throw FormatError(path, "\(pklBytes.count - end) bytes of trailing data after data.pkl's pickle") }
        root = value
    }

    /// The top-level dict.
    public var rootDict: PickleDict? { root.dictValue }

    /// The string-keyed tensors of the dict at `key` of the top-level dict (a `state_dict()`),
    /// in file order; `key` nil means the top level itself is the state dict.
    /// - Throws: `FormatError` when the entry is missing, not a dict, or holds a non-tensor value.
    public func tensorDict(_ key: String?) throws -> [(name: String, tensor: TorchTensor)] {
        let v: PickleValue
        if let key {
            guard let d = rootDict, let e = d[key] else {
                throw FormatError(path, "no entry '\(key)' (top-level keys: \(topLevelKeys.joined(separator: ", ")))")
            }
            v = e
        } else {
            v = root
        }
        guard let d = v.dictValue else { throw FormatError(path, "entry '\(key ?? "<root>")' is \(v), not a state dict") }
        return try d.items.map { k, t in
            guard let name = k.stringValue else { throw FormatError(path, "state dict '\(key ?? "<root>")' has a non-string key \(k)") }
            guard let tensor = t.tensorValue else { throw FormatError(path, "state dict entry '\(name)' is \(t), not a tensor") }
            return (name, tensor)
        }
    }

    /// Keys of the top-level dict (empty when it is not a dict).
    public var topLevelKeys: [String] { rootDict?.stringItems.map(\.key) ?? [] }
}
