import XCTest
import LatentTensor
import LatentImageIO
import _TestSupport

final class ImageEncodingTests: XCTestCase {
    private var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-encode-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tempDir)
    }

    /// NVIDIA: `(x * 127.5 + 128).clamp(0, 255).to(uint8)`, i.e. truncation after +128.
    func testQuantizationRule() throws {
        let values: [Float] = [-1, 1, 0, -1.5, 2, 0.5, -0.5, 0.0039, -0.0039, 0.99, -0.999, 1.0 / 127.5, 3.5 / 127.5, -2.5 / 127.5]
        let image = Tensor(shape: [1, 1, values.count], data: values)
        let q = try quantizeToUInt8(image)
        XCTAssertEqual([q.width, q.height, q.channels], [values.count, 1, 1])
        for (i, x) in values.enumerated() {
            XCTAssertEqual(Int(q.samples[i]), Int(min(max((x * 127.5 + 128).rounded(.down), 0), 255)), "x = \(x)")
        }
        XCTAssertEqual(Array(q.samples.prefix(5)), [0, 255, 128, 0, 255])
        // Interleaving: [3, H, W] planes become RGBRGB...
        let rgb = Tensor(shape: [3, 1, 2], data: [-1, 1, 0, 0, 1, -1])
        XCTAssertEqual(try quantizeToUInt8(rgb).samples, [0, 128, 255, 255, 128, 0])
    }

    /// A decoded 8-bit image survives encodePNG → decode bit-exactly (s/127.5 − 1 → s).
    func testPNGRoundTripIsLossless() throws {
        for name in ["rgb8.png", "palette4.png", "interlaced_rgb8.png"] {
            let image = try loadImage(path: fixture(name)).tensor
            let back = try decodeImage(data: try encodePNG(image), name: name)
            XCTAssertEqual(back.tensor, image, name)
            XCTAssertEqual(back.info.colorType, "RGB")
            XCTAssertFalse(back.compositedAlpha)
        }
        let gray = try loadImage(path: fixture("gray8.png")).tensor.slice(0 ..< 1)
        let decoded = try decodeImage(data: try encodePNG(gray), name: "gray")
        XCTAssertEqual(decoded.info.channels, 1)
        XCTAssertEqual(decoded.tensor.row(1), gray.row(0))
        // Batched [1, 3, H, W] is accepted as one image.
        let batched = try loadImage(path: fixture("rgb8.png")).tensor.reshaped([1, 3, 7, 13])
        XCTAssertEqual(try decodeImage(data: try encodePNG(batched), name: "b").tensor.reshaped([1, 3, 7, 13]), batched)
    }

    func testJPEGRoundTrip() throws {
        let blocks = try loadImage(path: fixture("blocks16.png")).tensor
        let q95 = try decodeImage(data: try encodeJPEG(blocks), name: "q95")
        XCTAssertEqual(q95.info.format, .jpeg)
        XCTAssertFalse(q95.info.interlaced)
        XCTAssertLessThanOrEqual(maxLevelDiff(q95.tensor, blocks), 3)
        var rng = TestRNG(seed: 8)
        let noise = rng.tensor([3, 21, 17])
        let q100 = try decodeImage(data: try encodeJPEG(noise, quality: 100), name: "q100").tensor
        let q30 = try decodeImage(data: try encodeJPEG(noise, quality: 30), name: "q30").tensor
        let quantized = try decodeImage(data: try encodePNG(noise), name: "png").tensor
        XCTAssertLessThan(maxLevelDiff(q100, quantized), maxLevelDiff(q30, quantized))
        XCTAssertLessThanOrEqual(maxLevelDiff(q100, quantized), 8)
        let gray = try decodeImage(data: try encodeJPEG(noise.slice(0 ..< 1)), name: "gray")
        XCTAssertEqual(gray.info.channels, 1)
    }

    func testBadInputsThrow() {
        assertImageError(.invalidArgument, subject: "image", contains: ["[2, 4, 4]"]) { _ = try encodePNG(Tensor.zeros([2, 4, 4])) }
        assertImageError(.invalidArgument, subject: "image") { _ = try encodePNG(Tensor.zeros([3, 0, 4])) }
        assertImageError(.invalidArgument, subject: "image") { _ = try encodeJPEG(Tensor.zeros([4, 4])) }
        var nan = Tensor.zeros([3, 2, 2])
        nan[1, 1, 0] = .nan
        assertImageError(.invalidArgument, subject: "image", contains: ["non-finite"]) { _ = try encodePNG(nan) }
        assertImageError(.invalidArgument, subject: "quality", contains: ["1...100"]) {
            _ = try encodeJPEG(Tensor.zeros([3, 2, 2]), quality: 0)
        }
    }

    func testSaveImageChoosesFormatByExtension() throws {
        let image = try loadImage(path: fixture("rgb8.png")).tensor
        for (name, format) in [("a.png", ImageFormat.png), ("nested/dir/b.JPG", .jpeg), ("c.jpeg", .jpeg)] {
            let path = tempDir.appendingPathComponent(name).path
            try saveImage(image, to: path)
            let back = try loadImage(path: path)
            XCTAssertEqual(back.info.format, format, name)
            if format == .png { XCTAssertEqual(back.tensor, image) }
        }
        let bmp = tempDir.appendingPathComponent("d.bmp").path
        assertImageError(.invalidArgument, subject: bmp, contains: ["'bmp'", ".png, .jpg or .jpeg"]) { try saveImage(image, to: bmp) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: bmp))
        // Nothing but the saved files (no temporaries) is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tempDir.path).sorted(), ["a.png", "c.jpeg", "nested"])
    }
}
