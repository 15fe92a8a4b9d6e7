import XCTest
import LatentTensor
import LatentImageIO
import _TestSupport

/// Every PNG colour type and bit depth decodes to the exact values that were encoded.
final class PNGDecodingTests: XCTestCase {
    private func load(_ name: String) throws -> LoadedImage { try loadImage(path: fixture(name)) }

    private let rgb8Expected = expectedImage { x, y in (0..<3).map { expected(p8(x, y, $0)) } }

    func testRGB8() throws {
        let image = try load("rgb8.png")
        XCTAssertEqual(image.info, ImageInfo(format: .png, width: 13, height: 7, channels: 3, bitDepth: 8, colorType: "RGB",
                                             hasAlpha: false, interlaced: false, orientation: 1))
        XCTAssertFalse(image.compositedAlpha)
        // 8-bit samples map to exactly uint8 / 127.5 - 1 in float32.
        XCTAssertEqual(image.tensor, expectedImage { x, y in (0..<3).map { Float(p8(x, y, $0)) / 127.5 - 1 } })
        XCTAssertEqual(image.tensor, rgb8Expected)
    }

    func testRGB16KeepsSixteenBits() throws {
        let image = try load("rgb16.png")
        XCTAssertEqual(image.info.bitDepth, 16)
        assertClose(image.tensor, expectedImage { x, y in (0..<3).map { expected(p16(x, y, $0), max: 65535) } }, atol: 1e-6, rtol: 0)
    }

    func testRGBAIsCompositedOnWhite() throws {
        let image8 = try load("rgba8.png")
        XCTAssertEqual(image8.info.colorType, "RGBA")
        XCTAssertEqual(image8.info.channels, 4)
        XCTAssertTrue(image8.info.hasAlpha)
        XCTAssertTrue(image8.compositedAlpha)
        assertClose(image8.tensor, expectedImage { x, y in (0..<3).map { expected(p8(x, y, $0), alpha: alpha8(x, y)) } },
                    atol: 1e-6, rtol: 0)
        let image16 = try load("rgba16.png")
        assertClose(image16.tensor, expectedImage { x, y in
            (0..<3).map { expected(p16(x, y, $0), alpha: alpha16(x, y), max: 65535) }
        }, atol: 1e-6, rtol: 0)
    }

    func testGrayDepths() throws {
        let g8 = try load("gray8.png")
        XCTAssertEqual(g8.info.channels, 1)
        XCTAssertEqual(g8.info.colorType, "gray")
        XCTAssertEqual(g8.tensor, expectedImage { x, y in Array(repeating: expected(gray8(x, y)), count: 3) })
        let g16 = try load("gray16.png")
        assertClose(g16.tensor, expectedImage { x, y in Array(repeating: expected(p16(x, y, 0), max: 65535), count: 3) },
                    atol: 1e-6, rtol: 0)
        let g1 = try load("gray1.png")
        XCTAssertEqual(g1.info.bitDepth, 1)
        XCTAssertEqual(g1.tensor, expectedImage { x, y in Array(repeating: (x + y) % 2 == 1 ? 1 : -1, count: 3) })
        let g4 = try load("gray4.png")
        XCTAssertEqual(g4.info.bitDepth, 4)
        XCTAssertEqual(g4.tensor, expectedImage { x, y in Array(repeating: expected(((x + 2 * y) % 16) * 17), count: 3) })
    }

    func testGrayAlpha() throws {
        let ga8 = try load("graya8.png")
        XCTAssertEqual(ga8.info.colorType, "gray+alpha")
        XCTAssertEqual(ga8.info.channels, 2)
        XCTAssertTrue(ga8.compositedAlpha)
        assertClose(ga8.tensor, expectedImage { x, y in Array(repeating: expected(gray8(x, y), alpha: alpha8(x, y)), count: 3) },
                    atol: 1e-6, rtol: 0)
        let ga16 = try load("graya16.png")
        assertClose(ga16.tensor, expectedImage { x, y in
            Array(repeating: expected(p16(x, y, 0), alpha: alpha16(x, y), max: 65535), count: 3)
        }, atol: 1e-6, rtol: 0)
    }

    func testPaletteWithTRNS() throws {
        let image = try load("palette8_trns.png")
        XCTAssertEqual(image.info.colorType, "palette+tRNS")
        XCTAssertEqual(image.info.channels, 1)
        XCTAssertTrue(image.compositedAlpha)
        assertClose(image.tensor, expectedImage { x, y in
            let i = paletteIndex(x, y, 20)
            let a = i < paletteAlpha.count ? paletteAlpha[i] : 255
            return (0..<3).map { expected(palette[i][$0], alpha: a) }
        }, atol: 1e-6, rtol: 0)

        let p4 = try load("palette4.png")
        XCTAssertEqual(p4.info.colorType, "palette")
        XCTAssertFalse(p4.compositedAlpha)
        XCTAssertEqual(p4.tensor, expectedImage { x, y in (0..<3).map { expected(palette[paletteIndex(x, y, 16)][$0]) } })
    }

    func testTRNSColorKeys() throws {
        let gray = try load("gray8_trns.png")
        XCTAssertEqual(gray.info.colorType, "gray+tRNS")
        XCTAssertTrue(gray.compositedAlpha)
        XCTAssertEqual(gray.tensor, expectedImage { x, y in
            Array(repeating: gray8(x, y) == 53 ? 1 : expected(gray8(x, y)), count: 3)
        })
        XCTAssertEqual(gray.tensor[0, 1, 0], 1, "the keyed gray value must become white")

        let rgb = try load("rgb8_trns.png")
        XCTAssertEqual(rgb.info.colorType, "RGB+tRNS")
        let key = (0..<3).map { p8(2, 3, $0) }
        XCTAssertEqual(rgb.tensor, expectedImage { x, y in
            let px = (0..<3).map { p8(x, y, $0) }
            return px == key ? [1, 1, 1] : px.map { expected($0) }
        })
    }

    func testInterlacedMatchesProgressiveOrder() throws {
        let plain = try load("rgb8.png"), adam7 = try load("interlaced_rgb8.png")
        XCTAssertTrue(adam7.info.interlaced)
        XCTAssertFalse(plain.info.interlaced)
        XCTAssertEqual(adam7.tensor, plain.tensor)
        XCTAssertEqual(try load("interlaced_graya16.png").tensor, try load("graya16.png").tensor)
        let p2 = try load("interlaced_palette2.png")
        XCTAssertEqual(p2.info.bitDepth, 2)
        assertClose(p2.tensor, expectedImage { x, y in
            let i = paletteIndex(x, y, 4)
            return (0..<3).map { expected(palette[i][$0], alpha: i < 3 ? paletteAlpha[i] : 255) }
        }, atol: 1e-6, rtol: 0)
    }

    /// eXIf orientation in PNG: 6 (before IDAT, big-endian TIFF) and 8 (after IDAT).
    func testExifOrientationInPNG() throws {
        let six = try load("exif6.png")
        XCTAssertEqual(six.info.orientation, 6)
        XCTAssertEqual([six.info.width, six.info.height], [7, 13])
        XCTAssertEqual(six.tensor.shape, [3, 13, 7])
        // Rotated 90° clockwise: the stored bottom-left pixel is shown top-left.
        XCTAssertEqual(six.tensor, expectedImage(width: 7, height: 13) { x, y in
            (0..<3).map { expected(p8(y, fixtureHeight - 1 - x, $0)) }
        })
        let eight = try load("exif8_late.png")
        XCTAssertEqual(eight.info.orientation, 8)
        XCTAssertEqual(eight.tensor, expectedImage(width: 7, height: 13) { x, y in
            (0..<3).map { expected(p8(fixtureWidth - 1 - y, x, $0)) }
        })
        // The header alone cannot see an eXIf chunk that follows the image data.
        XCTAssertEqual(try probeImage(path: fixture("exif8_late.png")).orientation, 1)
        XCTAssertEqual(try probeImage(path: fixture("exif6.png")).orientation, 6)
    }

    func testProbeMatchesDecode() throws {
        for name in ["rgb8.png", "rgba16.png", "graya8.png", "palette8_trns.png", "interlaced_rgb8.png", "exif6.png",
                     "baseline420.jpg", "progressive.jpg", "gray.jpg", "cmyk_pil.jpg", "ycck.jpg", "orient_6.jpg"] {
            XCTAssertEqual(try probeImage(path: fixture(name)), try load(name).info, name)
        }
    }

    func testDecodeFromMemoryUsesName() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("rgb8.png")))
        XCTAssertEqual(try decodeImage(data: data, name: "in-memory").tensor, rgb8Expected)
        assertImageError(.truncated, subject: "cut.png", contains: ["truncated PNG"]) {
            _ = try decodeImage(data: data.prefix(100), name: "cut.png")
        }
    }

    /// `applyExifOrientation` against its definition by index arithmetic on a tiny image.
    func testApplyExifOrientationDefinition() {
        let t = Tensor(shape: [1, 2, 3], data: [1, 2, 3, 4, 5, 6])  // rows [1 2 3], [4 5 6]
        let want: [Int: (shape: [Int], data: [Float])] = [
            1: ([1, 2, 3], [1, 2, 3, 4, 5, 6]), 2: ([1, 2, 3], [3, 2, 1, 6, 5, 4]),
            3: ([1, 2, 3], [6, 5, 4, 3, 2, 1]), 4: ([1, 2, 3], [4, 5, 6, 1, 2, 3]),
            5: ([1, 3, 2], [1, 4, 2, 5, 3, 6]), 6: ([1, 3, 2], [4, 1, 5, 2, 6, 3]),
            7: ([1, 3, 2], [6, 3, 5, 2, 4, 1]), 8: ([1, 3, 2], [3, 6, 2, 5, 1, 4]),
            0: ([1, 2, 3], [1, 2, 3, 4, 5, 6]), 9: ([1, 2, 3], [1, 2, 3, 4, 5, 6]),
        ]
        for (o, w) in want {
            XCTAssertEqual(applyExifOrientation(t, orientation: o), Tensor(shape: w.shape, data: w.data), "orientation \(o)")
        }
    }
}
