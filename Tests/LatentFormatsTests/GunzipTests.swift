import XCTest
import Foundation
@testable import LatentFormats

/// `gunzip`: gzip members built here from a raw deflate stream, a gzip header and the CRC-32 /
/// length trailer (RFC 1952), decoded back; damaged ones refused with the path in the message.
final class GunzipTests: XCTestCase {
    static func gzip(_ payload: [UInt8], name: String? = nil) throws -> Data {
        var out: [UInt8] = [0x1F, 0x8B, 8, name == nil ? 0 : 0x08, 0, 0, 0, 0, 0, 0xFF]
        if let name { out += Array(name.utf8) + [0] }     // FNAME, as gzip writes it
        out += try payload.withUnsafeBytes { try Zlib.deflateRaw($0) }
        let crc = Zlib.crc32(payload), size = UInt32(truncatingIfNeeded: payload.count)
        for v in [crc, size] { out += (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        return Data(out)
    }

    func testRoundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        // Text-like and random payloads, one larger than gunzip's 256 KiB output chunk.
        let text = Array(String(repeating: "#version: 0.2\ni n\nt h\nth e</w>\n", count: 20_000).utf8)
        let random = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for payload in [text, random, [], [7]] {
            XCTAssertEqual(try gunzip(try Self.gzip(payload, name: "v.txt"), path: "v.gz"), Data(payload))
        }
    }

    func testDamagedDataIsRefused() throws {
        let good = try Self.gzip(Array("hello, gzip ".utf8) + Array(repeating: 65, count: 5000))
        func reason(_ data: Data) -> String? {
            do { _ = try gunzip(data, path: "bpe.gz"); return nil } catch { return "\(error)" }
        }
        XCTAssertEqual(reason(Data()), "bpe.gz: empty file, expected gzip data")
        XCTAssertEqual(reason(good.prefix(good.count - 6)), "bpe.gz: truncated gzip data")
        XCTAssertEqual(reason(good.prefix(12)), "bpe.gz: truncated gzip data")
        var badCRC = good; badCRC[badCRC.count - 6] ^= 0xFF
        XCTAssertTrue(reason(badCRC)?.hasPrefix("bpe.gz: corrupt gzip data") ?? false, "\(reason(badCRC) ?? "accepted")")
        var badMagic = good; badMagic[0] = 0x1E
        XCTAssertTrue(reason(badMagic)?.hasPrefix("bpe.gz: corrupt gzip data") ?? false)
        XCTAssertTrue(reason(Data("plain text, not gzip".utf8))?.hasPrefix("bpe.gz: corrupt gzip data") ?? false)
    }
}
