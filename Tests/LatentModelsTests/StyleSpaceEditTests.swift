import XCTest
import LatentTensor
import LatentModels
import _TestSupport

/// `StyleSpaceEdit` (channel-level style changes in the synthesis) and its lowering to W+
/// (`ws(applying:to:)`) on tiny random generators.
final class StyleSpaceEditTests: XCTestCase {
    /// Rows feed at most 5 + 5 style channels, fewer than wDim 12: the lowering is exact.
    let wide = StyleGAN2Config(zDim: 4, wDim: 12, imgResolution: 16, imgChannels: 3, mappingLayers: 2,
                               channelBase: 48, channelMax: 5)
    /// wDim 4 < the 5 + 5 channels of a ToRGB + conv row: least squares.
    let narrow = StyleGAN2Config(zDim: 4, wDim: 4, imgResolution: 8, imgChannels: 3, mappingLayers: 2,
                                 channelBase: 48, channelMax: 5)

    func allChannels(_ g: StyleGAN2Generator) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: g.styleLayers.map { ($0.name, Array(0..<$0.channels)) })
    }

    func testEveryChannelToAnotherLatentsStylesRendersThatLatent() throws {
        let (g, _) = try tinyRandomGenerator(seed: 71, config: wide)
        var rng = TestRNG(seed: 72)
        let a = rng.tensor([2, g.numWs, g.wDim], -1.5, 1.5), b = rng.tensor([2, g.numWs, g.wDim], -1.5, 1.5)
        let imgA = g.synthesis(ws: a), imgB = g.synthesis(ws: b)
        XCTAssertGreaterThan(maxAbsDiff(imgA, imgB), 0.1)
        // Layer names and widths follow the synthesis order and `styles(ws:)`.
        XCTAssertEqual(g.styleLayers.map(\.name), ["b4.conv1", "b4.torgb", "b8.conv0", "b8.conv1", "b8.torgb",
                                                   "b16.conv0", "b16.conv1", "b16.torgb"])
        XCTAssertEqual(Set(g.styleLayers.map(\.name)), Set(g.styles(ws: a).keys))
        let all = StyleSpaceEdit(targets: g.styles(ws: b), channels: allChannels(g))
        assertClose(g.synthesis(ws: a, styleEdit: all), imgB, atol: 1e-5, rtol: 1e-5, "all channels = the other latent")
        // alpha 0 and an empty set change nothing; a broadcast target (batch 1) works per sample.
        var none = all; none.alpha = 0
        assertClose(g.synthesis(ws: a, styleEdit: none), imgA, atol: 1e-6, rtol: 1e-6, "alpha 0")
        assertClose(g.synthesis(ws: a, styleEdit: StyleSpaceEdit(targets: g.styles(ws: b), channels: [:])), imgA,
                    atol: 1e-6, rtol: 1e-6, "no channels")
        let one = StyleSpaceEdit(targets: g.styles(ws: b.slice(1 ..< 2)), channels: allChannels(g))
        assertClose(g.synthesis(ws: a, styleEdit: one), g.synthesis(ws: Tensor.concatenate([b.slice(1 ..< 2), b.slice(1 ..< 2)])),
                    atol: 1e-5, rtol: 1e-5, "broadcast target")
        // Half-way in style space differs from both ends.
        var half = all; half.alpha = 0.5
        let mid = g.synthesis(ws: a, styleEdit: half)
        XCTAssertGreaterThan(maxAbsDiff(mid, imgA), 1e-3); XCTAssertGreaterThan(maxAbsDiff(mid, imgB), 1e-3)
    }

    func testLoweringToWsIsExactWhenRowsHaveFewerChannelsThanWDim() throws {
        let (g, _) = try tinyRandomGenerator(seed: 73, config: wide)
        var rng = TestRNG(seed: 74)
        let a = rng.tensor([2, g.numWs, g.wDim], -1.5, 1.5), b = rng.tensor([1, g.numWs, g.wDim], -1.5, 1.5)
        // A few channels of a conv row, a ToRGB + conv row and the last ToRGB.
        let edit = StyleSpaceEdit(targets: g.styles(ws: b), channels: ["b8.conv1": [0, 3], "b8.torgb": [1, 2, 4], "b16.conv0": [2],
                                                                        "b16.torgb": [0]], alpha: 0.8)
        let direct = g.synthesis(ws: a, styleEdit: edit)
        XCTAssertGreaterThan(maxAbsDiff(direct, g.synthesis(ws: a)), 1e-3, "the edit must change the image")
        let (lowered, residual) = try g.ws(applying: edit, to: a)
        XCTAssertLessThan(residual, 1e-4)
        assertClose(g.synthesis(ws: lowered), direct, atol: 2e-5, rtol: 2e-5, "lowered = direct")
        // Exactly the moved channels changed: every other style channel keeps its value.
        let before = g.styles(ws: a), after = g.styles(ws: lowered)
        for layer in g.styleLayers {
            let moved = Set(edit.channels[layer.name] ?? [])
            for s in 0..<2 { for c in 0..<layer.channels where !moved.contains(c) {
                XCTAssertEqual(after[layer.name]![s, c], before[layer.name]![s, c], accuracy: 2e-5, "\(layer.name) #\(c) moved")
            } }
        }
        // Rows no layer of the edit reads are untouched, bit for bit.
        for s in 0..<2 { for j in 0..<g.wDim {
            XCTAssertEqual(lowered[s, 0, j], a[s, 0, j]); XCTAssertEqual(lowered[s, 1, j], a[s, 1, j])
        } }
    }

    func testLoweringIsLeastSquaresWhenRowsHaveMoreChannelsThanWDim() throws {
        let (g, _) = try tinyRandomGenerator(seed: 75, config: narrow)
        var rng = TestRNG(seed: 76)
        let a = rng.tensor([1, g.numWs, g.wDim], -1.5, 1.5), b = rng.tensor([1, g.numWs, g.wDim], -1.5, 1.5)
        // Row 1 feeds b4.torgb and b8.conv0, 10 channels through a rank-4 map; moving some of
        // them and holding the rest asks for more than any Δw of that row can do.
        let edit = StyleSpaceEdit(targets: g.styles(ws: b), channels: ["b4.torgb": [0, 1, 2, 3, 4], "b8.conv0": [0, 1]])
        let (lowered, residual) = try g.ws(applying: edit, to: a)
        XCTAssertGreaterThan(residual, 1e-3)
        // The wanted styles of the row's layers: the targets on moved channels, the own elsewhere.
        var wanted = g.styles(ws: a)
        for (name, list) in edit.channels { for c in list { wanted[name]!.storage[c] = edit.targets[name]![0, c] } }
        /// Squared distance of ws's styles on row 1's layers to the wanted ones.
        func error(_ ws: Tensor) -> Double {
            let st = g.styles(ws: ws)
            var e = 0.0
            for name in ["b4.torgb", "b8.conv0"] { for c in 0..<wanted[name]!.shape[1] {
                let d = Double(st[name]![0, c]) - Double(wanted[name]![0, c]); e += d * d
            } }
            return e
        }
        // No nearby Δw does better (the least-squares optimum: the error's gradient is 0).
        let best = error(lowered)
        for j in 0..<g.wDim {
            for step: Float in [-1e-2, 1e-2] {
                var probe = lowered
                probe.storage[1 * g.wDim + j] += step
                XCTAssertGreaterThanOrEqual(error(probe), best - 1e-6, "a step along w[\(j)] must not do better")
            }
        }
    }
}
