import XCTest
import Foundation
import _TestSupport

/// Inputs that used to hang, crash or exhaust `latentlab`, run through the binary: every one
/// ends quickly (a watchdog kills a hung run and fails the test), within a memory limit where
/// memory is the point, with exit 1 (or 64 for a bad command line) and one line naming the file
/// or the option.
final class RobustnessCommandTests: CLITestCase {
    /// Runs `latentlab args…` under `/bin/sh -c 'ulimit -v KB; exec …'`, killed after `timeout`
    /// seconds (a failure of the test, not a hang of the suite).
    func runGuarded(_ args: [String], timeout: Double = 120, memoryKB: Int? = nil,
                    file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        let limit = memoryKB.map { "ulimit -v \($0) && " } ?? ""
        p.arguments = ["-c", limit + "exec \"$0\" \"$@\"", productsDirectory.appendingPathComponent("latentlab").path] + args
        p.currentDirectoryURL = tmp
        if memoryKB != nil {
            // Address space grows with threads (OpenBLAS buffers, malloc arenas): pin them so the
            // limit means the same on a 2-core laptop and a 64-core CI machine.
            p.environment = ProcessInfo.processInfo.environment.merging(
                ["OPENBLAS_NUM_THREADS": "1", "LATENTLAB_THREADS": "1", "MALLOC_ARENA_MAX": "2"]) { _, new in new }
        }
        let out = temp(".out-\(UUID().uuidString.prefix(6))"), err = temp(".err-\(UUID().uuidString.prefix(6))")
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        p.standardOutput = outHandle; p.standardError = errHandle; p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let hung = p.isRunning
        if hung { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        try outHandle.close(); try errHandle.close()
        let result = CLIResult(status: p.terminationStatus,
                               stdout: String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self),
                               stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: err)), as: UTF8.self))
        XCTAssertFalse(hung, "latentlab \(args) still running after \(timeout) s", file: file, line: line)
        XCTAssertEqual(p.terminationReason, .exit, "latentlab \(args) was killed by a signal:\n\(result.stderr)", file: file, line: line)
        for noise in ["Fatal error", "Backtrac", "Program crashed", "NSCocoaErrorDomain", "Code="] {
            XCTAssertFalse(result.stderr.contains(noise), "latentlab \(args):\n\(result.stderr)", file: file, line: line)
        }
        return result
    }

    /// Asserts exit 1 and exactly one `Error: …` line containing every part of `contains`.
    func assertOneLineFailure(_ r: CLIResult, _ contains: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        let lines = r.stderrLines.filter { !$0.contains("%") }   // progress lines, if any
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        for part in contains { XCTAssertTrue(r.stderr.contains(part), "'\(part)' missing from: \(r.stderr)", file: file, line: line) }
    }

    // MARK: unbounded reads

    /// A FIFO with no writer, /dev/zero, /dev/stdin and a folder, given wherever a file is read.
    func testFIFOsDevicesAndFoldersAreRefusedAtOnce() throws {
        let fifo = temp("pipe.npz"), fifoPNG = temp("pipe.png")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertEqual(mkfifo(fifoPNG, 0o600), 0)
        try FileManager.default.createDirectory(atPath: temp("folder.png"), withIntermediateDirectories: true)
        let reasons = [fifo: "FIFO", fifoPNG: "FIFO", "/dev/zero": "character device", "/dev/stdin": "character device",
                       temp("folder.png"): "is a folder"]
        for path in [fifo, "/dev/zero", "/dev/stdin"] {
            let reason = reasons[path]!
            assertOneLineFailure(try runGuarded(["generate", "--latent-in", path, "--out", temp("g")]), [path, reason])
            assertOneLineFailure(try runGuarded(["generate", "--seeds", "0", "--network", path, "--out", temp("g")]), [path, reason])
            assertOneLineFailure(try runGuarded(["edit", "--latent-in", path, "--recipe", path, "--out", temp("e")]), [path, reason])
            assertOneLineFailure(try runGuarded(["directions", "discover", "--method", "interfacegan", "--labels", path,
                                                 "--out", temp("d.safetensors")]), [path, reason])
        }
        for path in [fifoPNG, "/dev/zero", temp("folder.png")] {
            let reason = reasons[path]!
            assertOneLineFailure(try runGuarded(["invert", path, "--out", temp("i"), "--steps", "1"]), [path, reason])
            assertOneLineFailure(try runGuarded(["invert", cliFixture("rgb8.png"), "--mask", path, "--out", temp("i"), "--steps", "1"]), [path, reason])
            assertOneLineFailure(try runGuarded(["clip", "score", path, "--text", "a sphere"]), [path, reason])
        }
        // inspect goes on past each bad file: one line per file, exit 1.
        let r = try runGuarded(["inspect", fifo, "/dev/zero", temp("folder.png"), cliFixture("rgb8.png")])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderrLines, ["\(fifo): is a FIFO (named pipe), not a regular file",
                                       "/dev/zero: is a character device, not a regular file",
                                       "\(temp("folder.png")): is a folder, not a file"])
        XCTAssertTrue(r.stdout.hasPrefix(cliFixture("rgb8.png") + ": PNG"), r.stdout)
    }

    // MARK: decompression bombs and exponential structures

    /// A 1.5 GB npz member in a file of about 1.5 MB, read under a memory limit far below its size.
    func testNpzBombIsRefusedWithinAMemoryLimit() throws {
        let bomb = temp("bomb.npz")
        try npzBomb(inflatedBytes: 1536 << 20).write(to: URL(fileURLWithPath: bomb))
        let limit = 1_200_000   // KB of address space: the default model and threads fit, the bomb does not
        let ok = try runGuarded(["generate", "--seeds", "0", "--out", temp("ok.png")], memoryKB: limit)
        XCTAssertEqual(ok.status, 0, "the limit leaves room for normal work: \(ok.stderr)")
        assertOneLineFailure(try runGuarded(["inspect", bomb], memoryKB: limit), [bomb, "header describes"])
        assertOneLineFailure(try runGuarded(["generate", "--latent-in", bomb, "--out", temp("g")], memoryKB: limit), [bomb, "header describes"])
        assertOneLineFailure(try runGuarded(["edit", "--latent-in", bomb, "--recipe", packageRoot().appendingPathComponent("Edits/red-wall.json").path,
                                             "--out", temp("e")], memoryKB: limit), [bomb, "header describes"])
    }

    /// `((), ())` shared through the memo 64 times: 2^65 nodes in about 530 bytes.
    func testPickleBombIsRefusedQuickly() throws {
        var bytes: [UInt8] = [0x80, 0x02, 0x29, 0x71, 0x00, 0x30]                         // PROTO, (), BINPUT 0, POP
        for _ in 0 ..< 64 { bytes += [0x68, 0x00, 0x68, 0x00, 0x86, 0x71, 0x00, 0x30] }   // (memo0, memo0) → memo0
        bytes += [0x68, 0x00, 0x2E]                                                      // BINGET 0, STOP
        let pkl = temp("bomb.pkl")
        try Data(bytes).write(to: URL(fileURLWithPath: pkl))
        assertOneLineFailure(try runGuarded(["inspect", pkl], timeout: 60, memoryKB: 1_200_000), [pkl, "nodes"])
        assertOneLineFailure(try runGuarded(["convert", pkl, temp("out.safetensors")], timeout: 60, memoryKB: 1_200_000), [pkl, "nodes"])
    }

    // MARK: integer overflow in options

    func testHugeNumericOptionsAreUsageErrorsNamingTheOption() throws {
        let big = "9223372036854775807"
        let cases: [([String], String)] = [
            (["invert", "x.png", "--out", "o", "--steps", big], "--steps"),
            (["invert", "x.png", "--out", "o", "--num-steps=-9223372036854775808"], "--steps"),
            (["invert", "x.png", "--out", "o", "--early-stop", big], "--early-stop"),
            (["invert", "x.png", "--out", "o", "--crop", "\(big),\(big),\(big),\(big)"], "--crop"),
            (["project", "in", "--out", "o", "--w-avg-samples", big], "--w-avg-samples"),
            (["project", "in", "--out", "o", "--batch", big], "--batch"),
            (["project", "in", "--out", "o", "--seed", big], "--seed"),
            (["project", "in", "--out", "o", "--shard", "\(big)/\(big)"], "--shard"),
            (["generate", "--seeds", "0", "--out", "o", "--trunc-cutoff", big], "--trunc-cutoff"),
            (["generate", "--seeds", "0-\(big)", "--out", "o"], "--seeds"),
            // A size computed from the option: 1,000,000 images held at once.
            (["generate", "--seeds", "0-999999", "--out", "o"], "--seeds"),
            (["generate", "--seeds", "0", "--out", "o", "--mix-seed", big, "--mix-layers", "0-\(big)"], "--mix-seed"),
            (["edit", "--latent-in", "x.npz", "--text", "a", "--out", "o", "--augment", big], "--augment"),
            (["edit", "--latent-in", "x.npz", "--text", "a", "--out", "o", "--jitter", big], "--jitter"),
            (["edit", "--latent-in", "x.npz", "--text", "a", "--out", "o", "--batch", big], "--batch"),
            (["edit", "--latent-in", "x.npz", "--text", "a", "--out", "o", "--steps", big], "--steps"),
            (["edit", "--latent-in", "x.npz", "--text", "a", "--out", "o", "--seed", big], "--seed"),
            (["directions", "discover", "--method", "ganspace", "--samples", big, "--out", "o.safetensors"], "--samples"),
            (["directions", "discover", "--method", "sefa", "--count", big, "--out", "o.safetensors"], "--count"),
            (["clip", "tokenize", "--context-length", big, "a"], "--context-length"),
        ]
        for (args, option) in cases {
            let r = try runGuarded(args, timeout: 60)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: "), r.stderr)
            XCTAssertTrue(r.stderr.split(separator: "\n").first?.contains(option) == true, "\(option) not named: \(r.stderr)")
            let path = ["directions", "clip"].contains(args[0]) ? args[0] + " " + args[1] : args[0]
            XCTAssertTrue(r.stderr.contains("Usage: latentlab \(path)"), "usage of the wrong command:\n\(r.stderr)")
        }
    }

    /// Every option of every command (from ArgumentParser's own dump, so options added later are
    /// covered too), given the extreme integers: no run crashes or hangs; an option that refuses
    /// text (a number) refuses the extremes as a usage error naming it.
    func testEveryOptionSurvivesExtremeValues() throws {
        let dump = try run(["--experimental-dump-help"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        // Arguments that make each command fail fast at run time once its options are accepted.
        let base: [String: [String]] = [
            "inspect": ["missing.png"], "generate": ["--seeds", "0", "--network", "missing.safetensors", "--out", "o"],
            "convert": ["missing.pkl", "o.safetensors"], "invert": ["missing.png", "--out", "o", "--network", "missing.safetensors"],
            "project": ["missing", "--out", "o", "--network", "missing.safetensors"],
            "edit": ["--latent-in", "missing.npz", "--text", "a", "--out", "o", "--network", "missing.safetensors"],
            "directions list": ["missing"], "directions show": ["missing.safetensors"],
            "directions discover": ["--method", "ganspace", "--network", "missing.safetensors", "--out", "o.safetensors"],
            "clip tokenize": ["a"], "clip encode-text": ["a", "--out", "o.npy", "--model", "missing.safetensors"],
            "clip encode-image": ["missing.png", "--out", "o.npy"], "clip score": ["missing.png", "--text", "a"],
        ]
        var checked = 0
        func visit(_ command: [String: Any], path: [String]) throws {
            let subcommands = command["subcommands"] as? [[String: Any]] ?? []
            for sub in subcommands where (sub["commandName"] as? String) != "help" {
                try visit(sub, path: path + [sub["commandName"] as! String])
            }
            guard !path.isEmpty, subcommands.isEmpty, let args = base[path.joined(separator: " ")] else { return }
            for argument in command["arguments"] as? [[String: Any]] ?? [] where (argument["kind"] as? String) == "option" {
                guard let names = argument["names"] as? [[String: Any]],
                      let long = names.first(where: { ($0["kind"] as? String) == "long" })?["name"] as? String,
                      !["help", "version"].contains(long) else { continue }
                let flag = "--" + long
                // Options whose value is free text (paths, prompts) accept anything: only the extremes
                // and no crash matter for them.
                let numeric = try runGuarded(path + args + [flag, "abc"], timeout: 60).status == 64
                for value in ["9223372036854775807", "-9223372036854775808", "99999999999999999999"] {
                    let r = try runGuarded(path + args + [flag, value], timeout: 60)
                    if numeric {
                        XCTAssertEqual(r.status, 64, "\(path) \(flag) \(value): \(r.stderr)")
                    } else {
                        XCTAssertTrue([0, 1, 2, 64].contains(r.status), "\(path) \(flag) \(value): exit \(r.status) \(r.stderr)")
                    }
                    checked += 1
                }
            }
        }
        try visit(try XCTUnwrap(root["command"] as? [String: Any]), path: [])
        XCTAssertGreaterThan(checked, 100, "the dump lists the options of every command")
    }

    // MARK: folder inputs and output names

    func testProjectOfAFolderWithNoImagesFails() throws {
        try FileManager.default.createDirectory(atPath: temp("empty"), withIntermediateDirectories: true)
        try runFails(["project", temp("empty"), "--out", temp("o"), "--steps", "1"], contains: ["no images under \(temp("empty"))"])
        try Data("x".utf8).write(to: URL(fileURLWithPath: temp("empty/readme.txt")))
        try runFails(["project", temp("empty"), "--out", temp("o"), "--steps", "1"], contains: ["no images under \(temp("empty"))"])
    }

    /// A symlinked input folder holding a symlinked image, a hidden image, an input sub-folder
    /// called `summary.csv` and `a/latent.npz.png` beside `a.png`: every image is projected into its
    /// own folder, the hidden one is named in a note, the summaries and latents stay files.
    func testProjectFollowsLinksListsHiddenFilesAndAvoidsOutputNames() throws {
        let real = temp("real")
        for rel in ["a.png", "a/latent.npz.png", "summary.csv/b.png", ".hidden.png", "elsewhere.png"] {
            let dst = (rel == "elsewhere.png" ? tmp.path : real) + "/" + rel
            try FileManager.default.createDirectory(atPath: (dst as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: cliFixture("rgb8.png"), toPath: dst)
        }
        try FileManager.default.createSymbolicLink(atPath: real + "/linked.png", withDestinationPath: temp("elsewhere.png"))
        try FileManager.default.createSymbolicLink(atPath: temp("input"), withDestinationPath: real)
        let r = try runGuarded(["project", temp("input"), "--out", temp("out"), "--steps", "1", "--w-avg-samples", "16", "--batch", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("4 images, 0 already done, 4 inverted, 0 failed"), r.stdout)
        XCTAssertTrue(r.stderr.contains("note: 1 hidden entries under \(temp("input")) skipped (names starting with '.'): .hidden.png"), r.stderr)
        var isDir: ObjCBool = false
        for file in ["summary.csv", "summary.json", "a/latent.npz", "a/latent.npz_/latent.npz", "summary.csv_/b/latent.npz", "linked/latent.npz"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("out/" + file), isDirectory: &isDir) && !isDir.boolValue, file)
        }
        let csv = try String(contentsOfFile: temp("out/summary.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").filter { $0.contains(",ok,") }.count, 4, csv)
        // An empty shard of a non-empty set is not an error.
        var emptyShard: String? = nil
        for k in 0..<64 {
            let s = try runGuarded(["project", temp("input"), "--out", temp("shard"), "--steps", "1", "--w-avg-samples", "16", "--shard", "\(k)/64"])
            XCTAssertEqual(s.status, 0, s.stderr)
            if s.stdout.contains(": 0 images") { emptyShard = s.stderr; break }
        }
        let note = try XCTUnwrap(emptyShard, "some shard of 64 holds none of 4 images")
        XCTAssertTrue(note.contains("holds none of the 4 images"), note)
    }

    /// A finished image whose latent.npz is damaged is redone on resume, with a note.
    func testResumeRedoesDamagedOutputs() throws {
        for name in ["a.png", "b.png"] {
            try FileManager.default.createDirectory(atPath: temp("in"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: cliFixture("rgb8.png"), toPath: temp("in/" + name))
        }
        let args = ["project", temp("in"), "--out", temp("out"), "--steps", "1", "--w-avg-samples", "16", "--batch", "2"]
        XCTAssertEqual(try runGuarded(args).status, 0)
        try Data("PK".utf8).write(to: URL(fileURLWithPath: temp("out/a/latent.npz")))
        let r = try runGuarded(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("2 images, 1 already done, 1 inverted"), r.stdout)
        XCTAssertTrue(r.stderr.contains("note: redoing a.png: its finished output is damaged (\(temp("out/a/latent.npz")): "), r.stderr)
        XCTAssertGreaterThan(try Data(contentsOf: URL(fileURLWithPath: temp("out/a/latent.npz"))).count, 1000)
    }

    // MARK: error lines

    func testWriteFailuresAreOneHumanLine() throws {
        try Data("x".utf8).write(to: URL(fileURLWithPath: temp("file")))
        assertOneLineFailure(try runGuarded(["generate", "--seeds", "0", "--out", temp("file/sub/")]), [temp("file")])
        assertOneLineFailure(try runGuarded(["generate", "--seeds", "0", "--out", temp("file/x.png")]), [temp("file")])
        assertOneLineFailure(try runGuarded(["invert", cliFixture("rgb8.png"), "--out", temp("file/inv"), "--steps", "1", "--w-avg-samples", "16"]),
                             [temp("file")])
        assertOneLineFailure(try runGuarded(["project", temp("."), "--out", temp("file/proj"), "--steps", "1"]), [temp("file")])
    }
}
