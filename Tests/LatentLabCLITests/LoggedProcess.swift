import XCTest
import Foundation

/// A child process whose stdout and stderr go to files rather than pipes (no pipe buffer can fill
/// up and block it), for tests that start several processes at once or a long-running script.
final class LoggedProcess {
    let process = Process()
    private let outURL: URL, errURL: URL
    private let out: FileHandle, err: FileHandle

    /// - Parameter mergeOutput: stderr goes to the stdout file (one interleaved log).
    init(executable: URL, arguments: [String], directory: URL, logName: String, mergeOutput: Bool = false) throws {
        outURL = directory.appendingPathComponent(".\(logName).out")
        errURL = mergeOutput ? outURL : directory.appendingPathComponent(".\(logName).err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        out = try FileHandle(forWritingTo: outURL)
        err = mergeOutput ? out : try FileHandle(forWritingTo: errURL)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
    }

    func run() throws { try process.run() }

    /// Waits for the exit, then returns what it printed (the log files are removed).
    func wait(file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        process.waitUntilExit()
        try out.close()
        if err !== out { try err.close() }
        XCTAssertEqual(process.terminationReason, .exit, "\(process.arguments ?? []) was killed by a signal", file: file, line: line)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        return CLIResult(status: process.terminationStatus,
                         stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                         stderr: errURL == outURL ? "" : String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}
