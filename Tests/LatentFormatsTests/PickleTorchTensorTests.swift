import Foundation
import XCTest
import LatentFormats
import LatentTensor
import _TestSupport

/// `TorchTensor` views against a naive reference: element (i0, i1, …) of a view is
/// `storage[offset + Σ i_d·stride_d]`.
final class PickleTorchTensorTests: XCTestCase {

    private func storage(_ values: [Float]) throws -> TorchStorage {
        var raw = Data()
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
        return try TorchStorage(dtype: .f32, count: values.count, raw: raw)
    }

    /// Plain nested loops over every index, in Double-free exact arithmetic (a gather).
    private func reference(_ values: [Float], offset: Int, size: [Int], stride: [Int]) -> [Float] {
        var out: [Float] = []
        var idx = [Int](repeating: 0, count: size.count)
        let n = size.reduce(1, *)
        for _ in 0..<n {
            var p = offset
            for d in 0..<size.count { p += idx[d] * stride[d] }
            out.append(values[p])
            var d = size.count - 1
            while d >= 0 { idx[d] += 1; if idx[d] < size[d] { break }; idx[d] = 0; d -= 1 }
        }
        return out
    }

    func testStridedViewsMatchTheNaiveGather() throws {
        var rng = TestRNG(seed: 11)
        let values = (0..<400).map { _ in Float(rng.uniform()) }
        let st = try storage(values)
        // (offset, size, stride): contiguous, transposed, permuted 3-D, broadcast (stride 0),
        // every other column, a scalar, an empty tensor.
        let cases: [(Int, [Int], [Int])] = [
            (0, [5, 7], [7, 1]), (3, [5, 7], [1, 5]), (2, [3, 5, 7], [1, 21, 3]), (10, [4, 3], [0, 1]),
            (1, [6, 5], [13, 2]), (17, [], []), (5, [0, 3], [3, 1]), (0, [7, 1, 3], [3, 99, 1]),
        ]
        for (off, size, stride) in cases {
            let t = try TorchTensor(storage: st, storageOffset: off, size: size, stride: stride)
            let got = t.floatTensor()
            XCTAssertEqual(got.shape, size)
            XCTAssertEqual(got.storage, reference(values, offset: off, size: size, stride: stride), "\(off) \(size) \(stride)")
        }
    }

    func testViewsBeyondTheStorageAreRefused() throws {
        let st = try storage([Float](repeating: 1, count: 12))
        XCTAssertNoThrow(try TorchTensor(storage: st, storageOffset: 2, size: [5, 2], stride: [2, 1]))
        let past = errorText { try TorchTensor(storage: st, storageOffset: 3, size: [5, 2], stride: [2, 1]) }
        XCTAssertTrue(past.contains("reaches past its 12-element storage"), past)
        let neg = errorText { try TorchTensor(storage: st, storageOffset: 0, size: [2], stride: [-1]) }
        XCTAssertTrue(neg.contains("negative"), neg)
        let rank = errorText { try TorchTensor(storage: st, storageOffset: 0, size: [2, 2], stride: [1]) }
        XCTAssertTrue(rank.contains("2 sizes but 1 strides"), rank)
        let huge = errorText { try TorchTensor(storage: st, storageOffset: 0, size: [1 << 40, 1 << 40], stride: [1, 1]) }
        XCTAssertTrue(huge.contains("reaches past"), huge)
        let bytes = errorText { try TorchStorage(dtype: .f16, count: 3, raw: Data(count: 5)) }
        XCTAssertTrue(bytes.contains("needs 6 bytes, got 5"), bytes)
    }

    func testDTypeConversions() throws {
        // float16 1.5, -2; bfloat16 0.15625; float64 1/3; int64 -5 and 2^40
        let h = try TorchStorage(dtype: .f16, count: 2, raw: Data([0x00, 0x3E, 0x00, 0xC0]))
        XCTAssertEqual(try TorchTensor(storage: h, storageOffset: 0, size: [2], stride: [1]).floatTensor().storage, [1.5, -2])
        let bf = try TorchStorage(dtype: .bf16, count: 1, raw: Data([0x20, 0x3E]))
        XCTAssertEqual(try TorchTensor(storage: bf, storageOffset: 0, size: [], stride: []).floatTensor().storage, [0.15625])
        var d = Data(); withUnsafeBytes(of: (1.0 / 3.0).bitPattern.littleEndian) { d.append(contentsOf: $0) }
        let f64 = try TorchStorage(dtype: .f64, count: 1, raw: d)
        XCTAssertEqual(try TorchTensor(storage: f64, storageOffset: 0, size: [1], stride: [1]).floatTensor().storage, [Float(1.0 / 3.0)])
        var l = Data()
        for v: Int64 in [-5, 1 << 40] { withUnsafeBytes(of: v.littleEndian) { l.append(contentsOf: $0) } }
        let i64 = try TorchTensor(storage: TorchStorage(dtype: .i64, count: 2, raw: l), storageOffset: 0, size: [2], stride: [1])
        XCTAssertEqual(i64.integers(), [-5, 1 << 40])
        XCTAssertEqual(i64.floatTensor().storage, [-5, Float(1 << 40)])
    }
    // MARK: legacy torch.save bytes, built opcode by opcode

    private func str(_ s: String) -> [UInt8] {   // BINUNICODE
        let u = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(u.count).littleEndian, Array.init) + u
    }

    /// `torch.save(storage)` in the legacy format: magic, 1001, sys-info, the storage persistent
    /// id, the key list, then count + data.
    private func legacy(magicLast: UInt8 = 0x19, littleEndian: Bool = true, storageType: String = "FloatStorage",
                        numel: Int = 3, view: [UInt8] = [0x4E], dataCount: Int64 = 3, values: [Float] = [1.5, -2, 0.25]) -> Data {
        var b: [UInt8] = [0x80, 2, 0x8A, 10, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, magicLast, 0x2E]
        b += [0x80, 2, 0x4D, 0xE9, 0x03, 0x2E]
        b += [0x80, 2, 0x7D, 0x28] + str("little_endian") + [littleEndian ? 0x88 : 0x89, 0x75, 0x2E]
        b += [0x80, 2, 0x28] + str("storage") + [0x63] + Array("torch\n\(storageType)\n".utf8) + str("k0") + str("cpu")
        b += [0x4B, UInt8(numel)] + view + [0x74, 0x51, 0x2E]
        b += [0x80, 2, 0x5D] + str("k0") + [0x61, 0x2E]
        b += withUnsafeBytes(of: dataCount.littleEndian, Array.init)
        for v in values { b += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
        return Data(b)
    }

    func testLegacyStorageBytes() throws {
        let s = try TorchStorage.loadLegacy(legacy(), source: "inline")
        XCTAssertEqual(s.dtype, .f32)
        XCTAssertEqual(try TorchTensor(storage: s, storageOffset: 0, size: [3], stride: [1]).floatTensor().storage, [1.5, -2, 0.25])
        // a view (key 'v', offset 1, size 2) of the 3-element root
        let v = try TorchStorage.loadLegacy(legacy(view: [0x28] + str("v") + [0x4B, 1, 0x4B, 2, 0x74]), source: "inline")
        XCTAssertEqual(try TorchTensor(storage: v, storageOffset: 0, size: [2], stride: [1]).floatTensor().storage, [-2, 0.25])

        func refuse(_ d: Data, _ expected: String, line: UInt = #line) {
            let msg = errorText({ try TorchStorage.loadLegacy(d, source: "inline") }, line: line)
            XCTAssertTrue(msg.contains(expected), "\(msg) lacks '\(expected)'", line: line)
        }
        refuse(legacy(magicLast: 0x18), "do not start with the magic number")
        refuse(legacy(littleEndian: false), "big-endian")
        refuse(legacy(storageType: "ComplexFloatStorage"), "refusing global 'torch.ComplexFloatStorage'")
        refuse(legacy(dataCount: 4), "declares 3 elements but its data has 4")
        refuse(legacy(values: [1, 2]), "declares 3 float32 elements but only 8 bytes remain")
        refuse(legacy(view: [0x28] + str("v") + [0x4B, 2, 0x4B, 2, 0x74]), "malformed storage view")
        refuse(legacy().prefix(30), "truncated")
    }
}
