import ArgumentParser
import LatentModels
import LatentCore
import LatentInversion
import LatentEditing
import LatentEncoders

// Options with a fixed set of values are parsed into the library's own enums: a typo is a usage
// error (exit 64) naming the choices, and nothing later force-unwraps a string.
extension LatentSpace: ExpressibleByArgument {}
extension NoiseInit: ExpressibleByArgument {}
extension NoiseModeName: ExpressibleByArgument {}
extension LPIPSNet: ExpressibleByArgument {}
extension DiscoveryMethod: ExpressibleByArgument {}
extension RegressionMetric: ExpressibleByArgument {}
extension LabelSplit: ExpressibleByArgument {}
extension GuidanceKind: ExpressibleByArgument {}

/// `--scale N`: saved PNGs enlarged N× (nearest neighbour) for small generators.
struct ImageScaleOption: ParsableArguments {
    @Option(help: "Enlarge saved images N× (nearest neighbour; 64×64 scenes are hard to see).") var scale: Int = 1

    func validate() throws {
        guard (1...16).contains(scale) else { throw ValidationError("--scale must be 1-16") }
    }
}

/// `parseWsRange` for a command-line option: a bad range is a usage error naming the option.
func parseWsRangeOption(_ text: String, numWs: Int, option: String) throws -> Range<Int> {
    do { return try parseWsRange(text, numWs: numWs) } catch {
        throw ValidationError("\(option): \(error)")
    }
}

/// `--strength s[,s2,…]`: finite numbers of at most 1e6 in magnitude, as a usage error otherwise.
func parseStrengths(_ text: String) throws -> [Float] {
    try text.split(separator: ",").map { s -> Float in
        guard let v = Float(s.trimmingCharacters(in: .whitespaces)), v.isFinite, abs(v) <= 1e6 else {
            throw ValidationError("bad strength '\(s)'")
        }
        return v
    }
}
