import ArgumentParser
import Foundation
import LatentModels

/// The accepted range of every integer option, by property name, with the flag it is given as.
///
/// Every numeric option is bounded so that no size computed from it (steps × images, samples ×
/// wDim, views × crops, a batch of activations) can overflow or ask for more memory than a
/// machine has: an out-of-range value is a usage error naming the option, never a trap.
/// Integer options not listed here get `defaultIntRange`; floating-point options must be finite
/// and at most `maxFloatMagnitude` in size.
let optionBounds: [String: (flag: String, range: ClosedRange<Int>)] = [
    "steps": ("--steps", 1 ... 1_000_000),
    "seed": ("--seed", 0 ... Int(UInt32.max)),
    "mixSeed": ("--mix-seed", 0 ... Int(UInt32.max)),
    "earlyStop": ("--early-stop", 1 ... 1_000_000),
    "wAvgSamples": ("--w-avg-samples", 2 ... 1_000_000),
    "batch": ("--batch", 1 ... 1024),
    "count": ("--count", 1 ... 100_000),
    "samples": ("--samples", 2 ... 1_000_000),
    "augment": ("--augment", 0 ... 1024),
    "jitter": ("--jitter", 0 ... 1024),
    "contextLength": ("--context-length", 2 ... 4096),
    "truncCutoff": ("--trunc-cutoff", 0 ... 10_000),
]

/// The range of an integer option missing from `optionBounds` (small enough that products of a
/// few such values stay far from overflow).
let defaultIntRange = 0 ... 4096

/// The largest magnitude of a floating-point option (weights, rates, strengths, fractions): far
/// beyond any meaningful setting, far below where products of a few of them overflow Float.
let maxFloatMagnitude = 1e12

/// The most bytes one option may make a command hold at once (its images, latents, samples).
let maxWorkingBytes = 8 << 30

/// Checks a size computed from an option (e.g. seeds × bytes per image) against
/// `maxWorkingBytes`, without overflowing.
/// - Throws: `ValidationError` naming the option (a usage error, exit 64).
func requireWorkingSize(_ flag: String, count: Int, bytesEach: Int, what: String) throws {
    let (total, overflow) = count.multipliedReportingOverflow(by: bytesEach)
    guard !overflow, total <= maxWorkingBytes else {
        throw ValidationError("\(flag): \(count) \(what) of \(bytesEach) bytes need more than the \(maxWorkingBytes)-byte limit at once; split the list")
    }
}

/// Bytes one generated image holds while a command runs: its ws and its float32 pixels.
func generatedImageBytes(_ G: StyleGAN2Generator) -> Int {
    (G.numWs * G.wDim + G.imgChannels * G.resolution * G.resolution) * MemoryLayout<Float>.size
}

/// The first numeric option of a parsed command (its option groups included) that lies outside
/// its bounds, as a usage message naming the option; nil when all are in range.
func optionBoundsViolation(_ command: Any) -> String? {
    for child in Mirror(reflecting: command).children {
        guard let label = child.label, let wrapper = child.value as? AnyOptionWrapper else { continue }
        let name = label.hasPrefix("_") ? String(label.dropFirst()) : label
        let value = wrapper.anyWrappedValue
        if value is ParsableArguments, let inner = optionBoundsViolation(value) { return inner }
        let bound = optionBounds[name] ?? (flag: "--" + kebabCase(name), range: defaultIntRange)
        switch value {
        case let v as Int where !bound.range.contains(v):
            return "\(bound.flag) must lie in \(bound.range.lowerBound)...\(bound.range.upperBound), got \(v)"
        case let v as Float where !(abs(Double(v)) <= maxFloatMagnitude):
            return "\(bound.flag) must be a finite number of magnitude at most \(maxFloatMagnitude), got \(v)"
        case let v as Double where !(abs(v) <= maxFloatMagnitude):
            return "\(bound.flag) must be a finite number of magnitude at most \(maxFloatMagnitude), got \(v)"
        default:
            continue
        }
    }
    return nil
}

/// ArgumentParser's default long name of a property (`wAvgSamples` → `w-avg-samples`).
private func kebabCase(_ name: String) -> String {
    var out = ""
    for c in name {
        if c.isUppercase, !out.isEmpty { out += "-" }
        out += c.lowercased()
    }
    return out
}

/// Gives the value inside an ArgumentParser property wrapper without knowing its type.
protocol AnyOptionWrapper { var anyWrappedValue: Any { get } }
extension Option: AnyOptionWrapper { var anyWrappedValue: Any { wrappedValue } }
extension Argument: AnyOptionWrapper { var anyWrappedValue: Any { wrappedValue } }
extension OptionGroup: AnyOptionWrapper { var anyWrappedValue: Any { wrappedValue } }
