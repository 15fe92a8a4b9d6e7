import Foundation

extension TorchStorage {
    /// Decodes the legacy (pre-zip) `torch.save` container, following `torch/serialization.py`
    /// `_legacy_load`: four pickles (the magic number, protocol version 1001, a sys-info dict, the
    /// object whose storages are persistent ids `('storage', torch.FloatStorage, key, location,
    /// numel, view_metadata)`), a pickled list of storage keys, then per key an int64
    /// little-endian element count and the raw little-endian elements. `view_metadata`
    /// `(view_key, offset, size)` selects a sub-range of its root storage.
    ///
    /// The storage data follows the object's pickle, so the object is decoded twice: once with its
    /// tensor constructors left inert to find the storages and where the pickle ends, then with
    /// `reducer` and the loaded storages. Nothing is executed in either pass.
    ///
    /// - Returns: the decoded object (its storages as `.storage`, tensors per `reducer`).
    /// - Throws: `PickleError` naming what is wrong; `FormatError` from the unpickler.
    static func decodeLegacyContainer(_ bytes: Data, source: String, objectAllowList: PickleAllowList, maxDepth: Int = 1000,
                                      reducer: Unpickler.Reducer?) throws -> PickleValue {
        let plain = Unpickler(source: source, allowList: PickleAllowList(globals: []))
        let (magic, p1) = try plain.load(bytes)
        guard case .bigInt(let m) = magic, m == legacyMagic else {
            throw PickleError("legacy torch.save bytes do not start with the magic number 0x1950a86a20f9469cfc6c")
        }
        let (proto, p2) = try plain.load(bytes, from: p1)
        guard proto.intValue == 1001 else {
            throw PickleError("legacy torch.save protocol version is \(proto), expected 1001")
        }
        let (sysInfo, p3) = try plain.load(bytes, from: p2)
        if let le = sysInfo.dictValue?["little_endian"]?.boolValue, !le {
            throw PickleError("legacy torch.save bytes were written on a big-endian machine, which is not supported")
        }

        struct Request { var dtype: DType; var key: String; var numel: Int; var view: (key: String, offset: Int, size: Int)? }
        func parse(_ pid: PickleValue) throws -> Request {
            guard let t = pid.sequenceValue, t.count == 6, t[0].stringValue == "storage" else {
                throw PickleError("unsupported persistent id \(pid) (expected ('storage', type, key, location, numel, view))")
            }
            guard case .global(let g) = t[1], g.module == "torch", let dtype = DType(torchStorageName: g.name) else {
                throw PickleError("unknown storage type \(t[1])")
            }
            guard let key = t[2].stringValue, let numel = t[4].intValue, numel >= 0 else {
                throw PickleError("malformed storage persistent id \(pid)")
            }
            var view: (String, Int, Int)?
            if !t[5].isNone {
                guard let v = t[5].sequenceValue, v.count == 3, let vk = v[0].stringValue,
                      let off = v[1].intValue, let sz = v[2].intValue, off >= 0, sz >= 0, off <= numel, sz <= numel - off else {
                    throw PickleError("malformed storage view \(t[5]) of a \(numel)-element storage")
                }
                view = (vk, off, sz)
            }
            return Request(dtype: dtype, key: key, numel: numel, view: view)
        }

        // Pass 1: the storages the object references, and where its pickle ends.
        var requests: [Request] = []
        var scan = Unpickler(source: source, allowList: objectAllowList, maxDepth: maxDepth)
        scan.persistentLoad = { pid in
            requests.append(try parse(pid))
            return .persistentID(.int(requests.count - 1))
        }
        let (_, p4) = try scan.load(bytes, from: p3)
        let (keysValue, p5) = try plain.load(bytes, from: p4)
        guard let keys = keysValue.sequenceValue?.compactMap(\.stringValue), keys.count == keysValue.sequenceValue?.count else {
            throw PickleError("legacy torch.save storage key list is malformed")
        }

        var roots: [String: TorchStorage] = [:]
        var position = p5
        for key in keys {
            guard let req = requests.first(where: { $0.key == key }) else {
                throw PickleError("legacy torch.save data for storage '\(key)' that nothing references")
            }
            let remaining = bytes.count - position
            guard remaining >= 8 else { throw PickleError("legacy torch.save data ends before the size of storage '\(key)' (truncated)") }
            let count = bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: Int64.self)) }
            position += 8
            guard count == Int64(req.numel) else {
                throw PickleError("storage '\(key)' declares \(req.numel) elements but its data has \(count)")
            }
            guard req.numel <= (remaining - 8) / req.dtype.itemSize else {
                throw PickleError("storage '\(key)' declares \(req.numel) \(req.dtype.name) elements but only \(remaining - 8) bytes remain (truncated or corrupt)")
            }
            let n = req.numel * req.dtype.itemSize
            let lo = bytes.startIndex + position
            roots[key] = try TorchStorage(dtype: req.dtype, count: req.numel, raw: bytes[lo ..< lo + n])
            position += n
        }
        var resolved: [TorchStorage] = []
        for req in requests {
            guard let root = roots[req.key] else { throw PickleError("legacy torch.save bytes lack the data of storage '\(req.key)'") }
            guard root.dtype == req.dtype else { throw PickleError("storage '\(req.key)' is used as both \(root.dtype.name) and \(req.dtype.name)") }
            guard let v = req.view else { resolved.append(root); continue }
            let s = root.dtype.itemSize
            let lo = root.raw.startIndex + v.offset * s
            resolved.append(try TorchStorage(dtype: root.dtype, count: v.size, raw: root.raw[lo ..< lo + v.size * s]))
        }

        // Pass 2: the object with its storages (the persistent ids come in the same order).
        var next = 0
        var build = Unpickler(source: source, allowList: objectAllowList, maxDepth: maxDepth, reducer: reducer)
        build.persistentLoad = { pid in
            _ = try parse(pid)
            guard next < resolved.count else { throw PickleError("persistent ids differ between passes") }
            defer { next += 1 }
            return .storage(resolved[next])
        }
        return try build.load(bytes, from: p3).value
    }
}
