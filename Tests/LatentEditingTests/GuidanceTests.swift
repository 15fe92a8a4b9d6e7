import Foundation
import XCTest
import LatentTensor
import LatentCore
import LatentModels
import LatentEditing
import _TestSupport

/// Layer presets, exemplar crossover, layer resampling, the diversity protocol and the masked
/// edit's checks, on small shapes.
final class GuidanceTests: XCTestCase {
    func testPresetsCoverEveryNumWs() throws {
        XCTAssertEqual(LayerPreset.coarse.range(numWs: 18), 0 ..< 4)
        XCTAssertEqual(LayerPreset.middle.range(numWs: 18), 4 ..< 8)
        XCTAssertEqual(LayerPreset.fine.range(numWs: 18), 8 ..< 18)
        XCTAssertEqual(LayerPreset.fine.range(numWs: 10), 8 ..< 10)
        for numWs in [4, 6, 8] {
            let parts = LayerPreset.allCases.map { $0.range(numWs: numWs) }
            XCTAssertEqual(parts.map(\.count).reduce(0, +), numWs)
            XCTAssertTrue(parts.allSatisfy { !$0.isEmpty })
            XCTAssertEqual(parts[0].lowerBound, 0); XCTAssertEqual(parts[1].lowerBound, parts[0].upperBound)
            XCTAssertEqual(parts[2].upperBound, numWs)
        }
        XCTAssertEqual(try parseLayerSelection("Middle", numWs: 10), 4 ..< 8)
        XCTAssertEqual(try parseLayerSelection("2-5", numWs: 10), 2 ..< 6)
        XCTAssertThrowsError(try parseLayerSelection("thin", numWs: 10)) { XCTAssertTrue("\($0)".contains("coarse, middle, fine")) }
    }

    func testCrossoverNaive() throws {
        var rng = TestRNG(seed: 5)
        let ws = rng.tensor([2, 5, 3]), ex = rng.tensor([1, 5, 3])
        let out = try exemplarCrossover(ws: ws, exemplarWs: ex, layers: 1 ..< 3, alpha: 0.25)
        for s in 0..<2 { for r in 0..<5 { for j in 0..<3 {
            let want = (1 ..< 3).contains(r) ? 0.75 * Double(ws[s, r, j]) + 0.25 * Double(ex[0, r, j]) : Double(ws[s, r, j])
            XCTAssertEqual(Double(out[s, r, j]), want, accuracy: 1e-6)
        } } }
        XCTAssertThrowsError(try exemplarCrossover(ws: ws, exemplarWs: rng.tensor([1, 4, 3]), layers: 0 ..< 1)) {
            XCTAssertTrue("\($0)".contains("another generator"))
        }
    }

    func testConsecutivePairDiversity() {
        // 20 samples → 19 pairs; distances |i − j| · k.
        let d = consecutivePairDiversity(count: 20) { i, j in Double(abs(i - j)) * Double(i + 1) }
        XCTAssertEqual(d, Double((1...19).reduce(0, +)) / 19, accuracy: 1e-12)
        XCTAssertEqual(pixelL1Distance(Tensor(shape: [1, 1, 2], data: [-1, 1]), Tensor(shape: [1, 1, 2], data: [1, 1])), 0.5)
        XCTAssertEqual(cosineDistance([1, 0], [0, 2]), 1, accuracy: 1e-12)
        XCTAssertEqual(cosineDistance([1, 1], [2, 2]), 0, accuracy: 1e-12)
    }

    func testResampleLayersKeepsTheRest() throws {
        let config = StyleGAN2Config(zDim: 4, wDim: 5, imgResolution: 8, imgChannels: 3, mappingLayers: 2, channelBase: 24, channelMax: 5)
        let (g, _) = try tinyRandomGenerator(seed: 7, config: config)
        var rng = TestRNG(seed: 8)
        let ws = rng.tensor([1, g.numWs, g.wDim])
        let out = try resampleLayers(generator: g, ws: ws, layers: 2 ..< 4, seeds: [3, 4, 5])
        let fresh = g.mapping(z: zFromSeeds([3, 4, 5], zDim: 4))
        for s in 0..<3 { for r in 0..<g.numWs { for j in 0..<g.wDim {
            XCTAssertEqual(out[s, r, j], (2 ..< 4).contains(r) ? fresh[s, r, j] : ws[0, r, j])
        } } }
    }

    func testMaskedEditChecksAndRegionPSNR() throws {
        let config = StyleGAN2Config(zDim: 4, wDim: 5, imgResolution: 8, imgChannels: 3, mappingLayers: 2, channelBase: 24, channelMax: 5)
        let (g, _) = try tinyRandomGenerator(seed: 9, config: config)
        XCTAssertThrowsError(try MaskedEdit(mask: Tensor.ones([1, 1, 4, 4]), blendResolution: 4, generator: g))
        XCTAssertThrowsError(try MaskedEdit(mask: Tensor.ones([1, 1, 8, 8]), blendResolution: 16, generator: g))
        var mask = Tensor.zeros([1, 1, 8, 8])
        for q in 32..<64 { mask.storage[q] = 1 }
        let m = try MaskedEdit(mask: mask, blendResolution: 4, generator: g)
        var a = Tensor.zeros([3, 8, 8]); let b = Tensor.zeros([3, 8, 8])
        for c in 0..<3 { for q in 32..<64 { a.storage[c * 64 + q] = 0.2 } }   // differs inside only
        XCTAssertEqual(m.psnrOutside(a, b), 120, accuracy: 1e-9)
        XCTAssertEqual(m.psnrInside(a, b), 20, accuracy: 1e-5)   // |Δ| = 0.1 on [0, 1]
        // Feathered: the outside (mask 0) is still exactly the original, the PSNR is over the mask as given.
        var rng = TestRNG(seed: 10)
        let ws = rng.tensor([1, g.numWs, g.wDim]), edited = rng.tensor([1, g.numWs, g.wDim])
        let f = try MaskedEdit(mask: mask, blendResolution: 4, feather: 1, generator: g)
        XCTAssertEqual(f.mask, mask)
        XCTAssertLessThan(f.blendMask.storage[32], 0.5)
        let img = f.render(generator: g, editedWs: edited, originalWs: ws, noise: nil).row(0), orig = g.synthesis(ws: ws).row(0)
        XCTAssertEqual(f.psnrOutside(img, orig), 120, accuracy: 1e-9)
        XCTAssertLessThan(f.psnrInside(img, orig), 60)
        XCTAssertThrowsError(try MaskedEdit(mask: mask, blendResolution: 4, feather: -1, generator: g))
        XCTAssertEqual(MaskedEdit.defaultBlendResolution(imageResolution: 64), 16)
        XCTAssertEqual(MaskedEdit.defaultBlendResolution(imageResolution: 8), 8)
    }
}

/// Mask feathering (LatentCore) against a naive 2-D Gaussian with replicated edges.
final class MaskFeatheringTests: XCTestCase {
    func testBlurMatchesNaiveAndFeatherStaysInside() {
        var rng = TestRNG(seed: 12)
        let (h, w, sigma) = (7, 9, 1.3)
        let mask = Tensor(shape: [2, 1, h, w], data: rng.tensor([2 * h * w], 0, 1).storage.map { $0 > 0.5 ? 1 : 0 })
        let blurred = gaussianBlurredMask(mask, sigma: sigma)
        let radius = Int((3 * sigma).rounded(.up))
        let k = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = k.reduce(0, +)
        for s in 0..<2 { for y in 0..<h { for x in 0..<w {
            var acc = 0.0
            for dy in -radius...radius { for dx in -radius...radius {
                let yy = min(max(y + dy, 0), h - 1), xx = min(max(x + dx, 0), w - 1)
                acc += k[dy + radius] * k[dx + radius] / (total * total) * Double(mask.storage[(s * h + yy) * w + xx])
            } }
            XCTAssertEqual(Double(blurred.storage[(s * h + y) * w + x]), acc, accuracy: 1e-6)
        } } }
        let f = inwardFeatheredMask(mask, sigma: sigma)
        for q in 0..<mask.count {
            if mask.storage[q] == 0 { XCTAssertEqual(f.storage[q], 0) }
            XCTAssertLessThanOrEqual(f.storage[q], mask.storage[q])
            XCTAssertGreaterThanOrEqual(f.storage[q], 0)
        }
        // A half-plane: 0 outside, a ramp from the edge, 1 deep inside.
        var half = Tensor.zeros([1, 1, 1, 16])
        for x in 8..<16 { half.storage[x] = 1 }
        let ramp = inwardFeatheredMask(half, sigma: 1)
        XCTAssertEqual(Array(ramp.storage[0..<8]), [Float](repeating: 0, count: 8))
        XCTAssertLessThan(ramp.storage[8], 0.5)
        for x in 9..<16 { XCTAssertGreaterThanOrEqual(ramp.storage[x], ramp.storage[x - 1]) }
        XCTAssertEqual(ramp.storage[15], 1, accuracy: 1e-6)
        XCTAssertEqual(inwardFeatheredMask(half, sigma: 0), half)
    }
}

/// Named scene regions on a drawn scene: wall rows 0-9 one colour, floor rows 10-15 another, a
/// 3×4 object of a third colour standing on the horizon, its shadow below it.
final class SceneRegionTests: XCTestCase {
    func testRegionsOfADrawnScene() {
        let (h, w) = (16, 12)
        var img = Tensor.zeros([3, h, w])
        let wall: [Float] = [0.6, -0.2, 0.1], floor: [Float] = [-0.4, 0.5, -0.3], obj: [Float] = [-0.9, -0.9, 0.9]
        for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            let inObject = (8..<12).contains(y) && (5..<8).contains(x)
            img.storage[c * h * w + y * w + x] = inObject ? obj[c] : (y < 10 ? wall[c] : floor[c])
            // The object's cast shadow: the floor at 0.6 of its brightness, same chromaticity; floor, not object.
            if y == 12 && (4..<9).contains(x) { img.storage[c * h * w + y * w + x] = ((floor[c] + 1) / 2 * 0.6) * 2 - 1 }
        } } }
        let o = SceneRegion.object.mask(image: img), wa = SceneRegion.wall.mask(image: img), f = SceneRegion.floor.mask(image: img)
        for y in 0..<h { for x in 0..<w {
            let q = y * w + x
            let inObject = (8..<12).contains(y) && (5..<8).contains(x)
            let grown = inObject || [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)].contains { (8..<12).contains($0.0) && (5..<8).contains($0.1) }
            XCTAssertEqual(o.storage[q], grown ? 1 : 0, "object \(y),\(x)")
            // The object's one-pixel rim belongs to it and to the wall or floor around it.
            XCTAssertEqual(wa.storage[q], !inObject && y < 10 ? 1 : 0, "wall \(y),\(x)")
            XCTAssertEqual(f.storage[q], !inObject && y >= 10 ? 1 : 0, "floor \(y),\(x)")
        } }
        // A plain image has no object.
        XCTAssertEqual(SceneRegion.object.mask(image: Tensor.zeros([3, 8, 8])).storage.reduce(0, +), 0)
    }
}

/// `StyleChannelSet` files and `exemplarStyleTransfer` on a tiny generator.
final class StyleChannelTransferTests: XCTestCase {
    let config = StyleGAN2Config(zDim: 4, wDim: 12, imgResolution: 16, imgChannels: 3, mappingLayers: 2, channelBase: 48, channelMax: 5)

    func testSetRoundTripAndChecks() throws {
        let (g, _) = try tinyRandomGenerator(seed: 81, config: config)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stylechannels-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let set = StyleChannelSet(name: "colour", generatorFingerprint: g.fingerprint, channels: ["b8.torgb": [3, 1], "b16.conv0": [0]],
                                  provenance: ["method": "test"])
        XCTAssertEqual(set.channels["b8.torgb"], [1, 3], "channels are kept sorted")
        XCTAssertEqual(set.count, 3)
        try set.write(to: dir + "/s.json")
        let back = try StyleChannelSet(path: dir + "/s.json")
        XCTAssertEqual(back, set)
        XCTAssertNil(try back.check(against: g))
        var other = set; other.generatorFingerprint = "0123"
        XCTAssertTrue(try other.check(against: g)?.contains("found for generator 0123") == true)
        for (bad, message) in [(["b32.torgb": [0]], "no layer b32.torgb"), (["b8.torgb": [5]], "channel 5 of b8.torgb is outside 0-4"),
                               ([:], "holds no channels")] as [([String: [Int]], String)] {
            XCTAssertThrowsError(try StyleChannelSet(name: "x", generatorFingerprint: g.fingerprint, channels: bad).check(against: g)) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
        for (text, message) in [("{\"format\": \"latentlab-directions\"}", "not a style-channel set"), ("not json", "not a style-channel set"),
                                ("{\"format\": \"latentlab-style-channels\", \"name\": \"x\"}", "needs \"name\", \"generator\" and \"channels\""),
                                ("{\"format\": \"latentlab-style-channels\", \"name\": \"x\", \"generator\": \"g\", \"channels\": {\"b8.torgb\": [1.5]}}",
                                 "must be a list of integers")] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
            XCTAssertThrowsError(try StyleChannelSet(path: dir + "/bad.json")) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
    }

    /// The set's channels take the exemplar's styles (alpha interpolates), every other channel
    /// keeps the latent's own; mismatched latents are refused.
    func testTransferMovesExactlyTheSetsChannels() throws {
        let (g, _) = try tinyRandomGenerator(seed: 82, config: config)
        var rng = TestRNG(seed: 83)
        let ws = rng.tensor([2, g.numWs, g.wDim], -1.5, 1.5), ex = rng.tensor([1, g.numWs, g.wDim], -1.5, 1.5)
        let set = StyleChannelSet(name: "c", generatorFingerprint: g.fingerprint, channels: ["b4.torgb": [0, 2], "b8.conv0": [1], "b16.torgb": [2]])
        for alpha: Float in [1, 0.5] {
            let (out, residual) = try exemplarStyleTransfer(generator: g, ws: ws, exemplarWs: ex, channels: set, alpha: alpha)
            XCTAssertLessThan(residual, 1e-4)
            let own = g.styles(ws: ws), target = g.styles(ws: ex), got = g.styles(ws: out)
            for layer in g.styleLayers { for s in 0..<2 { for c in 0..<layer.channels {
                let moved = set.channels[layer.name]?.contains(c) == true
                let want = moved ? own[layer.name]![s, c] + alpha * (target[layer.name]![0, c] - own[layer.name]![s, c]) : own[layer.name]![s, c]
                XCTAssertEqual(got[layer.name]![s, c], want, accuracy: 5e-5, "\(layer.name) #\(c) alpha \(alpha)")
            } } }
        }
        XCTAssertThrowsError(try exemplarStyleTransfer(generator: g, ws: ws, exemplarWs: rng.tensor([1, g.numWs, 5]), channels: set)) {
            XCTAssertTrue("\($0)".contains("another generator"), "\($0)")
        }
        XCTAssertThrowsError(try exemplarStyleTransfer(generator: g, ws: ws, exemplarWs: ex, channels: set, alpha: .nan))
    }
}
