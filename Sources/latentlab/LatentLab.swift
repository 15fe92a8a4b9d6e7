import ArgumentParser
import Foundation
import LatentTensor

/// `latentlab`: StyleGAN2 inversion and latent editing on the CPU.
@main
struct LatentLab: ParsableCommand {
    static let version = "0.3.0"

    static let configuration = CommandConfiguration(
        commandName: "latentlab",
        abstract: "GAN inversion and latent editing for StyleGAN2 generators, on the CPU.",
        discussion: """
        Without --network, commands use the embedded default generator (scenes64: 64×64 tabletop scenes).
        Threads: LATENTLAB_THREADS (our loops) and OPENBLAS_NUM_THREADS (GEMM) default to all cores.
        Memory: large tensors are served from the heap and freed pages kept for reuse (faster at 256² and up);
        LATENTLAB_HEAP_TUNING=0 keeps the C library's defaults.
        """,
        version: version,
        subcommands: [Inspect.self, Generate.self, Convert.self, Encode.self, TrainEncoder.self, Invert.self, Project.self, Translate.self, Edit.self, Inpaint.self,
                      Directions.self, Clip.self])

    /// ArgumentParser's `main`, plus three guarantees for every command: a word that is no
    /// subcommand is a usage error (`unknownSubcommand`), numeric options are checked against
    /// `optionBounds` (a usage error, exit 64, before any work), and an error escaping `run()` is
    /// printed as one human line (Foundation errors included).
    static func main() {
        // OpenBLAS's kernels are settled once, before any thread could call it (BLASKernels).
        BLASKernels.prepare()
        // Feature maps of large generators reuse freed heap pages instead of fresh mmaps (HeapTuning).
        HeapTuning.keepLargeAllocationsInHeap()
        if let problem = unknownSubcommand(Array(CommandLine.arguments.dropFirst())) {
            FileHandle.standardError.write(Data((problem + "\n").utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
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

    /// ArgumentParser answers `latentlab clip encode --help` (a word that is no subcommand of a
    /// command that has only subcommands) with the parent's help and exit 0, so a typo looks like
    /// success. Walks the command tree and names the first such word with a usage line.
    static func unknownSubcommand(_ arguments: [String]) -> String? {
        var command: ParsableCommand.Type = LatentLab.self
        var path = ["latentlab"]
        for word in arguments {
            let subs = command.configuration.subcommands
            guard !subs.isEmpty else { return nil }
            if word.hasPrefix("-") { return nil }   // --help, --version: the parser's business
            guard let next = subs.first(where: { ($0.configuration.commandName ?? $0._commandName) == word }) else {
                if word == "help" { return nil }
                let names = subs.map { $0.configuration.commandName ?? $0._commandName }
                return "Error: '\(word)' is not a subcommand of '\(path.joined(separator: " "))'\nUsage: \(path.joined(separator: " ")) <\(names.joined(separator: "|"))> [options]"
            }
            command = next
            path.append(word)
        }
        return nil
    }
}
