import Foundation
import XCTest
import LatentFormats

/// Asserts that `body` throws a `FormatError` whose reason contains `fragment`, and returns it.
@discardableResult
func assertFormatError<T>(_ body: @autoclosure () throws -> T, _ fragment: String, path: String? = nil,
                          file: StaticString = #filePath, line: UInt = #line) -> FormatError? {
    do {
        _ = try body()
        XCTFail("expected a FormatError containing \"\(fragment)\", but nothing was thrown", file: file, line: line)
    } catch let e as FormatError {
        XCTAssertTrue(e.reason.contains(fragment), "reason \"\(e.reason)\" lacks \"\(fragment)\"", file: file, line: line)
        if let path { XCTAssertEqual(e.path, path, "error names the wrong file", file: file, line: line) }
        return e
    } catch {
        XCTFail("expected a FormatError, got \(error)", file: file, line: line)
    }
    return nil
}

/// URL of a fixture in `Tests/LatentFormatsTests/Resources`.
func fixture(_ name: String, _ ext: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Resources") else {
        XCTFail("missing fixture \(name).\(ext)", file: file, line: line)
        throw CocoaError(.fileNoSuchFile)
    }
    return url
}

/// The fixtures' value formula (see make_fixtures.py): (i + offset)·scale + i²/1024.
func ramp(_ n: Int, scale: Double = 0.125, offset: Double = -7) -> [Double] {
    (0 ..< n).map { (Double($0) + offset) * scale + Double($0 * $0) / 1024 }
}

/// A fresh temporary directory, removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("latentformats-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Builds a safetensors file from a raw header string and data bytes (for malformed cases).
func rawSafeTensors(_ header: String, _ data: [UInt8] = [], headerLength: UInt64? = nil) -> Data {
    let h = Array(header.utf8)
    var out = Data()
    withUnsafeBytes(of: (headerLength ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: data)
    return out
}
