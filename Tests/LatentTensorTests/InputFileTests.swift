import XCTest
import Foundation
import LatentTensor

/// `readInputFile`: regular files only, size known and bounded before reading; FIFOs, devices and
/// folders refused at once; errors are one `PATH: reason` line (never Foundation's
/// "NSCocoaErrorDomain Code=…").
final class InputFileTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "inputfile-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs `body` on another thread and fails (instead of hanging the suite) when it has not
    /// returned within `seconds`.
    func withWatchdog<T>(_ seconds: Double = 10, _ body: @escaping @Sendable () throws -> T) -> Result<T, Error>? {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<T, Error>?
        Thread.detachNewThread {
            result = Result { try body() }
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else {
            XCTFail("still blocked after \(seconds) s")
            return nil
        }
        return result
    }

    func assertRefused(_ path: String, _ reason: String, file: StaticString = #filePath, line: UInt = #line) {
        for mapped in [false, true] {
            let r = withWatchdog { try readInputFile(path: path, maxBytes: 1 << 20, mapped: mapped) }
            guard case .failure(let e)? = r else { XCTFail("\(path) was read", file: file, line: line); continue }
            XCTAssertEqual(e as? FileAccessError, FileAccessError(path, reason), file: file, line: line)
        }
        let p = withWatchdog { try readInputFilePrefix(path: path, count: 16) }
        guard case .failure(let e)? = p else { XCTFail("\(path) prefix was read", file: file, line: line); return }
        XCTAssertEqual((e as? FileAccessError)?.reason, reason, file: file, line: line)
    }

    func testRegularFilesAreReadWholeOrMappedOrByPrefix() throws {
        let path = dir + "/a.bin"
        let bytes = Data((0..<1000).map { UInt8($0 % 251) })
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try readInputFile(path: path, maxBytes: 1000), bytes)
        XCTAssertEqual(try readInputFile(path: path, maxBytes: 1000, mapped: true), bytes)
        let (head, size) = try readInputFilePrefix(path: path, count: 10)
        XCTAssertEqual(head, bytes.prefix(10)); XCTAssertEqual(size, 1000)
        XCTAssertEqual(try readInputFilePrefix(path: path, count: 5000).data, bytes)
        try Data().write(to: URL(fileURLWithPath: dir + "/empty"))
        XCTAssertEqual(try readInputFile(path: dir + "/empty", maxBytes: 0, mapped: true), Data())
        // A symbolic link to a regular file is followed.
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: path)
        XCTAssertEqual(try readInputFile(path: dir + "/link", maxBytes: 1000), bytes)
    }

    func testSizeLimitIsCheckedBeforeReading() throws {
        let path = dir + "/big.bin"
        try Data(count: 101).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try readInputFile(path: path, maxBytes: 100)) {
            XCTAssertEqual("\($0)", "\(path): 101 bytes, more than the 100-byte limit for this kind of file")
        }
    }

    /// A FIFO with no writer would block a reader forever, /dev/zero never ends, /dev/stdin is a
    /// terminal or a pipe: all are refused from their stat, at once.
    func testFIFODevicesAndFoldersAreRefusedAtOnce() throws {
        let fifo = dir + "/pipe.png"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertRefused(fifo, "is a FIFO (named pipe), not a regular file")
        assertRefused("/dev/zero", "is a character device, not a regular file")
        assertRefused("/dev/null", "is a character device, not a regular file")
        assertRefused(dir, "is a folder, not a file")
        assertRefused(dir + "/missing", "no such file")
        assertRefused(dir + "/missing/below", "no such file")
        // /dev/stdin is whatever the test runner's stdin is; never a regular file to be read whole here.
        var st = stat()
        if stat("/dev/stdin", &st) == 0, st.st_mode & S_IFMT != S_IFREG {
            let r = withWatchdog { try readInputFile(path: "/dev/stdin", maxBytes: 1 << 20) }
            guard case .failure? = r else { return XCTFail("/dev/stdin was read") }
        }
    }

    func testWriteErrorsAreOneHumanLine() throws {
        let blocker = dir + "/file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        XCTAssertThrowsError(try writeAtomically(Data("y".utf8), to: blocker + "/sub/out.json")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(blocker), text)
            XCTAssertTrue(text.contains("cannot create folder"), text)
            XCTAssertFalse(text.contains("NSCocoaErrorDomain") || text.contains("Code=") || text.contains("\n"), text)
        }
        try FileManager.default.createDirectory(atPath: dir + "/ro", withIntermediateDirectories: true)
        chmod(dir + "/ro", 0o500)
        defer { chmod(dir + "/ro", 0o700) }
        if getuid() != 0 {
            XCTAssertThrowsError(try writeAtomically(Data("y".utf8), to: dir + "/ro/out.json")) {
                XCTAssertEqual("\($0)", "\(self.dir!)/ro/out.json: cannot write: permission denied")
            }
        }
        try writeAtomically(Data("z".utf8), to: dir + "/ok/out.json")
        XCTAssertEqual(try readInputFile(path: dir + "/ok/out.json", maxBytes: 10), Data("z".utf8))
    }

    func testFoundationAndDecodingErrorsReadAsShortReasons() throws {
        XCTAssertEqual(fileErrorReason(CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: "/x"])), "no such file")
        XCTAssertEqual(fileErrorPath(CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: "/x"])), "/x")
        XCTAssertEqual(fileErrorReason(POSIXError(.EACCES)), "permission denied")
        do {
            try FileManager.default.createDirectory(atPath: "/proc/latentlab-no/x", withIntermediateDirectories: true)
            XCTFail("created a folder under /proc")
        } catch {
            XCTAssertFalse(fileErrorReason(error).contains("NSCocoaErrorDomain"), fileErrorReason(error))
        }
        struct Step: Decodable { var strength: Double }
        struct Recipe: Decodable { var steps: [Step] }
        XCTAssertThrowsError(try JSONDecoder().decode(Recipe.self, from: Data(#"{"steps": [{"strength": 1}, {"strength": "x"}]}"#.utf8))) {
            XCTAssertEqual(decodingErrorReason($0), "expected Double at steps[1].strength")
        }
        XCTAssertThrowsError(try JSONDecoder().decode(Recipe.self, from: Data(#"{"steps": [{}]}"#.utf8))) {
            XCTAssertEqual(decodingErrorReason($0), "missing key 'strength' at steps[0]")
        }
        XCTAssertThrowsError(try JSONDecoder().decode(Recipe.self, from: Data("{".utf8))) {
            XCTAssertTrue(decodingErrorReason($0).hasPrefix("malformed JSON"), decodingErrorReason($0))
        }
    }
}

final class ParentPathTests: XCTestCase {
    /// NSString.deletingLastPathComponent's results, without its trap on one-character paths.
    func testParentPath() {
        let cases: [(String, String)] = [("a/b", "a"), ("/b", "/"), ("b", ""), ("A", ""), ("", ""), ("/", "/"), ("a/b/", "a"),
                                         ("a//b", "a"), ("/x/y/z.json", "/x/y"), ("A/r.json", "A"), ("./r.json", ".")]
        for (path, parent) in cases { XCTAssertEqual(parentPath(path), parent, path) }
    }
}
