import XCTest
import Foundation
import LatentTensor
import LatentModels
import _TestSupport

/// Checkpointed synthesis tapes (`SynthesisCheckpointing`): a block kept only by its input and
/// recomputed in the backward, and caches handed to the first backward of a tape, must give the
/// gradients of the plain tape. The recomputation runs the same kernels on the same values, but
/// the comparison is still to a stated tolerance: 1e-5 of each gradient tensor's largest entry.
final class SynthesisCheckpointTests: XCTestCase {
    /// Four blocks (b4 … b32), a few channels each, conv clamp on so the clamp masks are
    /// recomputed too.
    let config = StyleGAN2Config(zDim: 4, wDim: 6, imgResolution: 32, imgChannels: 3, mappingLayers: 2,
                                 channelBase: 96, channelMax: 7, convClamp: 1.5)
    static let relTolerance: Float = 1e-5

    /// `max|a − b| ≤ 1e-5 · max|b|`; `b` must not be all zero (the check would be vacuous).
    func assertRelClose(_ a: Tensor, _ b: Tensor, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, label, file: file, line: line)
        guard a.shape == b.shape else { return }
        let scale = b.storage.reduce(0) { max($0, abs($1)) }
        XCTAssertGreaterThan(scale, 0, "\(label): trivially zero", file: file, line: line)
        let e = maxAbsDiff(a, b)
        XCTAssertLessThanOrEqual(e, Self.relTolerance * scale, "\(label): max abs difference \(e), scale \(scale)", file: file, line: line)
    }

    func assertSameGradients(_ got: SynthesisGradients, _ want: SynthesisGradients, _ label: String) throws {
        assertRelClose(got.ws, want.ws, "\(label) ws")
        if let wn = want.noise {
            let gn = try XCTUnwrap(got.noise, label)
            XCTAssertEqual(Set(gn.maps.keys), Set(wn.maps.keys), label)
            for (name, m) in wn.maps { assertRelClose(try XCTUnwrap(gn[name]), m, "\(label) noise \(name)") }
        } else {
            XCTAssertNil(got.noise, label)
        }
        if let ww = want.weights {
            let gw = try XCTUnwrap(got.weights, label)
            XCTAssertEqual(Set(gw.keys), Set(ww.keys), label)
            for (name, t) in ww { assertRelClose(try XCTUnwrap(gw[name]), t, "\(label) \(name)") }
        } else {
            XCTAssertNil(got.weights, label)
        }
    }

    /// Every block checkpointed (the top one included) against no checkpoints: ws, per-sample and
    /// shared noise maps, and every synthesis parameter.
    func testEveryBlockCheckpointedGivesTheSameGradients() throws {
        let (g, _) = try tinyRandomGenerator(seed: 61, config: config)
        var rng = TestRNG(seed: 62)
        let n = 2
        let ws = rng.tensor([n, g.numWs, g.wDim], -1.5, 1.5)
        var maps = NoiseMaps()
        maps["b8.conv0"] = rng.tensor([n, 8, 8])       // per sample
        maps["b16.conv1"] = rng.tensor([16, 16])       // shared (the rest: noise_const)
        maps["b32.conv0"] = rng.tensor([n, 32, 32])
        let r = rng.tensor([n, 3, 32, 32])
        let (img0, tape0) = g.synthesisForward(ws: ws, noise: maps, checkpointing: .never)
        let (img1, tape1) = g.synthesisForward(ws: ws, noise: maps, checkpointing: .everyBlock)
        XCTAssertEqual(tape0.checkpointedResolutions, [])
        XCTAssertEqual(tape1.checkpointedResolutions, [4, 8, 16, 32])
        assertRelClose(img1, img0, "image")
        for (noise, weights) in [(true, true), (false, false), (true, false)] {
            let want = g.synthesisBackward(tape: tape0, gradImage: r, needNoise: noise, needWeights: weights)
            let got = g.synthesisBackward(tape: tape1, gradImage: r, needNoise: noise, needWeights: weights)
            try assertSameGradients(got, want, "noise \(noise) weights \(weights)")
        }
    }

    /// The threshold policy checkpoints every block below the top whose cache exceeds the bytes,
    /// never the top, and the gradients do not change; a budget takes the largest first; `.automatic`
    /// leaves a tiny config alone.
    func testThresholdPolicyPicksLargeBlocksBelowTheTop() throws {
        let (g, _) = try tinyRandomGenerator(seed: 63, config: config)
        var rng = TestRNG(seed: 64)
        let n = 3
        let ws = rng.tensor([n, g.numWs, g.wDim], -1.5, 1.5)
        let r = rng.tensor([n, 3, 32, 32])
        let cacheBytes = g.tapeCacheBytes(batch: n)
        XCTAssertEqual(cacheBytes.keys.sorted(), [4, 8, 16, 32])
        // Between the 8² and the 16² block's cache: checkpoints 16² only (32² is the top).
        let bytes8 = try XCTUnwrap(cacheBytes[8]), bytes16 = try XCTUnwrap(cacheBytes[16])
        XCTAssertLessThan(bytes8, bytes16)
        let policy = SynthesisCheckpointing.above(bytes: (bytes8 + bytes16) / 2)
        XCTAssertEqual(g.checkpointedResolutions(batch: n, checkpointing: policy), [16])
        XCTAssertEqual(g.checkpointedResolutions(batch: n, checkpointing: .above(bytes: 0)), [4, 8, 16])
        XCTAssertEqual(g.checkpointedResolutions(batch: n), [])
        // A tape budget: the largest caches below the top go first, until the rest fits.
        let total = cacheBytes.values.reduce(0, +)
        XCTAssertEqual(g.checkpointedResolutions(batch: n, checkpointing: .budget(bytes: total)), [])
        XCTAssertEqual(g.checkpointedResolutions(batch: n, checkpointing: .budget(bytes: total - bytes16 / 2)), [16])
        XCTAssertEqual(g.checkpointedResolutions(batch: n, checkpointing: .budget(bytes: total - bytes16 - bytes8 / 2)), [8, 16])
        XCTAssertEqual(g.checkpointedResolutions(batch: n, checkpointing: .budget(bytes: 0)), [4, 8, 16])
        // cacheBytes counts the block's maps: conv0 and conv1 outputs, ToRGB output and skip image.
        let c16 = config.channels(at: 16)
        XCTAssertEqual(bytes16, 4 * n * 16 * 16 * (2 * c16 + 2 * 3))
        let (_, tape) = g.synthesisForward(ws: ws, checkpointing: policy)
        XCTAssertEqual(tape.checkpointedResolutions, [16])
        let (_, plain) = g.synthesisForward(ws: ws, checkpointing: .never)
        try assertSameGradients(g.synthesisBackward(tape: tape, gradImage: r, needWeights: true),
                                g.synthesisBackward(tape: plain, gradImage: r, needWeights: true), "threshold")
    }

    /// The first backward of a tape takes its caches; a second backward of the same tape (or a
    /// copy) recomputes them and gives the same gradients, and the block activations are still there.
    func testSecondBackwardOfATapeRecomputes() throws {
        let (g, _) = try tinyRandomGenerator(seed: 65, config: config)
        var rng = TestRNG(seed: 66)
        let ws = rng.tensor([2, g.numWs, g.wDim], -1.5, 1.5)
        let r = rng.tensor([2, 3, 32, 32])
        let (_, tape) = g.synthesisForward(ws: ws, noiseMode: .random(seed: 9), checkpointing: .never)
        let before = tape.blockActivations
        let copy = tape
        let first = g.synthesisBackward(tape: tape, gradImage: r, needWeights: true)
        let second = g.synthesisBackward(tape: copy, gradImage: r, needWeights: true)
        try assertSameGradients(second, first, "second backward")
        let after = tape.blockActivations
        XCTAssertEqual(Set(after.keys), Set(before.keys))
        XCTAssertEqual(before.count, 8)
        for (name, t) in before { assertRelClose(try XCTUnwrap(after[name]), t, name) }
    }

    /// The tiny32 golden generator (the one checked against NVIDIA's code), every block
    /// checkpointed, against its plain tape.
    func testTiny32GoldenGeneratorCheckpointed() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "tiny32_weights", withExtension: "safetensors", subdirectory: "Resources"))
        let g = try StyleGAN2Generator(path: url.path)
        var rng = TestRNG(seed: 67)
        let ws = rng.tensor([2, g.numWs, g.wDim], -1, 1)
        let r = rng.tensor([2, g.imgChannels, g.resolution, g.resolution])
        let (_, plain) = g.synthesisForward(ws: ws, checkpointing: .never)
        let (_, checkpointed) = g.synthesisForward(ws: ws, checkpointing: .everyBlock)
        XCTAssertEqual(checkpointed.checkpointedResolutions.count, g.noiseLayerNames.count / 2 + 1)
        try assertSameGradients(g.synthesisBackward(tape: checkpointed, gradImage: r, needWeights: true),
                                g.synthesisBackward(tape: plain, gradImage: r, needWeights: true), "tiny32")
    }
}
