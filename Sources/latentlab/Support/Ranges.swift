import ArgumentParser
import Foundation

/// The most numbers one list may expand to: `0-4000000000` must be an error, not an attempt to
/// allocate 32 GB.
let maxListCount = 1_000_000

/// Parses NVIDIA-style integer lists: `0,1,4-6` → [0, 1, 4, 5, 6] (order and repeats kept, as
/// gen_images.py's `parse_range`). Spaces around numbers are allowed.
/// - Parameter name: the option, for messages (e.g. `--seeds`).
/// - Throws: `ValidationError` (a malformed command line) for text that is not numbers and
///   ascending ranges, an empty list, or more than `maxListCount` numbers.
func parseIntList(_ text: String, name: String? = nil) throws -> [Int] {
    let label = name.map { "\($0) " } ?? ""
    var out: [Int] = []
    for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
        // A leading '-' would be a negative number, not a range: split after the first character.
        let bounds = part.dropFirst().split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            .enumerated().map { i, s in (i == 0 ? String(part.prefix(1)) + s : String(s)).trimmingCharacters(in: .whitespaces) }
        if bounds.count == 2, let a = Int(bounds[0]), let b = Int(bounds[1]) {
            guard a <= b else {
                throw ValidationError("\(label)'\(text)': range \(part) runs backwards; write \(b)-\(a)")
            }
            let span = b.subtractingReportingOverflow(a)
            guard !span.overflow, span.partialValue < maxListCount - out.count else {
                throw ValidationError("\(label)'\(text)': more than \(maxListCount) numbers")
            }
            out += Array(a...b)
        } else if bounds.count == 1, let a = Int(bounds[0]) {
            out.append(a)
        } else {
            throw ValidationError("\(label)cannot parse '\(part)' in '\(text)': expected numbers and ranges like 0,3-5")
        }
        guard out.count <= maxListCount else { throw ValidationError("\(label)'\(text)': more than \(maxListCount) numbers") }
    }
    guard !out.isEmpty else { throw ValidationError("\(label)empty list '\(text)'") }
    return out
}
