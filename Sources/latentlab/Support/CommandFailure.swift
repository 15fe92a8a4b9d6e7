import Foundation
import LatentTensor

/// A run-time failure of a command (bad input file, wrong latent shape, not a generator, an
/// unwritable output): ArgumentParser prints it as one `Error: …` line and exits with 1.
///
/// Throw `ValidationError` only for malformed command lines (checked in `validate()`): ArgumentParser
/// answers those with the command's usage and exit code 64, which is wrong for a bad file found at
/// run time (and, thrown from `run()`, it prints the usage of the root command, not the subcommand).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }

    /// Wraps any error as one clean line, prefixed with `context` (e.g. the path being written)
    /// unless the message already names it.
    init(_ error: Error, context: String? = nil) {
        let line = oneLine(error)
        if let context, !line.hasPrefix(context) {
            description = "\(context): \(line)"
        } else {
            description = line
        }
    }
}

/// An error as one readable line (see `errorLine`: Foundation file errors, whose default text is
/// "The operation could not be completed", reduced to the path and the system's reason).
func oneLine(_ error: Error) -> String {
    if let failure = error as? CommandFailure { return failure.description }
    return errorLine(error)
}
