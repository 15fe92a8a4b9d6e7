import ArgumentParser
import Foundation
import LatentTensor

/// `latentlab`: StyleGAN2 inversion and latent editing on the CPU.
@main
struct LatentLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latentlab",
        abstract: "GAN inversion and latent editing for StyleGAN2 generators, on the CPU.",
        discussion: """
        Without --network, commands use the embedded default generator (scenes64: 64×64 tabletop scenes).
        Threads: LATENTLAB_THREADS (our loops) and OPENBLAS_NUM_THREADS (GEMM) default to all cores.
        """,
        subcommands: [Inspect.self, Generate.self, Convert.self, Invert.self, Project.self, Edit.self, Directions.self, Clip.self])

    /// ArgumentParser's `main`, plus two guarantees for every command: numeric options are
    /// checked against `optionBounds` (a usage error, exit 64, before any work), and an error
    /// escaping `run()` is printed as one human line (Foundation errors included).
    static func main() {
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        if let problem = optionBoundsViolation(command) { usageFailure(problem, type(of: command)) }
        do { try command.run() } catch let e as ValidationError {
            // A size computed from an option at run time (e.g. seeds × image bytes): still a usage error.
            usageFailure(e.message, type(of: command))
        } catch {
            // Foundation's errors would print as "Error Domain=NSCocoaErrorDomain Code=…"; ArgumentParser's
            // own (the help command's) and ours keep their handling.
            let foundation = error is CocoaError || error is POSIXError || error is DecodingError || type(of: error) is NSError.Type
            exit(withError: foundation || error is FileAccessError ? CommandFailure(error) : error)
        }
    }

    /// Prints `message` with the usage of `type` (as ArgumentParser does for a failed `validate()`)
    /// and exits with 64.
    private static func usageFailure(_ message: String, _ type: ParsableCommand.Type) -> Never {
        printError("Error: \(message)")
        printError("Usage: " + usageString(for: type))
        printError("  See 'latentlab \(commandPath(type)) --help' for more information.")
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }

    /// The subcommand names leading to `type`, e.g. "directions discover".
    private static func commandPath(_ type: ParsableCommand.Type) -> String {
        func find(_ node: ParsableCommand.Type, _ path: [String]) -> [String]? {
            if node == type { return path }
            for sub in node.configuration.subcommands {
                let name = sub.configuration.commandName ?? sub._commandName
                if let found = find(sub, path + [name]) { return found }
            }
            return nil
        }
        return (find(self, []) ?? []).joined(separator: " ")
    }
}
