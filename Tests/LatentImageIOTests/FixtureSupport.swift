import Foundation
import XCTest
import LatentTensor
import LatentImageIO

/// Path of a fixture made by `Resources/generate_fixtures.py`.
func fixture(_ name: String) -> String {
    Bundle.module.url(forResource: "Resources", withExtension: nil)!.appendingPathComponent(name).path
}

// The pattern formulas of generate_fixtures.py (keep in sync).
let fixtureWidth = 13, fixtureHeight = 7
func p8(_ x: Int, _ y: Int, _ c: Int) -> Int { (x * 37 + y * 71 + c * 101) % 256 }
func p16(_ x: Int, _ y: Int, _ c: Int) -> Int { (x * 4099 + y * 11003 + c * 20011) % 65536 }
func gray8(_ x: Int, _ y: Int) -> Int { (x * 29 + y * 53) % 256 }
func alpha8(_ x: Int, _ y: Int) -> Int { (x * 61 + y * 17 + 5) % 256 }
func alpha16(_ x: Int, _ y: Int) -> Int { (x * 5003 + y * 7919 + 11) % 65536 }
func paletteIndex(_ x: Int, _ y: Int, _ n: Int) -> Int { (x + 3 * y) % n }
let palette: [[Int]] = (0..<20).map { [($0 * 13) % 256, ($0 * 57) % 256, ($0 * 91) % 256] }
let paletteAlpha: [Int] = (0..<10).map { ($0 * 25) % 256 }
let blockColors: [[Int]] = [[200, 30, 40], [20, 180, 60], [30, 60, 210], [240, 220, 40], [120, 40, 160], [90, 200, 210]]

/// A stored sample of an image with maximum `maxValue`, composited over white with alpha `a`,
/// mapped to [-1, 1] (composites in Double: the independent expectation).
/// Opaque samples follow NVIDIA's float32 `s / 127.5 - 1` exactly.
func expected(_ s: Int, alpha a: Int? = nil, max maxValue: Int = 255) -> Float {
    let m = Double(maxValue)
    guard let a else { return Float(s) / Float(m / 2) - 1 }
    let v = (Double(s) * Double(a) + m * (m - Double(a))) / m
    return Float(v / (m / 2) - 1)
}

/// An expected `[3, H, W]` image from a per-pixel function returning [r, g, b] in [-1, 1].
func expectedImage(width: Int = fixtureWidth, height: Int = fixtureHeight, _ pixel: (Int, Int) -> [Float]) -> Tensor {
    var t = Tensor.zeros([3, height, width])
    for y in 0..<height { for x in 0..<width {
        let p = pixel(x, y)
        for c in 0..<3 { t[c, y, x] = p[c] }
    } }
    return t
}

/// Asserts that `body` throws an `ImageError` of `kind` whose one-line description starts with
/// the subject and contains every string of `contains`.
func assertImageError(_ kind: ImageError.Kind, subject: String, contains: [String] = [],
                      file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected ImageError.\(kind) for \(subject), got success", file: file, line: line)
    } catch let error as ImageError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        let text = error.description
        XCTAssertTrue(text.hasPrefix(subject + ": "), "description should name \(subject): \(text)", file: file, line: line)
        XCTAssertFalse(text.contains("\n"), "description must be one line: \(text)", file: file, line: line)
        XCTAssertEqual(error.localizedDescription, text, file: file, line: line)
        for s in contains {
            XCTAssertTrue(text.contains(s), "'\(text)' should mention '\(s)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected ImageError, got \(error)", file: file, line: line)
    }
}

/// Largest difference in 8-bit levels over the pixels for which `include(y, x)` holds.
func maxLevelDiff(_ a: Tensor, _ b: Tensor, include: (Int, Int) -> Bool = { _, _ in true }) -> Float {
    precondition(a.shape == b.shape, "\(a.shape) vs \(b.shape)")
    var m: Float = 0
    for c in 0..<a.shape[0] { for y in 0..<a.shape[1] { for x in 0..<a.shape[2] where include(y, x) {
        m = max(m, abs(a[c, y, x] - b[c, y, x]) * 127.5)
    } } }
    return m
}
