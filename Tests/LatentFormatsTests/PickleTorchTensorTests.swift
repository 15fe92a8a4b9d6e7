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
        return try TorchStorage(dtype: .float32, count: values.count, raw: raw)
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
        let bytes = errorText { try TorchStorage(dtype: .float16, count: 3, raw: Data(count: 5)) }
        XCTAssertTrue(bytes.contains("needs 6 bytes, got 5"), bytes)
    }

    func testDTypeConversions() throws {
        // float16 1.5, -2; bfloat16 0.15625; float64 1/3; int64 -5 and 2^40
        let h = try TorchStorage(dtype: .float16, count: 2, raw: Data([0x00, 0x3E, 0x00, 0xC0]))
        XCTAssertEqual(try TorchTensor(storage: h, storageOffset: 0, size: [2], stride: [1]).floatTensor().storage, [1.5, -2])
        let bf = try TorchStorage(dtype: .bfloat16, count: 1, raw: Data([0x20, 0x3E]))
        XCTAssertEqual(try TorchTensor(storage: bf, storageOffset: 0, size: [], stride: []).floatTensor().storage, [0.15625])
        var d = Data(); withUnsafeBytes(of: (1.0 / 3.0).bitPattern.littleEndian) { d.append(contentsOf: $0) }
        let f64 = try TorchStorage(dtype: .float64, count: 1, raw: d)
        XCTAssertEqual(try TorchTensor(storage: f64, storageOffset: 0, size: [1], stride: [1]).floatTensor().storage, [Float(1.0 / 3.0)])
        var l = Data()
        for v: Int64 in [-5, 1 << 40] { withUnsafeBytes(of: v.littleEndian) { l.append(contentsOf: $0) } }
        let i64 = try TorchTensor(storage: TorchStorage(dtype: .int64, count: 2, raw: l), storageOffset: 0, size: [2], stride: [1])
        XCTAssertEqual(i64.integers(), [-5, 1 << 40])
        XCTAssertEqual(i64.floatTensor().storage, [-5, Float(1 << 40)])
    }
}
