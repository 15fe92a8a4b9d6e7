import Foundation
import XCTest
@testable import LatentFormats

/// One element-type vocabulary for safetensors, npy and torch storages.
final class DTypeTests: XCTestCase {
    /// Each format's spelling maps back to the same type, with the same size; the three formats
    /// agree where they overlap.
    func testSpellingsOfTheThreeFormats() {
        XCTAssertEqual(DType.npyTypes, [.bool, .u8, .i8, .i16, .f16, .i32, .f32, .f64, .i64])
        XCTAssertEqual(Set(DType.torchTypes), [.bool, .u8, .i8, .i16, .f16, .bf16, .i32, .f32, .f64, .i64])
        for t in DType.npyTypes {
            let descr = t.npyDescr!
            XCTAssertEqual(DType.npy(kind: descr.dropFirst().first!, size: Int(String(descr.last!))!), t, descr)
            XCTAssertEqual(Int(String(descr.last!)), t.itemSize, descr)
            XCTAssertEqual(DType(rawValue: t.rawValue), t)
        }
        for t in DType.torchTypes { XCTAssertEqual(DType(torchStorageName: t.torchStorageName!), t) }
        XCTAssertNil(DType(torchStorageName: "ComplexFloatStorage"))
        XCTAssertEqual(DType.f32.torchStorageName, "FloatStorage")
        XCTAssertEqual(DType.bf16.name, "bfloat16")
        XCTAssertEqual(DType.i64.npyDescr, "<i8")
        XCTAssertNil(DType.bf16.npyDescr)
        XCTAssertNil(DType.u16.torchStorageName)
    }

    /// A type a format does not hold is refused with one line, never trapped on.
    func testTypesOutsideAFormatAreRefused() {
        assertFormatError(try NpyArray(shape: [1], floats: [1], dtype: .bf16), "bfloat16 cannot be stored in an .npy file")
        assertFormatError(try NpyArray(shape: [1], integers: [1], dtype: .f4), "F4 cannot be stored in an .npy file")
        assertFormatError(try NpyArray(shape: [1], dtype: .u16, bytes: [0, 0]), "uint16 cannot be stored in an .npy file")
        XCTAssertThrowsError(try TorchStorage(dtype: .u32, count: 1, raw: Data(count: 4))) { e in
            XCTAssertTrue("\(e)".contains("uint32 is not a torch storage type"), "\(e)")
        }
    }
}
