import Foundation
import XCTest
import LatentTensor
@testable import LatentFormats
import _TestSupport

final class SafeTensorsWriterTests: XCTestCase {
    /// Same tensors as make_fixtures.py gives the reference writer, added in another order: the
    /// bytes must be identical (layout order, JSON spelling, escapes, padding).
    func testByteIdenticalToReferenceWriter() throws {
        let expected = try Data(contentsOf: try fixture("reference_writer", "safetensors"))
        var w = SafeTensorsWriter(metadata: [
            "format": "test é\n\"quoted\"/",
            "config": #"{"z_dim": 4, "mapping_kwargs": {"num_layers": 2}, "conv_clamp": null}"#,
        ])
        try w.add("zero", Tensor(shape: [0], data: []))
        try w.add("bytes", integers: (0 ..< 7).map { $0 * 37 }, shape: [7], dtype: .u8)
        try w.add("half", Tensor(shape: [2, 5], data: ramp(10).map { Float($0) }), dtype: .f16)
        try w.add("w", Tensor(shape: [6, 5], data: ramp(30).map { Float($0) }))
        try w.add("tokens", Tensor(shape: [4], data: [49406, 320, 1929, 49407]), dtype: .i32)
        try w.add("double", doubles: [1.0 / 3.0, -2.5, 0.1], shape: [3])
        try w.add("ids", integers: (0 ..< 4).map { ($0 - 2) * ((1 << 40) + 3) }, shape: [2, 2])
        try w.add("bias", Tensor(shape: [5], data: ramp(5, scale: 0.5, offset: -2).map { Float($0) }))
        XCTAssertEqual(w.encoded(), expected)
    }

    func testEmptyFileMatchesReferenceBytes() throws {
        // From the reference crate's own test (`test_empty`).
        XCTAssertEqual([UInt8](try encodeSafeTensors([])), [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
        let withMeta = [UInt8](try encodeSafeTensors([], metadata: ["framework": "pt"]))
        XCTAssertEqual(withMeta, [40, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"__metadata__":{"framework":"pt"}}"#.utf8) + [32, 32, 32, 32, 32])
    }

    /// Nearest bfloat16 computed in Double: round |x| / ulp to nearest even, where a bfloat16
    /// ulp is 2^(e − 7) (e clamped at −126 for subnormals); past the largest finite value, infinity.
    private func naiveBF16(_ x: Float) -> Float {
        if x.isNaN || x.isInfinite || x == 0 { return x }
        let v = Double(x)
        let e = max(Int(v.exponent), -126)
        let ulp = pow(2.0, Double(e - 7))
        let r = (v / ulp).rounded(.toNearestOrEven) * ulp
        return abs(r) >= pow(2.0, 128) ? (r > 0 ? .infinity : -.infinity) : Float(r)
    }

    func testRoundTripEveryWritableDtype() throws {
        var rng = TestRNG(seed: 7)
        let shape = [3, 7]
        let floats = rng.tensor(shape, -300, 300)
        let ints = (0 ..< 21).map { $0 * 11 - 100 }
        var w = SafeTensorsWriter()
        for dt in [DType.f32, .f16, .bf16] { try w.add(dt.rawValue, floats, dtype: dt) }
        try w.add("F64", doubles: floats.storage.map { Double($0) / 3 }, shape: shape)
        try w.add("I64", integers: ints.map { $0 * 1_000_000_007 }, shape: shape, dtype: .i64)
        try w.add("I32", integers: ints.map { $0 * 1_000_007 }, shape: shape, dtype: .i32)
        try w.add("I16", integers: ints.map { $0 * 250 }, shape: shape, dtype: .i16)
        try w.add("I8", integers: ints, shape: shape, dtype: .i8)
        try w.add("U8", integers: ints.map { $0 + 100 }, shape: shape, dtype: .u8)
        try w.add("BOOL", integers: ints.map { $0 & 1 }, shape: shape, dtype: .bool)
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("all.safetensors").path
        try w.write(to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["all.safetensors"], "temporary file left behind")

        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.names, ["I64", "F64", "F32", "I32", "BF16", "F16", "I16", "I8", "U8", "BOOL"])
        for name in f.names { XCTAssertEqual(f.entries[name]!.dtype, name); XCTAssertEqual(f.entries[name]!.shape, shape) }
        XCTAssertEqual(try f.tensor("F32"), floats)
        XCTAssertEqual(try f.tensor("F16").storage, floats.storage.map { Float(Float16($0)) })
        XCTAssertEqual(try f.tensor("BF16").storage, floats.storage.map(naiveBF16))
        XCTAssertEqual(try f.rawBytes("F64"), Data(floats.storage.flatMap { v -> [UInt8] in
            withUnsafeBytes(of: (Double(v) / 3).bitPattern.littleEndian, Array.init)
        }))
        XCTAssertEqual(try f.integers("I64").values, ints.map { $0 * 1_000_000_007 })
        XCTAssertEqual(try f.integers("I32").values, ints.map { $0 * 1_000_007 })
        XCTAssertEqual(try f.integers("I16").values, ints.map { $0 * 250 })
        XCTAssertEqual(try f.integers("I8").values, ints)
        XCTAssertEqual(try f.integers("U8").values, ints.map { $0 + 100 })
        XCTAssertEqual(try f.integers("BOOL").values, ints.map { $0 & 1 })
    }

    func testBFloat16RoundingEdgeCases() throws {
        let ties: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, -(1 + 0x1p-8), 1 + 0x1p-8 + 0x1p-20]
        let special: [Float] = [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, 0, -0.0, .leastNonzeroMagnitude, 0x1p-130]
        let t = Tensor(shape: [ties.count + special.count], data: ties + special)
        let f = try SafeTensorsFile(data: try encodeSafeTensors([("x", t)], dtype: .bf16))
        let bits = try f.rawBytes("x").withUnsafeBytes { p in (0 ..< t.count).map { p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) } }
        XCTAssertEqual(bits[0], 0x3F80)  // 1 + 2^-8 ties to even: 1
        XCTAssertEqual(bits[1], 0x3F82)  // 1 + 3·2^-8 ties to even: 1 + 2^-6
        XCTAssertEqual(bits[2], 0xBF80)
        XCTAssertEqual(bits[3], 0x3F81)  // just above the tie rounds up
        XCTAssertEqual(bits[4], 0x7FC0)  // NaN as c10 writes it
        XCTAssertEqual(bits[5], 0x7F80)
        XCTAssertEqual(bits[6], 0xFF80)
        XCTAssertEqual(bits[7], 0x7F80)  // max float rounds to infinity, as in PyTorch
        XCTAssertEqual(bits[8], 0x0000)
        XCTAssertEqual(bits[9], 0x8000)
        for (i, x) in (ties + special).enumerated() where !x.isNaN {
            XCTAssertEqual(Float(bitPattern: UInt32(bits[i]) << 16), naiveBF16(x), "element \(i)")
        }
    }

    func testWriterRefusesBadInput() throws {
        var w = SafeTensorsWriter()
        try w.add("a", Tensor(shape: [2], data: [1, 2]))
        assertFormatError(try w.add("a", Tensor(shape: [1], data: [1])), "tensor 'a' added twice")
        assertFormatError(try w.add("__metadata__", Tensor(shape: [1], data: [1])), "'__metadata__' is reserved")
        assertFormatError(try w.add("b", Tensor(shape: [2], data: [1, 2.5]), dtype: .i32), "value 2.5 at index 1 is not an integer")
        assertFormatError(try w.add("c", integers: [300], shape: [1], dtype: .u8), "value 300 at index 0 does not fit in U8")
        assertFormatError(try w.add("d", integers: [1, 2], shape: [3], dtype: .i64), "shape [3] needs 3 elements, got 2")
        assertFormatError(try w.add("e", Tensor(shape: [1], data: [1]), dtype: .c64), "writing dtype C64 is not supported")
        assertFormatError(try w.add("f", rawBytes: Data([1, 2, 3]), dtype: .f32, shape: [1]), "3 bytes do not match shape [1] of F32")
        XCTAssertEqual(w.names, ["a"])
        let path = try temporaryDirectory(self).appendingPathComponent("x.safetensors").path
        assertFormatError(try writeSafeTensors([("a", Tensor(shape: [1], data: [1])), ("a", Tensor(shape: [1], data: [2]))], to: path),
                          "added twice", path: path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testRawBytesPassThroughAndOverwrite() throws {
        let src = try SafeTensorsFile(path: try fixture("reference_writer", "safetensors").path)
        var w = SafeTensorsWriter(metadata: src.metadata)
        for name in src.names { let e = src.entries[name]!; try w.add(name, rawBytes: try src.rawBytes(name), dtype: e.dataType, shape: e.shape) }
        XCTAssertEqual(w.encoded(), try Data(contentsOf: try fixture("reference_writer", "safetensors")))

        let path = try temporaryDirectory(self).appendingPathComponent("o.safetensors").path
        try writeSafeTensors([("x", Tensor(shape: [1], data: [1]))], to: path)
        try writeSafeTensors([("y", Tensor(shape: [2], data: [2, 3]))], metadata: ["k": "v"], to: path)
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.names, ["y"])
        XCTAssertEqual(f.metadata, ["k": "v"])
    }

    /// Header JSON written for awkward names and metadata parses back to the same strings.
    func testJSONEscapingRoundTrip() throws {
        let names = ["plain", "quote\"back\\slash", "tab\tnew\nline", "ctl\u{01}\u{1F}", "ünï©ødé 🎨", "/slash/"]
        var w = SafeTensorsWriter(metadata: Dictionary(uniqueKeysWithValues: names.map { ($0, $0 + "!") }))
        for (i, n) in names.enumerated() { try w.add(n, Tensor(shape: [1], data: [Float(i)])) }
        let f = try SafeTensorsFile(data: w.encoded())
        for (i, n) in names.enumerated() {
            XCTAssertEqual(try f.tensor(n).storage, [Float(i)])
            XCTAssertEqual(f.metadata[n], n + "!")
        }
        var out = [UInt8]()
        JSONWriter.appendString("a\u{01}b", to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), #""a\u0001b""#)
    }
}
