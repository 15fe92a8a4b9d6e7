import XCTest
import _TestSupport
import Foundation

/// What one run of the `latentlab` binary did.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String

    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// The build products folder: on Linux the `.xctest` runner is an executable in it (so it is
/// `Bundle.main`); on macOS the `.xctest` bundle sits in it. The test target depends on the
/// `latentlab` target, so the binary is built next to the tests.
var productsDirectory: URL {
    #if os(macOS)
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        return bundle.bundleURL.deletingLastPathComponent()
    }
    fatalError("couldn't find the products directory")
    #else
    return Bundle.main.bundleURL
    #endif
}

/// A fixture of this test target (`Resources/`).
func cliFixture(_ name: String) -> String {
    Bundle.module.url(forResource: "Resources", withExtension: nil)!.appendingPathComponent(name).path
}

/// The package root, from this source file's path (Tests/LatentLabCLITests/<file>).
func packageRoot(file: StaticString = #filePath) -> URL {
    var url = URL(fileURLWithPath: "\(file)")
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}

/// A fixture of the LatentModels tests (tiny32 snapshot, weights and golden outputs), read in
/// place rather than copied (4 MB + 1.4 MB + 0.5 MB).
func modelsFixture(_ name: String) -> String {
    packageRoot().appendingPathComponent("Tests/LatentModelsTests/Resources/\(name)").path
}

/// Base class: a fresh temporary folder per test and a runner for the binary.
class CLITestCase: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory
            .appendingPathComponent("latentlab-cli-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let binary = productsDirectory.appendingPathComponent("latentlab").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw MissingTestInput("latentlab binary not found at \(binary)")
        }
    }

    override func tearDownWithError() throws {
        if let tmp { try? FileManager.default.removeItem(at: tmp) }
    }

    /// `tmp/name`.
    func temp(_ name: String) -> String { tmp.appendingPathComponent(name).path }

    /// Runs `latentlab args…` in `tmp`, stdout and stderr captured through files (no pipe
    /// buffer can fill up and block the child).
    @discardableResult
    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("latentlab")
        p.arguments = args
        p.currentDirectoryURL = tmp
        let id = UUID().uuidString.prefix(8)
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-cli-out-\(id)")
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-cli-err-\(id)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)
        p.standardOutput = outHandle
        p.standardError = errHandle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        let result = CLIResult(status: p.terminationStatus,
                               stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                               stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
        // No run may crash, whatever the input: a crash is never a "clear error".
        XCTAssertEqual(p.terminationReason, .exit, "latentlab \(args) was killed by a signal:\n\(result.stderr)", file: file, line: line)
        for noise in ["Fatal error", "Backtrac", "Program crashed", "Stack dump"] {
            XCTAssertFalse(result.stderr.contains(noise), "latentlab \(args) crashed:\n\(result.stderr)", file: file, line: line)
        }
        return result
    }

    /// Runs and asserts success (exit 0), returning the result.
    @discardableResult
    func runOK(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let r = try run(args, file: file, line: line)
        XCTAssertEqual(r.status, 0, "latentlab \(args.joined(separator: " ")) failed:\n\(r.stderr)", file: file, line: line)
        return r
    }

    /// Runs and asserts a run-time failure: exit 1, exactly one line on stderr, of ArgumentParser's
    /// standard form `Error: …`, containing every string of `contains`, and nothing on stdout.
    @discardableResult
    func runFails(_ args: [String], contains: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try run(args, file: file, line: line)
        XCTAssertEqual(r.status, 1, "latentlab \(args.joined(separator: " ")): expected exit 1; stderr:\n\(r.stderr)", file: file, line: line)
        let lines = r.stderrLines.filter { !$0.hasPrefix("generate: ") }  // the progress line, if any
        XCTAssertEqual(lines.count, 1, "expected one error line, got:\n\(r.stderr)", file: file, line: line)
        let message = lines.first ?? ""
        XCTAssertTrue(message.hasPrefix("Error: "), "not ArgumentParser's error form: \(message)", file: file, line: line)
        XCTAssertFalse(message.dropFirst(7).contains("Error: "), "doubled prefix: \(message)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Usage:"), "a run-time failure should not print the usage:\n\(r.stderr)", file: file, line: line)
        for s in contains {
            XCTAssertTrue(message.contains(s), "'\(s)' missing from: \(message)", file: file, line: line)
        }
        XCTAssertEqual(r.stdout, "", "stdout of a failed run", file: file, line: line)
        return message
    }

    /// Runs and asserts a command-line (usage) error: ArgumentParser's exit code 64 with the
    /// subcommand's own usage.
    func runUsageError(_ args: [String], contains: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args, file: file, line: line)
        XCTAssertEqual(r.status, 64, "latentlab \(args.joined(separator: " ")): expected exit 64; stderr:\n\(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("Error: "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains("Usage: latentlab \(args[0])"), "usage of the wrong command:\n\(r.stderr)", file: file, line: line)
        for s in contains {
            XCTAssertTrue(r.stderr.contains(s), "'\(s)' missing from:\n\(r.stderr)", file: file, line: line)
        }
    }

    /// Files in `tmp` (relative paths, recursive, sorted).
    func tempListing() -> [String] {
        let e = FileManager.default.enumerator(atPath: tmp.path)
        var out: [String] = []
        while let f = e?.nextObject() as? String { out.append(f) }
        return out.sorted()
    }
}
