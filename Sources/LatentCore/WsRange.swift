/// Parses an inclusive ws-row range `a-b` (or a single row `a`), 0-based as NVIDIA numbers the
/// ws, into a half-open range. The one parser for `--layers`, `--mix-layers` and recipe `layers`.
/// - Parameter numWs: rows of the generator; pass `Int.max` to check only the syntax.
/// - Throws: `WsRangeError` for text that is not `a-b` / `a`, a descending or negative range, or
///   one outside `0...numWs-1`.
public func parseWsRange(_ text: String, numWs: Int) throws -> Range<Int> {
    let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        .map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard let a = parts.first ?? nil, parts.allSatisfy({ $0 != nil }) else {
        throw WsRangeError("layer range '\(text)' is not of the form a-b (0-based, inclusive)")
    }
    let b = parts.count == 2 ? parts[1]! : a
    guard a >= 0, b >= a else { throw WsRangeError("layer range '\(text)' must be ascending and non-negative") }
    guard b < numWs else {
        throw WsRangeError("layer range '\(text)' must lie within 0-\(numWs - 1) (this generator has \(numWs) ws)")
    }
    return a ..< b + 1
}

/// `a-b` (inclusive) for a half-open ws range, as `parseWsRange` reads it.
public func wsRangeText(_ r: Range<Int>) -> String { "\(r.lowerBound)-\(r.upperBound - 1)" }

/// A malformed or out-of-range ws range.
public struct WsRangeError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
