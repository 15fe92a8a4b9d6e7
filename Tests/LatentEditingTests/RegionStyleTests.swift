import XCTest
import LatentTensor
import LatentModels
import LatentEditing
import _TestSupport

/// Per-region styles (`translate --region-style`): region parsing and masks from a class map, and
/// the multi-region blend on a tiny random generator (16², numWs 6).
final class RegionStyleTests: XCTestCase {
    func testParsingAndMasks() throws {
        XCTAssertEqual(try SegRegion(parsing: "Wall", classes: 7).classIds, [0])
        XCTAssertEqual(try SegRegion(parsing: "cone", classes: 7).classIds, [6])
        XCTAssertEqual(try SegRegion(parsing: "object", classes: 7).classIds, [3, 4, 5, 6])
        XCTAssertEqual(try SegRegion(parsing: "11", classes: 12).classIds, [11])
        XCTAssertThrowsError(try SegRegion(parsing: "ceiling", classes: 7)) { XCTAssertTrue("\($0)".contains("unknown class")) }
        XCTAssertThrowsError(try SegRegion(parsing: "7", classes: 7)) { XCTAssertTrue("\($0)".contains("0-6")) }
        XCTAssertThrowsError(try SegRegion(parsing: "-1", classes: 7))
        XCTAssertThrowsError(try SegRegion(parsing: "wall", classes: 12)) { XCTAssertTrue("\($0)".contains("class id")) }
        let p = try parseRegionStyleArgument("floor=dir/a=b.png", classes: 7)
        XCTAssertEqual(p.region.classIds, [1]); XCTAssertEqual(p.exemplar, "dir/a=b.png")
        XCTAssertThrowsError(try parseRegionStyleArgument("floor", classes: 7)) { XCTAssertTrue("\($0)".contains("CLASS=IMAGE")) }
        XCTAssertThrowsError(try parseRegionStyleArgument("floor=", classes: 7))
        XCTAssertThrowsError(try parseRegionStyleArgument("=a.png", classes: 7))

        var rng = TestRNG(seed: 3)
        let ids = (0..<25).map { _ in Int(rng.tensor([1], 0, 7).storage[0]) }
        let m = try SegRegion(parsing: "object", classes: 7).mask(mapClassIds: ids, resolution: 5)
        XCTAssertEqual(m.shape, [1, 1, 5, 5])
        XCTAssertEqual(m.storage, ids.map { $0 >= 3 ? 1 : 0 })
        XCTAssertThrowsError(try SegRegion(parsing: "wall", classes: 7).mask(mapClassIds: ids, resolution: 4))
    }

    /// Two regions (left columns 0-5 and a box overlapping it): outside both the output is the
    /// plain synthesis (≥ 45 dB at every blend resolution), inside it differs; with one region it
    /// is `blendedSynthesis`; blended only at 16² the overlap shows the later region's style and
    /// each region alone its own.
    func testRegionsConfinedComposedAndLaterWins() throws {
        let config = StyleGAN2Config(zDim: 4, wDim: 5, imgResolution: 16, imgChannels: 3, mappingLayers: 2, channelBase: 48, channelMax: 6)
        let (g, _) = try tinyRandomGenerator(seed: 21, config: config)
        var rng = TestRNG(seed: 22)
        let ws = rng.tensor([1, g.numWs, g.wDim]), exA = rng.tensor([1, g.numWs, g.wDim]), exB = rng.tensor([1, g.numWs, g.wDim])
        var a = Tensor.zeros([1, 1, 16, 16]), b = Tensor.zeros([1, 1, 16, 16])
        for y in 0..<16 { for x in 0..<16 {
            if x < 6 { a.storage[y * 16 + x] = 1 }
            if (4..<10).contains(y) && (4..<10).contains(x) { b.storage[y * 16 + x] = 1 }
        } }
        let union = Tensor(shape: a.shape, data: zip(a.storage, b.storage).map { max($0, $1) })
        let plain = g.synthesis(ws: ws).row(0)
        let styles = [RegionStyle(mask: a, exemplarWs: exA), RegionStyle(mask: b, exemplarWs: exB)]
        let layers = 0 ..< g.numWs
        for blendRes in g.blendResolutions {
            let out = try renderRegionStyles(generator: g, ws: ws, styles: styles, layers: layers, blendResolution: blendRes).image.row(0)
            let check = try MaskedEdit(mask: union, blendResolution: blendRes, generator: g)
            XCTAssertGreaterThanOrEqual(check.psnrOutside(out, plain), 45, "blend \(blendRes)")
            XCTAssertLessThan(try MaskedEdit(mask: a, blendResolution: blendRes, generator: g).psnrInside(out, plain), 35, "blend \(blendRes)")
            XCTAssertLessThan(try MaskedEdit(mask: b, blendResolution: blendRes, generator: g).psnrInside(out, plain), 35, "blend \(blendRes)")
        }
        // One region = the two-way blend.
        let one = try renderRegionStyles(generator: g, ws: ws, styles: [styles[1]], layers: 2 ..< 4, blendResolution: 8)
        XCTAssertEqual(one.styledWs[0], try exemplarCrossover(ws: ws, exemplarWs: exB, layers: 2 ..< 4))
        let two = g.blendedSynthesis(editedWs: one.styledWs[0], originalWs: ws, mask: b, blendResolution: 8)
        XCTAssertLessThanOrEqual(maxAbsDiff(one.image, two), 1e-5)
        // Later wins: blended at the last block only, each pixel is one path's own image.
        let both = try renderRegionStyles(generator: g, ws: ws, styles: styles, layers: layers, blendResolution: 16).image
        let onlyA = g.synthesis(ws: try exemplarCrossover(ws: ws, exemplarWs: exA, layers: layers))
        let onlyB = g.synthesis(ws: try exemplarCrossover(ws: ws, exemplarWs: exB, layers: layers))
        var overlapChecked = 0
        for c in 0..<3 { for q in 0..<256 {
            let want = b.storage[q] == 1 ? onlyB : a.storage[q] == 1 ? onlyA : plain.reshaped([1, 3, 16, 16])
            XCTAssertEqual(both.storage[c * 256 + q], want.storage[c * 256 + q], accuracy: 1e-5)
            if a.storage[q] == 1 && b.storage[q] == 1 { overlapChecked += 1 }
        } }
        XCTAssertEqual(overlapChecked, 3 * 12)
        XCTAssertThrowsError(try renderRegionStyles(generator: g, ws: ws, styles: [], layers: layers, blendResolution: 8))
        XCTAssertThrowsError(try renderRegionStyles(generator: g, ws: ws, styles: styles, layers: layers, blendResolution: 32))
        XCTAssertThrowsError(try renderRegionStyles(generator: g, ws: ws, styles: [RegionStyle(mask: Tensor.ones([1, 1, 8, 8]), exemplarWs: exA)],
                                                    layers: layers, blendResolution: 8))
        XCTAssertEqual(RegionStyle.defaultLayers(numWs: 10), 4 ..< 10)
    }
}
