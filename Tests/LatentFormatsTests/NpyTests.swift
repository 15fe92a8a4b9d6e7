import Foundation
import XCTest
import LatentTensor
@testable import LatentFormats
import _TestSupport

final class NpyTests: XCTestCase {
    func testReadsNumpySaveFiles() throws {
        let f4 = try readNpy(path: try fixture("numpy_f4", "npy").path)
        XCTAssertEqual(f4.shape, [2, 3, 5])
        XCTAssertEqual(f4.dtype, .f32)
        XCTAssertEqual(f4.floats(), ramp(30).map { Float($0) })
        XCTAssertEqual(f4.toTensor(), Tensor(shape: [2, 3, 5], data: ramp(30).map { Float($0) }))

        let scalar = try readNpy(path: try fixture("numpy_scalar", "npy").path)
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.floats(), [2.75])
        XCTAssertEqual(scalar.toTensor().shape, [])

        // Versions 2.0 and 3.0 hold the same array as numpy_f4.npy.
        for v in ["numpy_v2", "numpy_v3"] {
            let a = try readNpy(path: try fixture(v, "npy").path)
            XCTAssertEqual(a, f4, v)
        }
    }

    func testConvertsFortranOrderAndBigEndian() throws {
        let fortran = try readNpy(path: try fixture("numpy_fortran", "npy").path)
        XCTAssertEqual(fortran.shape, [3, 4, 2])
        XCTAssertEqual(fortran.dtype, .f64)
        XCTAssertEqual(fortran.doubles(), ramp(24))  // C order after conversion

        let big = try readNpy(path: try fixture("numpy_bigendian", "npy").path)
        XCTAssertEqual(big.dtype, .i32)
        XCTAssertEqual(big.shape, [3, 5])
        XCTAssertEqual(try big.integers(), (0 ..< 15).map { Int(Int32(truncatingIfNeeded: ($0 - 7) * 123_456_789)) })
    }

    /// The odometer transpose against index arithmetic, on an odd shape with multi-byte items.
    func testFortranToCMatchesNaiveIndexing() throws {
        let shape = [3, 4, 5, 2], item = 3
        let n = shape.reduce(1, *)
        let src = (0 ..< n * item).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 5) }
        let out = fortranToC(src, shape: shape, itemSize: item)
        for c in 0 ..< n {
            var rest = c, idx = [Int](repeating: 0, count: shape.count)
            for d in stride(from: shape.count - 1, through: 0, by: -1) { idx[d] = rest % shape[d]; rest /= shape[d] }
            var f = 0, stride = 1
            for d in 0 ..< shape.count { f += idx[d] * stride; stride *= shape[d] }
            XCTAssertEqual(Array(out[c * item ..< (c + 1) * item]), Array(src[f * item ..< (f + 1) * item]), "element \(idx)")
        }
    }

    func testEncodingIsByteIdenticalToNumpy() throws {
        for name in ["numpy_f4", "numpy_scalar"] {
            let bytes = try Data(contentsOf: try fixture(name, "npy"))
            XCTAssertEqual(encodeNpy(try readNpy(data: bytes)), bytes, name)
        }
        // numpy rewrites the Fortran/big-endian files as C-order little-endian; check the header math
        // on a header that is exactly 64-byte aligned before padding (numpy then adds a full 64).
        let header = NpyHeader(descr: "<f4", fortranOrder: false, shape: [1]).encoded()
        XCTAssertEqual(header.count % 64, 0)
        XCTAssertEqual(header.last, 0x0A)
    }

    func testRoundTripEveryDtype() throws {
        let dir = try temporaryDirectory(self)
        let shape = [3, 5, 2]
        let ints = (0 ..< 30).map { $0 * 9 - 120 }
        var arrays: [NpyArray] = [
            try NpyArray(shape: shape, integers: ints.map { $0 & 1 }, dtype: .bool),
            try NpyArray(shape: shape, integers: ints.map { ($0 + 120) / 2 }, dtype: .u8),
            try NpyArray(shape: shape, integers: ints.map { $0 / 2 }, dtype: .i8),
            try NpyArray(shape: shape, integers: ints.map { $0 * 200 }, dtype: .i16),
            try NpyArray(shape: shape, integers: ints.map { $0 * 10_000_000 }, dtype: .i32),
            try NpyArray(shape: shape, integers: ints.map { $0 * 1_000_000_000_007 }, dtype: .i64),
            try NpyArray(shape: shape, floats: ramp(30).map { Float($0) }, dtype: .f16),
            try NpyArray(shape: shape, floats: ramp(30).map { Float($0) / 3 }, dtype: .f32),
            try NpyArray(shape: shape, doubles: ramp(30).map { $0 / 3 }),
        ]
        arrays.append(try NpyArray(shape: [], floats: [5]))
        arrays.append(try NpyArray(shape: [0, 4], floats: []))
        XCTAssertEqual(Set(arrays.map(\.dtype)), Set(DType.npyTypes))
        for (i, a) in arrays.enumerated() {
            let path = dir.appendingPathComponent("a\(i).npy").path
            try writeNpy(a, to: path)
            let b = try readNpy(path: path)
            XCTAssertEqual(b, a, "\(a.dtype) \(a.shape)")
            if a.dtype.isFloatingPoint { XCTAssertEqual(b.floats(), a.floats()) } else { XCTAssertEqual(try b.integers(), try a.integers()) }
        }
        XCTAssertEqual(try arrays[5].integers(), ints.map { $0 * 1_000_000_000_007 })  // exact beyond 2^53
        XCTAssertEqual(arrays[8].doubles(), ramp(30).map { $0 / 3 })
        XCTAssertEqual(arrays[6].floats(), ramp(30).map { Float(Float16(Float($0))) })  // float32 values are exact; one rounding to half
        try writeNpy(Tensor(shape: [2, 2], data: [1, 2, 3, 4]), to: dir.appendingPathComponent("t.npy").path)
        XCTAssertEqual(try readNpy(path: dir.appendingPathComponent("t.npy").path).toTensor(), Tensor(shape: [2, 2], data: [1, 2, 3, 4]))
    }

    func testConstructorsRefuseBadInput() {
        assertFormatError(try NpyArray(shape: [2], integers: [1, 256], dtype: .u8), "value 256 at index 1 does not fit in uint8")
        assertFormatError(try NpyArray(shape: [3], floats: [1, 2]), "shape [3] does not hold 2 elements")
        assertFormatError(try NpyArray(shape: [1], floats: [1], dtype: .i32), "floats cannot be stored as int32")
        assertFormatError(try NpyArray(shape: [1], integers: [1], dtype: .f32), "integers cannot be stored as float32")
        assertFormatError(try NpyArray(shape: [2], dtype: .f64, bytes: [0, 0]), "shape [2] of float64 needs 16 bytes, got 2")
        assertFormatError(try NpyArray(shape: [1], floats: [1.5]).integers(), "array of float32 is not an integer array")
    }

    /// npy bytes with `header` as the dict text, padded like numpy, then `data`.
    private func npy(_ header: String, _ data: [UInt8] = [], version: UInt8 = 1) -> Data {
        var body = Array(header.utf8) + [0x0A]
        let lenSize = version == 1 ? 2 : 4
        while (8 + lenSize + body.count) % 64 != 0 { body.insert(0x20, at: body.count - 1) }
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        for k in 0 ..< lenSize { out.append(UInt8(truncatingIfNeeded: body.count >> (8 * k))) }
        return Data(out + body + data)
    }

    func testMalformedCorpus() throws {
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
        let eight = [UInt8](repeating: 0, count: 8)
        XCTAssertNoThrow(try readNpy(data: npy(good, eight)))
        XCTAssertEqual(try readNpy(data: npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1L,), }", eight)).shape, [1])  // Python 2 long
        let cases: [(String, Data, String)] = [
            ("empty", Data(), "file is empty"),
            ("bad magic", Data("\u{93}NUMPX\u{01}\u{00}".utf8) + Data(eight), "not an npy file (bad magic"),
            ("text file", Data("hello world, not numpy".utf8), "bad magic"),
            ("short", Data([0x93] + Array("NUMPY".utf8) + [1]), "truncated npy header"),
            ("version 4", npy(good, eight, version: 4), "unsupported npy format version 4.0"),
            ("header past end", Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0x7F, 0x7B]), "header length 32767 runs past the end"),
            ("not a dict", npy("[1, 2]", eight), "npy header is not a dict"),
            ("malformed dict", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", eight), "malformed npy header"),
            ("code in header", npy("{'descr': __import__('os'), 'fortran_order': False, 'shape': (2,), }", eight), "malformed npy header: unexpected '_'"),
            ("missing key", npy("{'descr': '<f4', 'shape': (2,), }", eight), "npy header has keys [\"descr\", \"shape\"]"),
            ("extra key", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", eight), "expected ['descr', 'fortran_order', 'shape']"),
            ("duplicate key", npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", eight), "duplicate key 'descr'"),
            ("object array", npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", eight), "pickled Python objects"),
            ("structured", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", eight), "structured (record) dtypes are not supported"),
            ("complex", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", eight), "unsupported dtype descr '<c8'"),
            ("bad order char", npy("{'descr': '!f4', 'fortran_order': False, 'shape': (2,), }", eight), "unsupported dtype descr '!f4'"),
            ("shape is a list", npy("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", eight), "'shape' is not a tuple"),
            ("negative dim", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", eight), "not a non-negative integer"),
            ("fortran not bool", npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", eight), "'fortran_order' is not True or False"),
            ("truncated data", npy(good, [0, 0, 0, 0]), "truncated: shape [2] of float32 needs 8 bytes of data but the file holds 4"),
            ("trailing data", npy(good, eight + [1]), "1 unexpected bytes after the 8 bytes of array data"),
            ("overflow", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"), "overflows"),
        ]
        for (label, data, fragment) in cases {
            assertFormatError(try readNpy(data: data, name: label), fragment, path: label)
        }
        var v3 = [UInt8](npy(good, eight, version: 3))
        v3[20] = 0xFF  // inside the dict text: invalid UTF-8 for a 3.0 header
        assertFormatError(try readNpy(data: Data(v3)), "npy 3.0 header is not valid UTF-8")
        // Truncation anywhere in a real file.
        let real = try Data(contentsOf: try fixture("numpy_f4", "npy"))
        for cut in [1, 6, 9, 10, 60, 127, 128, 129, real.count - 1] {
            XCTAssertThrowsError(try readNpy(data: real.prefix(cut)), "cut at \(cut)")
        }
        assertFormatError(try readNpy(path: "/nonexistent/x.npy"), "no such file", path: "/nonexistent/x.npy")
    }

    func testPythonLiteralParser() throws {
        XCTAssertEqual(try PyLiteralParser.parse("{'a': (1, -2, 3L), \"b\": [True, None], 'c': 'x\\'y', }"),
                       .dict([("a", .tuple([.int(1), .int(-2), .int(3)])), ("b", .list([.bool(true), .none])), ("c", .string("x'y"))]))
        XCTAssertEqual(try PyLiteralParser.parse("()"), .tuple([]))
        XCTAssertThrowsError(try PyLiteralParser.parse("{'a': 1} x"))
        XCTAssertThrowsError(try PyLiteralParser.parse(String(repeating: "(", count: 100)))
        XCTAssertThrowsError(try PyLiteralParser.parse("'unterminated"))
    }
}
