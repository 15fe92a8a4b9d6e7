import XCTest
import LatentTensor
import LatentImageIO
import _TestSupport

/// Labels above strip images: the image is kept below a white band holding the glyphs in black.
final class ImageLabelsTests: XCTestCase {
    func testLabelBandAndGlyphs() {
        var rng = TestRNG(seed: 4)
        let img = rng.tensor([3, 9, 11])
        let out = labelled(img, "1")
        XCTAssertEqual(out.shape, [3, 9 + labelBandHeight, 11])
        for c in 0..<3 { for y in 0..<9 { for x in 0..<11 { XCTAssertEqual(out[c, y + labelBandHeight, x], img[c, y, x]) } } }
        // "1" (rows 010 110 010 010 111) centred: one glyph of width 3 in 11 columns starts at x = 4.
        let expected: [[Float]] = [[0, 1, 0], [1, 1, 0], [0, 1, 0], [0, 1, 0], [1, 1, 1]]
        for c in 0..<3 { for y in 0..<labelBandHeight { for x in 0..<11 {
            let inGlyph = (1...5).contains(y) && (4...6).contains(x) && expected[y - 1][x - 4] == 1
            XCTAssertEqual(out[c, y, x], inGlyph ? -1 : 1, "c \(c) y \(y) x \(x)")
        } } }
        // Too long for the width: cut, never drawn outside the image; unknown characters are blanks.
        XCTAssertEqual(labelled(img, "+1.50 ORIGINAL ~~~").shape, [3, 16, 11])
    }
}
