import ArgumentParser
import Foundation

/// Parses NVIDIA-style integer lists: `0,1,4-6` → [0, 1, 4, 5, 6].
func parseIntList(_ text: String) throws -> [Int] {
    var out: [Int] = []
    for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
        let bounds = part.split(separator: "-", maxSplits: 1).map(String.init)
        if bounds.count == 2, let a = Int(bounds[0]), let b = Int(bounds[1]), a <= b {
            out += Array(a...b)
        } else if bounds.count == 1, let a = Int(bounds[0]) {
            out.append(a)
        } else {
            throw ValidationError("cannot parse '\(part)' in '\(text)': expected numbers and ranges like 0,3-5")
        }
    }
    guard !out.isEmpty else { throw ValidationError("empty list '\(text)'") }
    return out
}

/// Parses an inclusive layer range `a-b` (or a single index `a`) into a half-open range.
func parseLayerRange(_ text: String, numWs: Int) throws -> Range<Int> {
    let parts = text.split(separator: "-", maxSplits: 1).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard let a = parts.first ?? nil, parts.allSatisfy({ $0 != nil }) else {
        throw ValidationError("layer range '\(text)' is not of the form a-b")
    }
    let b = parts.count == 2 ? parts[1]! : a
    guard a >= 0, b >= a, b < numWs else {
        throw ValidationError("layer range '\(text)' must lie within 0-\(numWs - 1)")
    }
    return a ..< b + 1
}

