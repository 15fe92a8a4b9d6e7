import XCTest
import Foundation
import LatentTensor
import _TestSupport
@testable import LatentFormats

/// Inputs built to exhaust a reader: npz members that inflate to gigabytes, npy headers of
/// absurd length, pickles whose memo shares containers so the value expands exponentially,
/// gzip bombs, and FIFOs passed as files. Each must be refused quickly, before the work.
final class RobustReadingTests: XCTestCase {
    /// The directory of a deflated member honestly claims 256 MiB (its stream does inflate to
    /// that), but its npy header describes 8 bytes of data: refused before inflating past the header.
    func testNpzMemberIsNeverInflatedPastItsNpyHeader() throws {
        let bomb = try npzBomb(inflatedBytes: 256 << 20)
        XCTAssertLessThan(bomb.count, 1 << 20, "the bomb is small on disk")
        XCTAssertThrowsError(try readNpzEntries(data: bomb, name: "bomb.npz")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("bomb.npz: zip member 'w.npy': the directory says \(256 << 20) bytes but the member's own header describes"), text)
        }
        // The same construction with an honest directory (what the stream inflates to is what the
        // header needs) reads normally: the check does not refuse real files.
        let small = try npzBomb(shape: [3, 5], inflatedBytes: encodeNpy(try NpyArray(shape: [3, 5], floats: [Float](repeating: 0, count: 15))).count)
        let arrays = try readNpz(data: small)
        XCTAssertEqual(arrays["w"]?.shape, [3, 5])
        XCTAssertEqual(arrays["w"]?.floats(), [Float](repeating: 0, count: 15))
    }

    func testNpzMemberClaimingAnImpossibleSizeIsRefused() throws {
        // A stored member cannot lie about its size (the bytes are in the file); a deflated one
        // whose directory claims more than the cap is refused before any inflation.
        var bomb = try npzBomb(inflatedBytes: 64 << 20)
        // Patch the central directory's uncompressed size (offset 24 of the entry) to 4 GiB - 1.
        let cd = bomb.count - 22 - (46 + 5)
        XCTAssertEqual(bomb[cd ..< cd + 4], Data([0x50, 0x4B, 0x01, 0x02]))
        bomb.replaceSubrange(cd + 24 ..< cd + 28, with: [0xFF, 0xFF, 0xFF, 0xFE])
        XCTAssertThrowsError(try readNpzEntries(data: bomb, name: "bomb.npz")) {
            XCTAssertTrue("\($0)".contains("impossible for deflate") || "\($0)".contains("the member's own header describes"), "\($0)")
        }
    }

    func testNpyHeaderLengthIsBounded() throws {
        // Version 2.0 allows a 4 GiB header length: refused from the length field alone.
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0]
        bytes += [0x00, 0x00, 0x00, 0x40]   // 1 GiB
        bytes += Array("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }".utf8)
        XCTAssertThrowsError(try readNpy(data: Data(bytes), name: "long.npy")) {
            XCTAssertEqual("\($0)", "long.npy: header length 1073741824 exceeds the 65536-byte limit (corrupt file?)")
        }
    }

    /// `((), ())` nested `levels` times through the memo: 2^(levels+1) - 1 nodes from 8 bytes a level.
    static func pickleBomb(levels: Int, list: Bool = false) -> Data {
        var b: [UInt8] = [0x80, 0x02, list ? 0x5D : 0x29, 0x71, 0x00, 0x30]  // PROTO 2, EMPTY_LIST/TUPLE, BINPUT 0, POP
        for _ in 0 ..< levels {
            if list {
                b += [0x28, 0x68, 0x00, 0x68, 0x00, 0x6C, 0x71, 0x00, 0x30]  // MARK, BINGET 0 ×2, LIST, BINPUT 0, POP
            } else {
                b += [0x68, 0x00, 0x68, 0x00, 0x86, 0x71, 0x00, 0x30]        // BINGET 0 ×2, TUPLE2, BINPUT 0, POP
            }
        }
        return Data(b + [0x68, 0x00, 0x2E])                                   // BINGET 0, STOP
    }

    func testPickleWhoseMemoSharesContainersIsBoundedByNodeCount() throws {
        let unpickler = Unpickler(source: "bomb.pkl", allowList: .nvlabsSnapshot)
        for list in [false, true] {
            let start = Date()
            XCTAssertThrowsError(try unpickler.load(Self.pickleBomb(levels: 60, list: list))) {
                XCTAssertTrue("\($0)".contains("expands to more than 1000000 nodes"), "\($0)")
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 60, "refused without expanding")
            // Under the bound the same structure loads, and its description stays short.
            let (value, _) = try unpickler.load(Self.pickleBomb(levels: 12, list: list))
            XCTAssertLessThan(value.description.count, 400, value.description)
        }
        var strict = unpickler
        strict.maxNodes = 100
        XCTAssertThrowsError(try strict.load(Self.pickleBomb(levels: 7)))   // 255 nodes
        XCTAssertNoThrow(try strict.load(Self.pickleBomb(levels: 5)))       // 63 nodes
    }

    func testSnapshotOfAPickleBombFailsFastWithOneLine() throws {
        let path = NSTemporaryDirectory() + "bomb-\(getpid()).pkl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.pickleBomb(levels: 64).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try NVLabsSnapshot(path: path)) {
            XCTAssertTrue("\($0)".hasPrefix(path + ": "), "\($0)")
            XCTAssertFalse("\($0)".contains("\n"))
        }
    }

    func testGzipInflationIsCapped() throws {
        let text = Data(repeating: 0x61, count: 1 << 20)
        let gz = try XCTUnwrap(gzipForTest(text))
        XCTAssertEqual(try gunzip(gz, path: "a.gz"), text)
        XCTAssertThrowsError(try gunzip(gz, path: "a.gz", maxBytes: 1000)) {
            XCTAssertEqual("\($0)", "a.gz: gzip data inflates to more than 1000 bytes")
        }
    }

    func testReadersRefuseFIFOsAndFoldersWithOneLine() throws {
        let dir = NSTemporaryDirectory() + "fifo-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/latent.npz"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let readers: [(String, (String) throws -> Void)] = [
            ("npz", { _ = try readNpz(path: $0) }), ("npy", { _ = try readNpy(path: $0) }),
            ("safetensors", { _ = try SafeTensorsFile(path: $0) }), ("pkl", { _ = try NVLabsSnapshot(path: $0) }),
        ]
        for (kind, read) in readers {
            for (path, reason) in [(fifo, "is a FIFO (named pipe), not a regular file"), ("/dev/zero", "is a character device, not a regular file"),
                                   (dir, "is a folder, not a file")] {
                XCTAssertThrowsError(try read(path), kind) {
                    XCTAssertEqual($0 as? FormatError, FormatError(path, reason), kind)
                }
            }
        }
    }
}

/// A gzip file of `data` (zlib with a gzip wrapper), for the gunzip tests.
private func gzipForTest(_ data: Data) -> Data? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-c"]
    let input = Pipe(), output = Pipe()
    p.standardInput = input; p.standardOutput = output
    guard (try? p.run()) != nil else { return nil }
    DispatchQueue.global().async { input.fileHandleForWriting.write(data); try? input.fileHandleForWriting.close() }
    let out = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return p.terminationStatus == 0 ? out : nil
}
