import Foundation
import XCTest
import LatentTensor
@testable import LatentFormats
import _TestSupport

final class NpzTests: XCTestCase {
    /// Checks the arrays make_fixtures.py writes.
    private func checkFixtureArrays(_ entries: [(name: String, array: NpyArray)], _ label: String) throws {
        XCTAssertEqual(entries.map(\.name), ["b1", "u1", "i1", "i2", "i4", "i8", "f2", "f4", "f8", "scalar", "empty"], label)
        let d = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.array) })
        XCTAssertEqual(d["b1"]?.dtype, .bool)
        XCTAssertEqual(try d["b1"]?.integers(), [1, 0, 1, 1, 0])
        XCTAssertEqual(try d["u1"]?.integers(), (0 ..< 7).map { $0 * 37 })
        XCTAssertEqual(try d["i1"]?.integers(), (0 ..< 6).map { ($0 - 3) * 40 })
        XCTAssertEqual(d["i2"]?.shape, [2, 3])
        XCTAssertEqual(try d["i2"]?.integers(), (0 ..< 6).map { ($0 - 3) * 9000 })
        XCTAssertEqual(d["i4"]?.dtype, .i32)
        XCTAssertEqual(try d["i4"]?.integers(), (0 ..< 15).map { Int(Int32(truncatingIfNeeded: ($0 - 7) * 123_456_789)) })
        XCTAssertEqual(d["i8"]?.shape, [4, 1])
        XCTAssertEqual(try d["i8"]?.integers(), (0 ..< 4).map { ($0 - 2) * ((1 << 40) + 3) })
        XCTAssertEqual(d["f2"]?.dtype, .f16)
        XCTAssertEqual(d["f2"]?.floats(), ramp(10).map { Float($0) })
        XCTAssertEqual(d["f4"]?.shape, [2, 3, 5])
        XCTAssertEqual(d["f4"]?.floats(), ramp(30).map { Float($0) })
        XCTAssertEqual(d["f8"]?.doubles(), [1.0 / 3.0, -2.5, 0.1, 1e300])
        XCTAssertEqual(d["scalar"]?.shape, [])
        XCTAssertEqual(d["scalar"]?.floats(), [2.75])
        XCTAssertEqual(d["empty"]?.shape, [0, 3])
    }

    func testReadsNumpySavezStoredAndCompressed() throws {
        try checkFixtureArrays(try readNpzEntries(path: try fixture("numpy_savez", "npz").path), "savez")
        try checkFixtureArrays(try readNpzEntries(path: try fixture("numpy_savez_compressed", "npz").path), "savez_compressed")
        let d = try readNpz(path: try fixture("numpy_savez", "npz").path)
        XCTAssertEqual(d.count, 11)
        XCTAssertEqual(d["f4"]?.toTensor().shape, [2, 3, 5])
        XCTAssertEqual(try ZipArchive(path: try fixture("numpy_savez_compressed", "npz").path).entries.first?.method, 8)
    }

    /// Python's zipfile forced into zip64 central entries and end records (make_fixtures.py).
    func testReadsZip64Archive() throws {
        let entries = try readNpzEntries(path: try fixture("numpy_zip64", "npz").path)
        XCTAssertEqual(entries.map(\.name), ["f4", "i8"])
        XCTAssertEqual(entries[0].array.floats(), ramp(30).map { Float($0) })
        XCTAssertEqual(try entries[1].array.integers(), (0 ..< 4).map { ($0 - 2) * ((1 << 40) + 3) })
    }

    func testStoredArchiveByteIdenticalToNumpy() throws {
        let bytes = try Data(contentsOf: try fixture("numpy_savez", "npz"))
        XCTAssertEqual(try encodeNpz(try readNpzEntries(data: bytes), compressed: false), bytes)
    }

    /// Deflate output depends on the zlib version; the fixtures were made with zlib 1.2.13.
    func testCompressedArchivesByteIdenticalToNumpyWithSameZlib() throws {
        guard Zlib.version == "1.2.13" else { return }
        let bytes = try Data(contentsOf: try fixture("numpy_savez_compressed", "npz"))
        XCTAssertEqual(try encodeNpz(try readNpzEntries(data: bytes), compressed: true), bytes)

        let zip64 = try Data(contentsOf: try fixture("numpy_zip64", "npz"))
        var w = ZipWriter()
        w.zip64Limit = 0
        w.fileCountLimit = 0
        for (name, array) in try readNpzEntries(data: zip64) {
            try w.add(name: name + ".npy", contents: [UInt8](encodeNpy(array)), compressed: true)
        }
        XCTAssertEqual(w.finished(), zip64)
    }

    func testZip64WriterRoundTrip() throws {
        var w = ZipWriter()
        w.zip64Limit = 0
        w.fileCountLimit = 0
        let payloads: [[UInt8]] = [Array("first".utf8), [], (0 ..< 1000).map { UInt8($0 % 251) }]
        for (i, p) in payloads.enumerated() { try w.add(name: "m\(i)", contents: p, compressed: i == 2) }
        let archive = try ZipArchive(data: w.finished(), name: "z64")
        XCTAssertEqual(archive.entries.map(\.name), ["m0", "m1", "m2"])
        for (i, p) in payloads.enumerated() { XCTAssertEqual(try archive.contents(named: "m\(i)"), p) }
        assertFormatError(try archive.contents(named: "m3"), "no zip member named 'm3'", path: "z64")
    }

    func testWriteNpzRoundTripsThroughFiles() throws {
        let dir = try temporaryDirectory(self)
        var rng = TestRNG(seed: 3)
        // Random floats barely compress, so the deflate output spans several 1 MiB output buffers.
        let big = rng.tensor([301, 1001])
        let small = rng.tensor([3, 5, 7])
        for compressed in [false, true] {
            let path = dir.appendingPathComponent("t\(compressed).npz").path
            try writeNpz(["big": big, "small": small], to: path, compressed: compressed)
            let back = try readNpzEntries(path: path)
            XCTAssertEqual(back.map(\.name), ["big", "small"])
            XCTAssertEqual(back[0].array.toTensor(), big)
            XCTAssertEqual(back[1].array.toTensor(), small)
        }
        let ids = try NpyArray(shape: [2, 3], integers: [1, 2, 3, 4, 5, 6], dtype: .i32)
        let path = dir.appendingPathComponent("ids.npz").path
        try writeNpz([("z", ids), ("a", try NpyArray(small))], to: path, compressed: true)
        XCTAssertEqual(try readNpzEntries(path: path).map(\.name), ["z", "a"])
        XCTAssertEqual(try readNpz(path: path)["z"], ids)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["ids.npz", "tfalse.npz", "ttrue.npz"])
        assertFormatError(try writeNpz([("a", ids), ("a", ids)], to: path), "array 'a' given twice", path: path)
        XCTAssertEqual(try readNpz(path: path)["z"], ids, "a failed write must leave the old file intact")
    }

    // MARK: - Malformed archives

    private func patched(_ data: Data, _ edits: [(Int, UInt8)]) -> Data {
        var d = data
        for (i, v) in edits { d[i] = v }
        return d
    }

    private func find(_ data: Data, _ signature: UInt32, from: Int = 0) -> Int {
        let sig = withUnsafeBytes(of: signature.littleEndian, Array.init)
        var i = from
        while i + 4 <= data.count { if Array(data[i ..< i + 4]) == sig { return i }; i += 1 }
        return -1
    }

    func testMalformedCorpus() throws {
        let stored = try Data(contentsOf: try fixture("numpy_savez", "npz"))
        let deflated = try Data(contentsOf: try fixture("numpy_savez_compressed", "npz"))
        XCTAssertEqual(try readNpz(data: stored).count, 11)

        // Flip one byte of the first member's array data (the local header is 30 + 6 + 20 bytes, the npy header 128).
        let dataByte = 30 + "b1.npy".utf8.count + 20 + 128
        assertFormatError(try readNpz(data: patched(stored, [(dataByte, stored[dataByte] ^ 1)]), name: "crc"),
                          "zip member 'b1.npy': CRC-32 mismatch (stored 0x", path: "crc")
        // Corrupt the CRC field in the central directory instead.
        let cd = find(stored, 0x0201_4B50)
        assertFormatError(try readNpz(data: patched(stored, [(cd + 16, stored[cd + 16] ^ 0xFF)])), "CRC-32 mismatch")
        // Garbage inside a deflate stream.
        let payload = 30 + "b1.npy".utf8.count + 20
        let garbled = patched(deflated, (0 ..< 12).map { (payload + 2 + $0, UInt8(0xFF)) })
        XCTAssertThrowsError(try readNpz(data: garbled)) { e in
            let r = (e as? FormatError)?.reason ?? ""
            XCTAssertTrue(r.contains("zip member 'b1.npy'") && (r.contains("deflate") || r.contains("CRC-32")), r)
        }
        // Unsupported method and encryption, set in the central directory.
        assertFormatError(try readNpz(data: patched(stored, [(cd + 10, 12)])), "compression method 12 is not supported")
        assertFormatError(try readNpz(data: patched(stored, [(cd + 8, 1)])), "is encrypted")
        // Local header offset pointing at garbage.
        assertFormatError(try readNpz(data: patched(stored, [(cd + 42, 5)])), "local header missing at offset 5")
        // Sizes that deflate cannot produce.
        let dcd = find(deflated, 0x0201_4B50)
        assertFormatError(try readNpz(data: patched(deflated, [(dcd + 27, 0x7F)])), "impossible for deflate")
        // A member that is not an npy file.
        var z = ZipWriter()
        try z.add(name: "notes.txt", contents: Array("hello".utf8), compressed: false)
        assertFormatError(try readNpz(data: z.finished(), name: "n.npz"), "not an npy file", path: "n.npz[notes.txt]")
        // Two members naming the same array.
        var dup = ZipWriter()
        try dup.add(name: "a.npy", contents: [UInt8](encodeNpy(try NpyArray(shape: [1], floats: [1]))), compressed: false)
        try dup.add(name: "a", contents: [UInt8](encodeNpy(try NpyArray(shape: [1], floats: [2]))), compressed: false)
        assertFormatError(try readNpz(data: dup.finished()), "array 'a' appears twice")

        let simple: [(String, Data, String)] = [
            ("empty", Data(), "file is empty"),
            ("tiny", Data([0x50, 0x4B]), "too short for an end-of-central-directory record"),
            ("not zip", Data(repeating: 0x41, count: 100), "no end-of-central-directory record"),
            ("npy not npz", try Data(contentsOf: try fixture("numpy_f4", "npy")), "no end-of-central-directory record"),
        ]
        for (label, data, fragment) in simple { assertFormatError(try readNpz(data: data, name: label), fragment, path: label) }

        // Truncation anywhere: the end record moves or vanishes, or members run out.
        for archive in [stored, deflated] {
            for cut in [1, 30, 100, archive.count / 2, archive.count - 23, archive.count - 22, archive.count - 1] {
                XCTAssertThrowsError(try readNpz(data: archive.prefix(cut)), "cut at \(cut)")
            }
        }
        // Central directory offset beyond the file.
        let eocd = find(stored, 0x0605_4B50, from: stored.count - 22)
        assertFormatError(try readNpz(data: patched(stored, [(eocd + 19, 0x70)])), "central directory")
        // Multi-disk.
        assertFormatError(try readNpz(data: patched(stored, [(eocd + 4, 1)])), "multi-disk")
    }
}
