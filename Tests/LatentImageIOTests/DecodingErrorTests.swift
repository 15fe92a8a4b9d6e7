import XCTest
import LatentTensor
import LatentImageIO
import _TestSupport

/// Damaged, empty, unknown and oversized inputs throw one-line errors naming the file; none
/// crashes or yields an image.
final class DecodingErrorTests: XCTestCase {
    private func assertLoadFails(_ name: String, _ kind: ImageError.Kind, _ contains: [String] = [],
                                 file: StaticString = #filePath, line: UInt = #line) {
        let path = fixture(name)
        assertImageError(kind, subject: path, contains: contains, file: file, line: line) {
            _ = try loadImage(path: path)
        }
    }

    func testTruncatedPNG() {
        assertLoadFails("truncated.png", .truncated, ["truncated PNG data"])
        // All pixel rows present but no IEND: still a cut file.
        assertLoadFails("truncated_no_iend.png", .truncated, ["truncated PNG data"])
    }

    func testCorruptPNG() {
        // The flipped byte breaks the inflated rows before libpng reaches the IDAT CRC.
        assertLoadFails("corrupt_crc.png", .corrupt, ["corrupt PNG data"])
        assertLoadFails("corrupt_zlib.png", .corrupt, ["corrupt PNG data"])
        assertLoadFails("bad_ihdr_crc.png", .corrupt, ["IHDR", "CRC"])
    }

    /// IHDR says 60000×60000 with a valid CRC: refused from the header, before allocation.
    func testPixelLimit() throws {
        assertLoadFails("huge_header.png", .tooLarge, ["60000×60000", "3600000000 pixels", "100000000 (maxPixels)"])
        let info = try probeImage(path: fixture("huge_header.png"))
        XCTAssertEqual([info.width, info.height], [60000, 60000])
        let path = fixture("rgb8.png")
        assertImageError(.tooLarge, subject: path, contains: ["13×7 = 91 pixels", "limit of 90"]) {
            _ = try loadImage(path: path, maxPixels: 90)
        }
        XCTAssertNoThrow(try loadImage(path: path, maxPixels: 91))
        let jpeg = fixture("baseline444.jpg")
        assertImageError(.tooLarge, subject: jpeg, contains: ["48×32"]) { _ = try loadImage(path: jpeg, maxPixels: 1000) }
        assertImageError(.invalidArgument, subject: path, contains: ["maxPixels"]) { _ = try loadImage(path: path, maxPixels: 0) }
    }

    /// libjpeg only warns on missing data and fills with grey; we must refuse instead.
    func testTruncatedJPEG() {
        assertLoadFails("truncated.jpg", .truncated, ["truncated JPEG data", "Premature end of JPEG file"])
        assertLoadFails("truncated_progressive.jpg", .truncated, ["truncated JPEG data"])
        assertLoadFails("no_eoi.jpg", .truncated, ["Premature end of JPEG file"])
    }

    func testCorruptJPEG() {
        assertLoadFails("corrupt_scan.jpg", .corrupt, ["corrupt JPEG data: premature end of data segment"])
        assertLoadFails("corrupt_header.jpg", .corrupt, ["corrupt JPEG data"])
    }

    func testEmptyUnknownAndMissing() {
        assertLoadFails("empty.png", .empty, ["empty file"])
        assertLoadFails("text.png", .unknownFormat, ["not a PNG or JPEG file", "54 68 69 73"])
        assertLoadFails("garbage.bin", .unknownFormat, ["not a PNG or JPEG file"])
        assertLoadFails("tiny.gif", .unknownFormat, ["GIF"])
        assertLoadFails("no-such-file.png", .unreadable, ["no such file"])
        let directory = fixture("")
        assertImageError(.unreadable, subject: directory, contains: ["is a folder"]) { _ = try loadImage(path: directory) }
        assertImageError(.empty, subject: "probe.png") { _ = try probeImage(data: Data(), name: "probe.png") }
        assertImageError(.unknownFormat, subject: fixture("text.png")) { _ = try probeImage(path: fixture("text.png")) }
    }

    /// The format comes from the bytes: a JPEG named .png and a PNG named .jpg load fine.
    func testFormatFromBytesNotExtension() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-imageio-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let jpegAsPNG = dir.appendingPathComponent("really-a-jpeg.png")
        let pngAsJPG = dir.appendingPathComponent("really-a-png.jpg")
        try FileManager.default.copyItem(atPath: fixture("baseline444.jpg"), toPath: jpegAsPNG.path)
        try FileManager.default.copyItem(atPath: fixture("rgb8.png"), toPath: pngAsJPG.path)
        XCTAssertEqual(try loadImage(path: jpegAsPNG.path).info.format, .jpeg)
        XCTAssertEqual(try loadImage(path: pngAsJPG.path).info.format, .png)
    }

    /// Every prefix of a valid file either fails cleanly or (only for the complete file) loads.
    func testEveryTruncationFailsCleanly() throws {
        for name in ["interlaced_rgb8.png", "progressive.jpg"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
            for n in stride(from: 0, to: data.count, by: 7) {
                XCTAssertThrowsError(try decodeImage(data: data.prefix(n), name: "\(name)[..<\(n)]"), "\(name) cut at \(n)") { error in
                    XCTAssertTrue(error is ImageError)
                }
            }
            XCTAssertNoThrow(try decodeImage(data: data, name: name))
        }
    }
}
