import XCTest
import LatentTensor
import LatentImageIO
import _TestSupport

/// JPEG fixtures are flat colour blocks: the decoded block interiors must show the encoded
/// colours within JPEG's error, and match Pillow's decode of the same file within one level.
final class JPEGDecodingTests: XCTestCase {
    private func load(_ name: String) throws -> LoadedImage { try loadImage(path: fixture(name)) }

    /// 48×32 of 16×16 blocks in `blockColors` (row-major, 3 per row).
    private let blocks16 = expectedImage(width: 48, height: 32) { x, y in
        blockColors[(y / 16) * 3 + x / 16].map { expected($0) }
    }

    /// Pixels at least `margin` away from a block edge (chroma upsampling blends across edges).
    private func interior(_ margin: Int, block: Int = 16) -> (Int, Int) -> Bool {
        { y, x in
            let (by, bx) = (y % block, x % block)
            return by >= margin && by < block - margin && bx >= margin && bx < block - margin
        }
    }

    func testBaselineAndProgressive() throws {
        let b444 = try load("baseline444.jpg")
        XCTAssertEqual(b444.info, ImageInfo(format: .jpeg, width: 48, height: 32, channels: 3, bitDepth: 8, colorType: "YCbCr",
                                            hasAlpha: false, interlaced: false, orientation: 1))
        XCTAssertFalse(b444.compositedAlpha)
        XCTAssertLessThanOrEqual(maxLevelDiff(b444.tensor, blocks16), 2)

        let b420 = try load("baseline420.jpg")
        XCTAssertLessThanOrEqual(maxLevelDiff(b420.tensor, blocks16, include: interior(3)), 4)
        let progressive = try load("progressive.jpg")
        XCTAssertTrue(progressive.info.interlaced)
        XCTAssertTrue(progressive.info.progressive)
        XCTAssertLessThanOrEqual(maxLevelDiff(progressive.tensor, blocks16, include: interior(3)), 4)

        // Pillow decodes with the same libjpeg settings (islow IDCT, fancy upsampling): identical.
        XCTAssertEqual(b420.tensor, try load("baseline420_expected.png").tensor)
        XCTAssertEqual(progressive.tensor, try load("progressive_expected.png").tensor)
    }

    func testGrayscale() throws {
        let gray = try load("gray.jpg")
        XCTAssertEqual(gray.info.channels, 1)
        XCTAssertEqual(gray.info.colorType, "grayscale")
        for y in 0..<32 { for x in 0..<48 {
            XCTAssertEqual(gray.tensor[0, y, x], gray.tensor[1, y, x])
            XCTAssertEqual(gray.tensor[0, y, x], gray.tensor[2, y, x])
        } }
        // ITU-R 601 luma, as Pillow's convert("L") that made the file.
        let luma = expectedImage(width: 48, height: 32) { x, y in
            let c = blockColors[(y / 16) * 3 + x / 16]
            let l = (c[0] * 299 + c[1] * 587 + c[2] * 114 + 500) / 1000
            return Array(repeating: expected(l), count: 3)
        }
        XCTAssertLessThanOrEqual(maxLevelDiff(gray.tensor, luma), 3)
    }

    /// Adobe CMYK (Pillow: inverted CMY, K = 0) and YCCK (ImageMagick's and libjpeg's writers).
    func testCMYKAndYCCK() throws {
        let cmyk = try load("cmyk_pil.jpg")
        XCTAssertEqual(cmyk.info.channels, 4)
        XCTAssertEqual(cmyk.info.colorType, "CMYK (Adobe, inverted)")
        XCTAssertLessThanOrEqual(maxLevelDiff(cmyk.tensor, blocks16), 1)
        for name in ["cmyk_im.jpg", "ycck.jpg"] {
            let ycck = try load(name)
            XCTAssertEqual(ycck.info.colorType, "YCCK (Adobe, inverted)", name)
            XCTAssertEqual(ycck.info.channels, 4, name)
            XCTAssertLessThanOrEqual(maxLevelDiff(ycck.tensor, blocks16), 2, name)
        }
    }

    /// orient_N.jpg stores the upright picture transformed by the inverse of tag N (made and
    /// checked with Pillow's `exif_transpose`): every one must load as the upright picture.
    func testExifOrientations() throws {
        let upright = try load("orient_upright.png").tensor
        XCTAssertEqual(upright.shape, [3, 16, 24])
        for o in 1...8 {
            let image = try load("orient_\(o).jpg")
            XCTAssertEqual(image.info.orientation, o)
            XCTAssertEqual([image.info.width, image.info.height], [24, 16], "orientation \(o)")
            XCTAssertEqual(image.tensor.shape, [3, 16, 24], "orientation \(o)")
            XCTAssertLessThanOrEqual(maxLevelDiff(image.tensor, upright), 2, "orientation \(o)")
        }
        // The picture has no symmetry, so any wrong transform would show: every non-identity
        // orientation of it differs from it by far more than the tolerance.
        for o in [2, 3, 4] {
            XCTAssertGreaterThan(maxLevelDiff(applyExifOrientation(upright, orientation: o), upright), 50, "orientation \(o)")
        }
    }
}
