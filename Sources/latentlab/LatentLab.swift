import ArgumentParser
import Foundation

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
        """,
        version: version,
        subcommands: [Inspect.self, Generate.self, Convert.self, Encode.self, TrainEncoder.self, Invert.self, Project.self, Edit.self,
                      Directions.self, Clip.self])

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let problem = unknownSubcommand(arguments) {
            FileHandle.standardError.write(Data((problem + "\n").utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        main(arguments)
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
