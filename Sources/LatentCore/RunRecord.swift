import Foundation
import LatentTensor

/// One JSON value of a run record: numbers stay numbers, flags booleans, lists arrays.
public enum RecordValue: Codable, Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
                         ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
                         ExpressibleByDictionaryLiteral {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([RecordValue])
    case object([String: RecordValue])
    case null

    public init(stringLiteral v: String) { self = .string(v) }
    public init(integerLiteral v: Int) { self = .int(v) }
    public init(floatLiteral v: Double) { self = .double(v) }
    public init(booleanLiteral v: Bool) { self = .bool(v) }
    public init(arrayLiteral v: RecordValue...) { self = .array(v) }
    public init(dictionaryLiteral v: (String, RecordValue)...) { self = .object(Dictionary(v, uniquingKeysWith: { a, _ in a })) }
    /// A Float as the decimal the user typed (0.0005, not 0.0005000000237…).
    public init(_ v: Float) { self = .double(Double("\(v)") ?? Double(v)) }
    public init(_ v: Double) { self = .double(v) }
    public init(_ v: Int) { self = .int(v) }
    public init(_ v: String?) { self = v.map { .string($0) } ?? .null }
    public init(_ v: Int?) { self = v.map { .int($0) } ?? .null }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([RecordValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: RecordValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }

    /// The value as text, for comparing settings and for messages.
    public var text: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return "\(i)"
        // JSON keeps no int/float distinction (1.0 reads back as 1): integral doubles print as integers.
        case .double(let d): return d.isFinite && d == d.rounded() && abs(d) < 1e15 ? "\(Int(d))" : "\(d)"
        case .bool(let b): return "\(b)"
        case .null: return "null"
        case .array, .object:
            return (try? String(decoding: resultJSONEncoder(pretty: false).encode(self), as: UTF8.self)) ?? ""
        }
    }
}

/// What a command did, written as JSON next to its results (`generate.json`, `edit.json`,
/// `metrics.json`'s `arguments`, …) so a result can be reproduced: the command, its options
/// and, where there are any, its measurements, as one flat object with sorted keys.
public struct RunRecord: Codable, Sendable, Equatable {
    public var values: [String: RecordValue]

    public init(command: String, _ values: [String: RecordValue] = [:]) {
        self.values = values
        self.values["command"] = .string(command)
    }

    public init(values: [String: RecordValue]) { self.values = values }

    public subscript(key: String) -> RecordValue? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// Adds `other`'s entries; existing keys are kept.
    public mutating func merge(_ other: [String: RecordValue]) { values.merge(other) { a, _ in a } }

    public init(from decoder: Decoder) throws { values = try decoder.singleValueContainer().decode([String: RecordValue].self) }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(values) }

    /// Writes the record atomically (sorted keys, indented).
    public func write(to path: String) throws { try writeAtomically(resultJSONEncoder().encode(self), to: path) }
}

/// JSON encoder for result files: sorted, indented, unescaped slashes, and able to write a PSNR
/// of +∞ (an exact reconstruction) as the string "inf" instead of failing.
public func resultJSONEncoder(pretty: Bool = true) -> JSONEncoder {
    let enc = JSONEncoder()
    enc.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return enc
}

/// The decoder matching `resultJSONEncoder`.
public func resultJSONDecoder() -> JSONDecoder {
    let dec = JSONDecoder()
    dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return dec
}
