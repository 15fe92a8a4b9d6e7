import Foundation

/// The npy header: a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`
/// padded with spaces and a newline (numpy `lib/format.py`). It is parsed here as data, never
/// evaluated: only strings, integers (with a Python 2 `L` suffix allowed), booleans, None, tuples,
/// lists and dicts are recognised.
indirect enum PyLiteral: Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PyLiteral])
    case list([PyLiteral])
    case dict([(String, PyLiteral)])

    static func == (a: PyLiteral, b: PyLiteral) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.none, .none): return true
        case let (.tuple(x), .tuple(y)), let (.list(x), .list(y)): return x == y
        case let (.dict(x), .dict(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }
}

struct PyLiteralParser {
    private let s: [Unicode.Scalar]
    private var i = 0
    private var depth = 0

    struct Failure: Error { var message: String }

    static func parse(_ text: String) throws -> PyLiteral {
        var p = PyLiteralParser(s: Array(text.unicodeScalars))
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        guard p.i == p.s.count else { throw Failure(message: "unexpected text after the header dict at character \(p.i)") }
        return v
    }

    private init(s: [Unicode.Scalar]) { self.s = s }

    private var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }

    private mutating func skipSpace() {
        while let c = peek, c == " " || c == "\n" || c == "\t" || c == "\r" { i += 1 }
    }

    private func fail(_ m: String) -> Failure { Failure(message: "\(m) at character \(i)") }

    private mutating func value() throws -> PyLiteral {
        guard let c = peek else { throw fail("unexpected end of header") }
        switch c {
        case "'", "\"": return .string(try string())
        case "(": return .tuple(try sequence(close: ")"))
        case "[": return .list(try sequence(close: "]"))
        case "{": return try dict()
        case "-", "0"..."9": return try int()
        default:
            for (word, v) in [("True", PyLiteral.bool(true)), ("False", .bool(false)), ("None", .none)] {
                let w = Array(word.unicodeScalars)
                if i + w.count <= s.count, Array(s[i ..< i + w.count]) == w {
                    i += w.count
                    return v
                }
            }
            throw fail("unexpected '\(c)'")
        }
    }

    private mutating func string() throws -> String {
        let quote = s[i]
        i += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek else { throw fail("unterminated string") }
            i += 1
            if c == quote { return String(out) }
            if c == "\n" { throw fail("newline inside a string") }
            if c == "\\" {
                guard let e = peek else { throw fail("unterminated escape") }
                i += 1
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\", "'", "\"": out.append(e)
                default: throw fail("unsupported escape '\\\(e)'")
                }
            } else {
                out.append(c)
            }
        }
    }

    private mutating func int() throws -> PyLiteral {
        let start = i
        if peek == "-" { i += 1 }
        while let c = peek, ("0"..."9").contains(c) { i += 1 }
        let text = String(String.UnicodeScalarView(s[start ..< i]))
        guard let v = Int(text) else { throw fail("invalid integer '\(text)'") }
        if peek == "L" { i += 1 }  // Python 2 long suffix, as numpy's `_filter_header` tolerates
        return .int(v)
    }

    private mutating func enter() throws {
        depth += 1
        guard depth <= 32 else { throw fail("nesting too deep") }
    }

    private mutating func sequence(close: Unicode.Scalar) throws -> [PyLiteral] {
        try enter()
        defer { depth -= 1 }
        i += 1
        var items: [PyLiteral] = []
        while true {
            skipSpace()
            if peek == close { i += 1; return items }
            items.append(try value())
            skipSpace()
            if peek == "," { i += 1; continue }
            guard peek == close else { throw fail("expected ',' or '\(close)'") }
        }
    }

    private mutating func dict() throws -> PyLiteral {
        try enter()
        defer { depth -= 1 }
        i += 1
        var items: [(String, PyLiteral)] = []
        while true {
            skipSpace()
            if peek == "}" { i += 1; return .dict(items) }
            guard peek == "'" || peek == "\"" else { throw fail("expected a string key") }
            let key = try string()
            guard !items.contains(where: { $0.0 == key }) else { throw fail("duplicate key '\(key)'") }
            skipSpace()
            guard peek == ":" else { throw fail("expected ':'") }
            i += 1
            skipSpace()
            items.append((key, try value()))
            skipSpace()
            if peek == "," { i += 1; continue }
            guard peek == "}" else { throw fail("expected ',' or '}'") }
        }
    }
}

/// What an npy header declares.
struct NpyHeader {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    /// Interprets a parsed header dict; `bad` wraps the reason into a `FormatError`.
    init(_ literal: PyLiteral, bad: (String) -> FormatError) throws {
        guard case .dict(let items) = literal else { throw bad("npy header is not a dict") }
        let keys = Set(items.map(\.0))
        guard keys == ["descr", "fortran_order", "shape"] else {
            throw bad("npy header has keys \(items.map(\.0).sorted()), expected ['descr', 'fortran_order', 'shape']")
        }
        let d = Dictionary(uniqueKeysWithValues: items)
        switch d["descr"]! {
        case .string(let s): descr = s
        case .list: throw bad("structured (record) dtypes are not supported")
        default: throw bad("npy header 'descr' is not a dtype string")
        }
        guard case .bool(let f) = d["fortran_order"]! else { throw bad("npy header 'fortran_order' is not True or False") }
        fortranOrder = f
        guard case .tuple(let dims) = d["shape"]! else { throw bad("npy header 'shape' is not a tuple") }
        shape = try dims.map {
            guard case .int(let v) = $0, v >= 0 else { throw bad("npy header 'shape' holds \($0), not a non-negative integer") }
            return v
        }
    }

    init(descr: String, fortranOrder: Bool, shape: [Int]) {
        self.descr = descr; self.fortranOrder = fortranOrder; self.shape = shape
    }

    /// The header block exactly as numpy ≥ 1.24 writes it (`_write_array_header`): sorted keys,
    /// Python reprs, 21 − len(repr(shape[0])) spare spaces so the array can grow in place, then
    /// padding to a multiple of 64 bytes ending in a newline. Version 1.0 unless the header
    /// needs more than 65535 bytes (then 2.0).
    func encoded() -> [UInt8] {
        let shapeRepr = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeRepr), }"
        if !shape.isEmpty {
            let growthDim = fortranOrder ? shape[shape.count - 1] : shape[0]
            text += String(repeating: " ", count: max(0, 21 - String(growthDim).count))
        }
        let body = Array(text.utf8)
        for (major, lenSize) in [(UInt8(1), 2), (UInt8(2), 4)] {
            let hlen = body.count + 1
            let pad = 64 - ((8 + lenSize + hlen) % 64)
            let total = hlen + pad
            if lenSize == 2 && total > 0xFFFF { continue }
            var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
            for k in 0 ..< lenSize { out.append(UInt8(truncatingIfNeeded: total >> (8 * k))) }
            out += body
            out += [UInt8](repeating: 0x20, count: pad)
            out.append(0x0A)
            return out
        }
        preconditionFailure("unreachable: version 2.0 holds any header")
    }
}
