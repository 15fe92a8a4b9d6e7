import XCTest
import LatentTensor
import LatentImageIO
import _TestSupport

final class PreprocessTests: XCTestCase {
    func testCropModeParsing() throws {
        XCTAssertEqual(try CropMode.parse("center"), .center)
        XCTAssertEqual(try CropMode.parse(" Center "), .center)
        XCTAssertEqual(try CropMode.parse("none"), CropMode.none)
        XCTAssertEqual(try CropMode.parse("10,20,30,40"), .box(x: 10, y: 20, width: 30, height: 40))
        XCTAssertEqual(try CropMode.parse(" 1, 2 ,3,4 "), .box(x: 1, y: 2, width: 3, height: 4))
        for mode in [CropMode.center, .none, .box(x: 5, y: 0, width: 7, height: 9)] {
            XCTAssertEqual(CropMode(mode.description), mode)
        }
        XCTAssertNil(CropMode("middle"))
        assertImageError(.invalidArgument, subject: "crop", contains: ["'center', 'none' or 'x,y,w,h'", "'middle'"]) {
            _ = try CropMode.parse("middle")
        }
        assertImageError(.invalidArgument, subject: "crop", contains: ["x,y,w,h"]) { _ = try CropMode.parse("1,2,3") }
        assertImageError(.invalidArgument, subject: "crop", contains: ["four integers"]) { _ = try CropMode.parse("a,b,c,d") }
        assertImageError(.invalidArgument, subject: "crop", contains: ["width, height ≥ 1"]) { _ = try CropMode.parse("1,2,0,4") }
        assertImageError(.invalidArgument, subject: "crop") { _ = try CropMode.parse("-1,0,2,2") }
    }

    private func crop(_ t: Tensor, x: Int, y: Int, w: Int, h: Int) -> Tensor {
        var out = Tensor.zeros([t.shape[0], h, w])
        for c in 0..<t.shape[0] { for i in 0..<h { for j in 0..<w { out[c, i, j] = t[c, y + i, x + j] } } }
        return out
    }

    private func clamped(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, data: t.storage.map { min(max($0, -1), 1) }) }

    func testCropsAndResize() throws {
        var rng = TestRNG(seed: 3)
        let image = rng.tensor([3, 7, 11])
        // Same size as the crop: the resize is the identity, so we see the crop itself.
        XCTAssertEqual(try preprocess(image, crop: .center, size: 7), crop(image, x: 2, y: 0, w: 7, h: 7))
        let tall = rng.tensor([3, 10, 5])
        XCTAssertEqual(try preprocess(tall, crop: .center, size: 5), crop(tall, x: 0, y: 2, w: 5, h: 5))
        XCTAssertEqual(try preprocess(image, crop: .box(x: 3, y: 1, width: 4, height: 4), size: 4), crop(image, x: 3, y: 1, w: 4, h: 4))
        // Otherwise: Lanczos (default) or the chosen kernel, antialiased, then clamped to [-1, 1].
        let center = crop(image, x: 2, y: 0, w: 7, h: 7).reshaped([1, 3, 7, 7])
        assertClose(try preprocess(image, crop: .center, size: 4),
                    clamped(resizeReference(center, height: 4, width: 4, method: .lanczos).reshaped([3, 4, 4])), atol: 2e-6, rtol: 0)
        assertClose(try preprocess(image, crop: .none, size: 5, method: .area),
                    clamped(resizeReference(image.reshaped([1, 3, 7, 11]), height: 5, width: 5, method: .area).reshaped([3, 5, 5])),
                    atol: 2e-6, rtol: 0)
        let box = crop(image, x: 1, y: 2, w: 9, h: 5).reshaped([1, 3, 5, 9])
        assertClose(try preprocess(image, crop: .box(x: 1, y: 2, width: 9, height: 5), size: 6, method: .bicubic),
                    clamped(resizeReference(box, height: 6, width: 6, method: .bicubic).reshaped([3, 6, 6])), atol: 2e-6, rtol: 0)
    }

    /// Lanczos overshoots at a hard edge; the result must still lie in [-1, 1].
    func testClampsOvershoot() throws {
        let step = Tensor(shape: [1, 9, 9]) { i in i % 9 < 4 ? -1 : 1 }
        let unclamped = resize(step.reshaped([1, 1, 9, 9]), height: 16, width: 16, method: .lanczos)
        XCTAssertGreaterThan(unclamped.storage.max()!, 1.01)
        let out = try preprocess(step, crop: .none, size: 16)
        XCTAssertTrue(out.storage.allSatisfy { $0 >= -1 && $0 <= 1 })
        XCTAssertEqual(out.storage.max(), 1)
    }

    func testPreprocessErrors() {
        let image = Tensor.zeros([3, 7, 11])
        assertImageError(.invalidArgument, subject: "crop", contains: ["does not fit inside the 11×7 image"]) {
            _ = try preprocess(image, crop: .box(x: 5, y: 0, width: 7, height: 7), size: 8)
        }
        assertImageError(.invalidArgument, subject: "size") { _ = try preprocess(image, crop: .center, size: 0) }
        assertImageError(.invalidArgument, subject: "image") { _ = try preprocess(Tensor.zeros([1, 3, 7, 11]), crop: .center, size: 8) }
    }

    func testImageGrid() throws {
        let tiles = (0..<5).map { Tensor(shape: [3, 2, 3], repeating: Float($0) / 10) }
        let grid = try imageGrid(tiles, columns: 2, padding: 1)
        XCTAssertEqual(grid.shape, [3, 3 * 2 + 2, 2 * 3 + 1])
        for c in 0..<3 { for y in 0..<8 { for x in 0..<7 {
            let (row, ry) = (y / 3, y % 3), (col, rx) = (x / 4, x % 4)
            let index = row * 2 + col
            let want: Float = (ry == 2 || rx == 3 || index >= 5) ? 1 : Float(index) / 10
            XCTAssertEqual(grid[c, y, x], want, "(\(c), \(y), \(x))")
        } } }
        let single = try imageGrid([tiles[0]], columns: 4)
        XCTAssertEqual(single, tiles[0])
        let strip = try imageGrid(tiles, columns: 10, padValue: -1)
        XCTAssertEqual(strip.shape, [3, 2, 15])
        assertImageError(.invalidArgument, subject: "images") { _ = try imageGrid([], columns: 2) }
        assertImageError(.invalidArgument, subject: "images", contains: ["image 1"]) {
            _ = try imageGrid([tiles[0], Tensor.zeros([3, 2, 2])], columns: 2)
        }
        assertImageError(.invalidArgument, subject: "columns") { _ = try imageGrid(tiles, columns: 0) }
    }

    func testDescribeImage() throws {
        let rgba = describeImage(try probeImage(path: fixture("rgba8.png")))
        for s in ["PNG 13×7", "4 channels (RGBA)", "8-bit", "non-interlaced", "orientation 1", "composited on white"] {
            XCTAssertTrue(rgba.contains(s), "'\(rgba)' should contain '\(s)'")
        }
        let rotated = describeImage(try probeImage(path: fixture("orient_6.jpg")))
        for s in ["JPEG 24×16", "3 channels (YCbCr)", "baseline", "orientation 6 (rotated 90° clockwise)", "stored as 16×24", "no alpha"] {
            XCTAssertTrue(rotated.contains(s), "'\(rotated)' should contain '\(s)'")
        }
        XCTAssertTrue(describeImage(try probeImage(path: fixture("progressive.jpg"))).contains("progressive"))
        XCTAssertTrue(describeImage(try probeImage(path: fixture("interlaced_rgb8.png"))).contains("interlaced (Adam7)"))
        XCTAssertTrue(describeImage(try probeImage(path: fixture("gray16.png"))).contains("1 channel (gray), 16-bit"))
        XCTAssertFalse(rgba.contains("\n"))
    }
}
