import Foundation

/// A value decoded from a pickle by `Unpickler`: plain data only.
///
/// Nothing in a pickle is ever executed. A global (`module.name`) is only a name, and calling one
/// (`REDUCE`, `NEWOBJ`) either becomes a data value through a fixed rule for a handful of known
/// data constructors (`collections.OrderedDict` → `.dict`, `torch._utils._rebuild_tensor_v2` →
/// `.tensor`, …) or stays an inert `.call` node that the reader interprets.
///
/// Lists, dicts, sets and calls are reference types because pickle mutates them after they were
/// memoized (`EMPTY_DICT`, `MEMOIZE`, …, `SETITEMS`), and a later `BINGET` must see the result, as
/// it would in Python.
public indirect enum PickleValue: CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit in 64 bits, as little-endian two's-complement bytes (`LONG1`).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    /// Raw bytes; a slice of the (memory-mapped) file, so large payloads are never copied.
    case bytes(Data)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case set(PickleList)
    /// A reference to an allow-listed global, e.g. `collections.OrderedDict`.
    case global(PickleGlobal)
    /// An allow-listed global applied to arguments, kept unevaluated (plus `BUILD` state).
    case call(PickleCall)
    /// A persistent id (`BINPERSID`) that the reader's `persistentLoad` left unresolved.
    case persistentID(PickleValue)
    /// A torch storage decoded from its legacy `torch.save` bytes.
    case storage(TorchStorage)
    /// A torch tensor (`_rebuild_tensor_v2`) or parameter (`_rebuild_parameter`).
    case tensor(TorchTensor)

    public var description: String { describe(level: 0) }

    /// A short description: tuples show at most 6 items and 3 levels, so a message stays one
    /// short line, and its cost small, whatever the value holds.
    private func describe(level: Int) -> String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt(let b): return "<\(b.count * 8)-bit integer>"
        case .float(let d): return String(d)
        case .string(let s): return "'\(s.count > 60 ? String(s.prefix(57)) + "..." : s)'"
        case .bytes(let d): return "<\(d.count) bytes>"
        case .tuple(let t):
            guard level < 3 else { return "(<\(t.count) items>)" }
            let shown = t.prefix(6).map { $0.describe(level: level + 1) }
            let more = t.count > 6 ? ", <\(t.count - 6) more>" : ""
            return "(" + shown.joined(separator: ", ") + more + (t.count == 1 ? ",)" : ")")
        case .list(let l): return "[<\(l.items.count) items>]"
        case .dict(let d): return "{<\(d.count) items>}"
        case .set(let s): return "{<set of \(s.items.count)>}"
        case .global(let g): return g.qualifiedName
        case .call(let c): return "\(c.callee.qualifiedName)(<\(c.args.count) args>)"
        case .persistentID(let p): return "persistent_id(\(p.describe(level: level + 1)))"
        case .storage(let s): return "<\(s.dtype.torchStorageName!) of \(s.count)>"
        case .tensor(let t): return "<tensor \(t.dtype.name) \(t.size)>"
        }
    }

    // MARK: typed accessors (nil when the value has another kind)

    public var isNone: Bool { if case .none = self { return true }; return false }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    public var boolValue: Bool? {
        switch self {
        case .bool(let b): return b
        case .int(let i) where i == 0 || i == 1: return i == 1
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    public var dictValue: PickleDict? { if case .dict(let d) = self { return d }; return nil }
    public var callValue: PickleCall? { if case .call(let c) = self { return c }; return nil }
    public var tensorValue: TorchTensor? { if case .tensor(let t) = self { return t }; return nil }
    /// Elements of a tuple or list.
    public var sequenceValue: [PickleValue]? {
        switch self {
        case .tuple(let t): return t
        case .list(let l): return l.items
        default: return nil
        }
    }
}

/// `module.name` of a pickled global.
public struct PickleGlobal: Hashable, Sendable {
    public var module: String
    public var name: String
    public init(_ module: String, _ name: String) { self.module = module; self.name = name }
    public var qualifiedName: String { "\(module).\(name)" }
}

/// A list (or set) that pickle fills after creating it.
public final class PickleList {
    public internal(set) var items: [PickleValue]
    /// Nesting depth and whether the list was already placed inside another value (see
    /// `Unpickler`: a container is complete before it becomes a child).
    var depth = 1, nodes = 1, sealed = false
    public init(_ items: [PickleValue] = []) { self.items = items }
}

/// An insertion-ordered dict (Python dicts and `OrderedDict` keep insertion order).
public final class PickleDict {
    public private(set) var keys: [PickleValue] = []
    public private(set) var values: [PickleValue] = []
    private var index: [PickleKey: Int] = [:]
    var depth = 1, nodes = 1, sealed = false

    public init() {}

    public var count: Int { keys.count }
    public var items: [(key: PickleValue, value: PickleValue)] { Array(zip(keys, values)).map { ($0.0, $0.1) } }
    /// Entries whose keys are strings, in insertion order.
    public var stringItems: [(key: String, value: PickleValue)] {
        zip(keys, values).compactMap { k, v in k.stringValue.map { ($0, v) } }
    }

    public subscript(_ key: String) -> PickleValue? {
        index[.string(key)].map { values[$0] }
    }

    /// Python `d[key] = value`: replaces an existing key in place, else appends.
    func set(_ key: PickleValue, _ value: PickleValue) throws {
        guard let k = PickleKey(key) else {
            throw PickleError("unhashable dict key \(key)")
        }
        if let i = index[k] { values[i] = value; return }
        index[k] = keys.count
        keys.append(key)
        values.append(value)
    }
}

/// An allow-listed global applied to arguments (by `REDUCE` or `NEWOBJ`) that the unpickler does
/// not evaluate, with the state a later `BUILD` attached. For example a persistent NVlabs network
/// is `torch_utils.persistence._reconstruct_persistent_obj(meta)`.
public final class PickleCall {
    public let callee: PickleGlobal
    public let args: [PickleValue]
    /// Set by `BUILD` (Python's `__setstate__` argument), else nil.
    public internal(set) var state: PickleValue?
    var depth = 1, nodes = 1, sealed = false
    public init(callee: PickleGlobal, args: [PickleValue]) { self.callee = callee; self.args = args }
}

/// Hashable form of the dict keys pickles use (strings, numbers, None, tuples of those).
enum PickleKey: Hashable {
    case none, bool(Bool), int(Int), float(Double), string(String), bytes(Data), tuple([PickleKey])

    init?(_ v: PickleValue) {
        switch v {
        case .none: self = .none
        // Python: True == 1 and hash(True) == hash(1), so they are the same key.
        case .bool(let b): self = .int(b ? 1 : 0)
        case .int(let i): self = .int(i)
        case .float(let d): self = d == d.rounded() && abs(d) < 9.2e18 ? .int(Int(d)) : .float(d)
        case .string(let s): self = .string(s)
        case .bytes(let d): self = .bytes(d)
        case .tuple(let t):
            var ks: [PickleKey] = []
            for e in t { guard let k = PickleKey(e) else { return nil }; ks.append(k) }
            self = .tuple(ks)
        default: return nil
        }
    }
}

/// A refusal or decoding failure inside a pickle; `Unpickler` wraps it into a `FormatError` that
/// names the file and byte offset.
public struct PickleError: Error, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

// MARK: - JSON view

extension PickleValue {
    /// A Foundation JSON object (`NSNull`, `Bool`, `Int`, `Double`, `String`, `[Any]`,
    /// `[String: Any]`) for plain data: numbers, strings, None, lists/tuples, string-keyed dicts.
    /// Anything else (tensors, calls, bytes) is refused, naming the path to it.
    public func jsonObject(path: String = "value", depth: Int = 0) throws -> Any {
        guard depth < 64 else { throw PickleError("\(path) is nested deeper than 64 levels") }
        switch self {
        case .none: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .float(let d):
            guard d.isFinite else { throw PickleError("\(path) is \(d), which JSON cannot represent") }
            return d
        case .string(let s): return s
        case .tuple, .list:
            return try sequenceValue!.enumerated().map { try $1.jsonObject(path: "\(path)[\($0)]", depth: depth + 1) }
        case .dict(let d):
            var out: [String: Any] = [:]
            for (k, v) in d.items {
                guard let ks = k.stringValue else { throw PickleError("\(path) has a non-string key \(k)") }
                out[ks] = try v.jsonObject(path: "\(path).\(ks)", depth: depth + 1)
            }
            return out
        default:
            throw PickleError("\(path) is \(self), not plain data")
        }
    }

    /// Compact JSON text in Python `json.dumps` style (`{"a": 1, "b": [2, 3]}`), keeping dict
    /// insertion order; the same values as `jsonObject`.
    public func jsonText(path: String = "value", depth: Int = 0) throws -> String {
        guard depth < 64 else { throw PickleError("\(path) is nested deeper than 64 levels") }
        switch self {
        case .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .float(let d):
            guard d.isFinite else { throw PickleError("\(path) is \(d), which JSON cannot represent") }
            return String(d)
        case .string(let s): return jsonQuoted(s)
        case .tuple, .list:
            let parts = try sequenceValue!.enumerated().map { try $1.jsonText(path: "\(path)[\($0)]", depth: depth + 1) }
            return "[" + parts.joined(separator: ", ") + "]"
        case .dict(let d):
            var parts: [String] = []
            for (k, v) in d.items {
                guard let ks = k.stringValue else { throw PickleError("\(path) has a non-string key \(k)") }
                parts.append(jsonQuoted(ks) + ": " + (try v.jsonText(path: "\(path).\(ks)", depth: depth + 1)))
            }
            return "{" + parts.joined(separator: ", ") + "}"
        default:
            throw PickleError("\(path) is \(self), not plain data")
        }
    }
}

/// A JSON string literal (escapes quotes, backslashes and control characters).
func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
