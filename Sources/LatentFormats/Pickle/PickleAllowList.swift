import Foundation

/// The globals a pickle may name. Anything else is refused when the `GLOBAL`/`STACK_GLOBAL`
/// opcode is read, before any value is built, so a `posix.system` or `builtins.eval` reference
/// fails the whole load.
public struct PickleAllowList: Sendable {
    /// Qualified names (`module.name`) that may be referenced and applied with `REDUCE`/`NEWOBJ`.
    public var globals: Set<String>
    /// Module prefixes whose classes may only be instantiated with `NEWOBJ` (the
    /// `cls.__new__(cls)` + `BUILD` state that plain `torch.nn.Module` subclasses pickle as);
    /// such a node stays inert data.
    public var classPrefixes: [String]

    public init(globals: Set<String>, classPrefixes: [String] = []) {
        self.globals = globals
        self.classPrefixes = classPrefixes
    }

    public func permits(_ g: PickleGlobal) -> Bool {
        globals.contains(g.qualifiedName) || classPrefixes.contains { g.module.hasPrefix($0) }
    }

    /// Whether `REDUCE` may apply `g` (classes admitted by prefix are `NEWOBJ`-only).
    public func permitsCall(_ g: PickleGlobal) -> Bool { globals.contains(g.qualifiedName) }

    /// Pure-data constructors every allow-list may include: they only build containers.
    public static let dataConstructors: Set<String> = [
        "collections.OrderedDict",
        "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset",
        // Protocol 2 pickles of Python 3 `bytes`.
        "_codecs.encode",
        // NVlabs' attribute dict (a dict subclass) in `_init_kwargs` of stylegan2-ada snapshots.
        "dnnlib.util.EasyDict", "dnnlib.EasyDict",
        "numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar", "numpy.dtype",
    ]

    /// What an NVlabs training snapshot (`network-snapshot-*.pkl`) references: persistent
    /// networks, legacy-serialized tensors, OrderedDicts and numpy scalars.
    public static let nvlabsSnapshot = PickleAllowList(
        globals: dataConstructors.union([
            "torch_utils.persistence._reconstruct_persistent_obj",
            "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_parameter_with_state",
            "torch.storage._load_from_bytes",
        ]),
        classPrefixes: ["torch.nn.modules."])

    /// What the pickles inside legacy `torch.save` bytes reference: only storage types.
    public static let torchLegacyStorage = PickleAllowList(
        globals: Set(DType.torchTypes.map { "torch.\($0.torchStorageName!)" }))

    /// Builds data for the constructors in `dataConstructors`; nil for every other global.
    static func dataConstructor(_ g: PickleGlobal, _ args: [PickleValue], _ kind: Unpickler.CallKind) throws -> PickleValue? {
        switch g.qualifiedName {
        case "collections.OrderedDict", "dnnlib.util.EasyDict", "dnnlib.EasyDict":
            let d = PickleDict()
            if let first = args.first {
                guard args.count == 1, let pairs = first.sequenceValue else {
                    throw PickleError("\(g.qualifiedName) expects no arguments or a list of pairs")
                }
                for p in pairs {
                    guard let kv = p.sequenceValue, kv.count == 2 else { throw PickleError("\(g.qualifiedName) item is not a pair") }
                    try d.set(kv[0], kv[1])
                }
            }
            return .dict(d)
        case "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset":
            guard args.count <= 1 else { throw PickleError("\(g.qualifiedName) takes at most one argument") }
            guard let items = args.isEmpty ? [] : args[0].sequenceValue else {
                throw PickleError("\(g.qualifiedName) argument is not a list or tuple")
            }
            return .set(PickleList(items))
        case "_codecs.encode":
            guard args.count == 2, let s = args[0].stringValue, let enc = args[1].stringValue,
                  ["latin1", "latin-1", "iso-8859-1"].contains(enc.lowercased()) else {
                throw PickleError("_codecs.encode is only accepted as encode(str, 'latin1') (how protocol 2 stores bytes)")
            }
            var out = Data(capacity: s.unicodeScalars.count)
            for u in s.unicodeScalars {
                guard u.value < 256 else { throw PickleError("_codecs.encode: character U+\(String(u.value, radix: 16)) is not latin-1") }
                out.append(UInt8(u.value))
            }
            return .bytes(out)
        case "numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar":
            return try numpyScalar(args)
        default:
            return nil
        }
    }

    /// `numpy.core.multiarray.scalar(dtype, bytes)`: a numpy scalar such as the `weight_gain`
    /// float64 attributes of NVlabs layers. The dtype is an unevaluated `numpy.dtype(str, …)` call
    /// whose `BUILD` state `(version, byteorder, …)` holds the byte order.
    static func numpyScalar(_ args: [PickleValue]) throws -> PickleValue {
        guard args.count == 2, let dt = args[0].callValue, dt.callee.name == "dtype",
              let spec = dt.args.first?.stringValue, case .bytes(let raw) = args[1] else {
            throw PickleError("numpy scalar expects (numpy.dtype, bytes)")
        }
        var order = "<"
        if let st = dt.state?.sequenceValue, st.count > 1, let o = st[1].stringValue { order = o }
        var code = spec
        if let c = code.first, "<>=|".contains(c) { order = String(c); code.removeFirst() }
        guard let kind = code.first, let size = Int(code.dropFirst()), size == raw.count else {
            throw PickleError("numpy scalar of dtype '\(spec)' with \(raw.count) bytes is not supported")
        }
        var b = [UInt8](raw)
        if order == ">" { b.reverse() }
        var u: UInt64 = 0
        for (i, x) in b.enumerated() { u |= UInt64(x) << (8 * UInt64(i)) }
        switch (kind, size) {
        case ("f", 8): return .float(Double(bitPattern: u))
        case ("f", 4): return .float(Double(Float(bitPattern: UInt32(u))))
        case ("f", 2): return .float(Double(Float(Float16(bitPattern: UInt16(u)))))
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8):
            let shift = UInt64(64 - 8 * size)
            return .int(Int(Int64(bitPattern: u << shift) >> Int64(shift)))
        case ("u", 1), ("u", 2), ("u", 4):
            return .int(Int(u))
        case ("u", 8):
            guard u <= UInt64(Int.max) else { throw PickleError("numpy uint64 scalar \(u) does not fit in Int") }
            return .int(Int(u))
        case ("b", 1): return .bool(u != 0)
        default:
            throw PickleError("numpy scalar of dtype '\(spec)' is not supported")
        }
    }
}
