import Foundation

/// A parsed JSON value that keeps object keys in file order and integers exact.
///
/// Foundation's `JSONSerialization` silently keeps one of two duplicate keys, turns integers past
/// 2^53 into doubles and forgets key order; a safetensors header needs all three right, so the
/// header is parsed here (RFC 8259, strict: no comments, no trailing commas, no NaN).
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int`.
    case integer(Int)
    /// Any other number.
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in file order; keys are unique (the parser refuses duplicates).
    case object([(key: String, value: JSONValue)])

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// Short name of the JSON type, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Why a JSON text was refused, with the byte offset where parsing stopped.
struct JSONParseError: Error, CustomStringConvertible {
    var offset: Int
    var message: String
    var description: String { "\(message) at byte \(offset)" }
}

/// Strict JSON parser over UTF-8 bytes.
struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private var pos = 0
    private var depth = 0
    /// Nesting limit: recursion on adversarial input ("[[[[…") must not exhaust the stack.
    static let maxDepth = 128

    /// Parses one JSON value; only whitespace may follow it.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipWhitespace()
        let v = try p.value()
        p.skipWhitespace()
        guard p.pos == bytes.count else { throw p.fail("unexpected characters after the JSON value") }
        return v
    }

    static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { try parse($0) }
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private func fail(_ message: String) -> JSONParseError { JSONParseError(offset: pos, message: message) }

    private var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }

    private mutating func skipWhitespace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    private mutating func expect(_ literal: String, _ v: JSONValue) throws -> JSONValue {
        for b in literal.utf8 {
            guard peek == b else { throw fail("invalid literal (expected \(literal))") }
            pos += 1
        }
        return v
    }

    private mutating func value() throws -> JSONValue {
        guard let c = peek else { throw fail("unexpected end of JSON") }
        switch c {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character '\(Character(Unicode.Scalar(c)))'")
        }
    }

    private mutating func enter() throws {
        depth += 1
        guard depth <= JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth)") }
    }

    private mutating func object() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        skipWhitespace()
        if peek == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let keyStart = pos
            let key = try string()
            guard seen.insert(key).inserted else {
                throw JSONParseError(offset: keyStart, message: "duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw fail("expected ':'") }
            pos += 1
            skipWhitespace()
            members.append((key, try value()))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): pos += 1
            case UInt8(ascii: "}"): pos += 1; return .object(members)
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    private mutating func array() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if peek == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value())
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): pos += 1
            case UInt8(ascii: "]"): pos += 1; return .array(items)
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v * 16 + d
            pos += 1
        }
        return v
    }

    private mutating func string() throws -> String {
        pos += 1  // opening quote
        var out = [UInt8]()
        var runStart = pos
        while true {
            guard let c = peek else { throw fail("unterminated string") }
            if c == UInt8(ascii: "\"") {
                out.append(contentsOf: bytes[runStart..<pos])
                pos += 1
                break
            }
            if c < 0x20 { throw fail("unescaped control character in string") }
            if c != UInt8(ascii: "\\") { pos += 1; continue }
            out.append(contentsOf: bytes[runStart..<pos])
            pos += 1
            guard let e = peek else { throw fail("unterminated escape") }
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate in \\u escape")
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
            default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
            runStart = pos
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }

    private mutating func number() throws -> JSONValue {
        let start = pos
        var integral = true
        if peek == UInt8(ascii: "-") { pos += 1 }
        guard let first = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw fail("invalid number") }
        if first == UInt8(ascii: "0") {
            pos += 1
        } else {
            while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { pos += 1 }
        }
        if peek == UInt8(ascii: ".") {
            integral = false
            pos += 1
            guard let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { throw fail("invalid number") }
            while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { pos += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            integral = false
            pos += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { pos += 1 }
            guard let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { throw fail("invalid number") }
            while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { pos += 1 }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if integral, let i = Int(text) { return .integer(i) }
        guard let d = Double(text) else { throw JSONParseError(offset: start, message: "invalid number") }
        return .number(d)
    }
}

/// JSON text in the compact form serde_json writes (the safetensors reference writer): no
/// whitespace, `/` and non-ASCII left as is, control characters escaped.
enum JSONWriter {
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Indented rendering for people (`latentlab inspect`), keys in their original order.
    static func pretty(_ v: JSONValue, indent: String = "  ", level: Int = 0) -> String {
        let pad = String(repeating: indent, count: level)
        let inner = String(repeating: indent, count: level + 1)
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)"
        case .string(let s):
            var out = [UInt8](); appendString(s, to: &out)
            return String(decoding: out, as: UTF8.self)
        case .array(let items):
            if items.isEmpty { return "[]" }
            // Short arrays of scalars (shapes, resolutions) read best on one line.
            if items.count <= 16, items.allSatisfy({ if case .array = $0 { return false }; if case .object = $0 { return false }; return true }) {
                return "[" + items.map { pretty($0) }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { inner + pretty($0, indent: indent, level: level + 1) }.joined(separator: ",\n") + "\n\(pad)]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            return "{\n" + members.map { m in
                inner + pretty(.string(m.key)) + ": " + pretty(m.value, indent: indent, level: level + 1)
            }.joined(separator: ",\n") + "\n\(pad)}"
        }
    }
}
