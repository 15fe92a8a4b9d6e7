import XCTest
import Foundation

/// `--help` of the tool and of every subcommand (nested ones included) exits 0 with its usage.
final class HelpTests: CLITestCase {
    /// Subcommand names listed under SUBCOMMANDS: in a help text (the section ends at the first
    /// blank line; wrapped abstracts are indented further than names).
    private func subcommands(in help: String) -> [String] {
        guard let start = help.range(of: "SUBCOMMANDS:\n") else { return [] }
        var names: [String] = []
        for line in help[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { break }
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first else { continue }
            names.append(String(name))
        }
        return names
    }

    func testEverySubcommandHasHelp() throws {
        let top = try runOK(["--help"])
        XCTAssertTrue(top.stdout.contains("USAGE: latentlab <subcommand>"), top.stdout)
        let commands = subcommands(in: top.stdout)
        XCTAssertEqual(Set(commands).intersection(["inspect", "generate", "convert", "invert", "project", "edit", "directions"]).count, 7,
                       "subcommands listed: \(commands)")
        var seen = 0
        var queue = commands.map { [$0] }
        while let path = queue.first, seen < 40 {
            queue.removeFirst()
            if path.last == "help" { continue }
            let r = try runOK(path + ["--help"])
            XCTAssertTrue(r.stdout.contains("USAGE: latentlab \(path.joined(separator: " "))"), "\(path):\n\(r.stdout)")
            XCTAssertTrue(r.stdout.contains("OVERVIEW:"), "\(path) has no abstract")
            XCTAssertEqual(r.stderr, "")
            queue += subcommands(in: r.stdout).map { path + [$0] }
            seen += 1
        }
        XCTAssertGreaterThanOrEqual(seen, 7)
        // `latentlab help generate` is the same text as `latentlab generate --help`.
        XCTAssertEqual(try runOK(["help", "generate"]).stdout, try runOK(["generate", "--help"]).stdout)
    }

    func testGenerateHelpDocumentsOutputsAndSeeds() throws {
        let r = try runOK(["generate", "--help"])
        for s in ["RandomState", "--latent-in", "grid.png", "FILE.json", "generate.json", "float32", "--noise-mode"] {
            XCTAssertTrue(r.stdout.contains(s), "'\(s)' missing from generate --help")
        }
    }
}
