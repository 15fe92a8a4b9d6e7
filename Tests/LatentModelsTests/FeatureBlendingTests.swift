import XCTest
import LatentTensor
import LatentModels
import _TestSupport

/// `blendedSynthesis` on a tiny random generator (resolution 16, so blending can start at 4, 8
/// or 16): the limits (all-white mask = edited synthesis, all-black = original) and the fast path
/// against the naive double-precision reference with the blend done in its block hook.
final class FeatureBlendingTests: XCTestCase {
    let config = StyleGAN2Config(zDim: 4, wDim: 5, imgResolution: 16, imgChannels: 3, mappingLayers: 2,
                                 channelBase: 48, channelMax: 5)

    func testAllWhiteIsEditedAndAllBlackIsOriginal() throws {
        let (g, _) = try tinyRandomGenerator(seed: 41, config: config)
        var rng = TestRNG(seed: 42)
        let n = 2
        let edited = rng.tensor([n, g.numWs, g.wDim], -1.5, 1.5), original = rng.tensor([n, g.numWs, g.wDim], -1.5, 1.5)
        let white = Tensor(shape: [1, 1, 16, 16], repeating: 1), black = Tensor.zeros([1, 1, 16, 16])
        let imgE = g.synthesis(ws: edited), imgO = g.synthesis(ws: original)
        XCTAssertGreaterThan(maxAbsDiff(imgE, imgO), 0.1, "the two latents must differ for the test to mean anything")
        for r in g.blendResolutions {
            assertClose(g.blendedSynthesis(editedWs: edited, originalWs: original, mask: white, blendResolution: r), imgE,
                        atol: 1e-5, rtol: 1e-5, "white at \(r)")
            assertClose(g.blendedSynthesis(editedWs: edited, originalWs: original, mask: black, blendResolution: r), imgO,
                        atol: 1e-5, rtol: 1e-5, "black at \(r)")
            assertClose(g.blendedSynthesis(editedWs: edited, originalWs: original, mask: white, blendResolution: r, onlyAtBlendResolution: true),
                        imgE, atol: 1e-5, rtol: 1e-5, "white, one block at \(r)")
        }
    }

    func testMatchesNaiveReferenceWithSoftPerSampleMask() throws {
        let (g, params) = try tinyRandomGenerator(seed: 43, config: config)
        var rng = TestRNG(seed: 44)
        let n = 2
        let edited = rng.tensor([n, g.numWs, g.wDim], -1.5, 1.5), original = rng.tensor([1, g.numWs, g.wDim], -1.5, 1.5)
        // A soft mask per sample, with hard 0 and 1 regions.
        var mask = Tensor.zeros([n, 1, 16, 16])
        for s in 0..<n { for y in 0..<16 { for x in 0..<16 {
            let v = Float(x - 4 - 3 * s) / 6
            mask.storage[(s * 16 + y) * 16 + x] = y < 3 ? 0 : min(max(v, 0), 1)
        } } }
        var noise = NoiseMaps()
        for name in g.noiseLayerNames { noise[name] = rng.tensor([n] + g.noiseShape(layer: name)!) }
        let ref = ReferenceSynthesis(config: config, parameters: params)
        let noiseD = noise.maps.mapValues { $0.doubles }
        let origBatch = Tensor(shape: edited.shape, data: original.storage + original.storage)
        for (blendRes, only) in [(8, false), (16, false), (8, true)] {
            var saved: [Int: ([Double], [Double])] = [:]
            _ = ref.image(ws: origBatch.doubles, batch: n, noise: noiseD) { res, x, img in saved[res] = (x, img) }
            let want = ref.image(ws: edited.doubles, batch: n, noise: noiseD) { res, x, img in
                guard res >= blendRes, !only || res == blendRes, let (xo, io) = saved[res] else { return }
                let m = Self.boxMask(mask, n: n, to: res)
                func blend(_ a: inout [Double], _ b: [Double]) {
                    let planes = a.count / (res * res)
                    for p in 0..<planes { for q in 0..<(res * res) {
                        let w = m[(p / (planes / n)) * res * res + q]
                        a[p * res * res + q] = w * a[p * res * res + q] + (1 - w) * b[p * res * res + q]
                    } }
                }
                blend(&x, xo); blend(&img, io)
            }
            let got = g.blendedSynthesis(editedWs: edited, originalWs: original, mask: mask, blendResolution: blendRes, noise: noise,
                                         onlyAtBlendResolution: only)
            assertClose(got, Tensor(shape: got.shape, data: want.map { Float($0) }), atol: 1e-4, rtol: 1e-4, "blend at \(blendRes), only \(only)")
            if only { continue }
            // Where the full-resolution mask is 0 the image is the original's, to float rounding.
            let imgO = g.synthesis(ws: origBatch, noise: noise)
            for s in 0..<n { for c in 0..<3 { for q in 0..<256 where mask.storage[s * 256 + q] == 0 {
                let i = (s * 3 + c) * 256 + q
                XCTAssertEqual(got.storage[i], imgO.storage[i], accuracy: 1e-5)
            } } }
        }
    }

    func testDownsampleMaskAverages() {
        var m = Tensor.zeros([1, 1, 4, 4])
        m.storage[0] = 1; m.storage[1] = 1; m.storage[5] = 0.5
        let d = StyleGAN2Generator.downsampleMask(m, to: 2)
        XCTAssertEqual(d.storage, [0.625, 0, 0, 0])
    }

    /// The mask box-averaged in Double, `[n, r, r]` flat.
    static func boxMask(_ mask: Tensor, n: Int, to r: Int) -> [Double] {
        let big = mask.shape[2], f = big / r
        var out = [Double](repeating: 0, count: n * r * r)
        for s in 0..<n { for y in 0..<r { for x in 0..<r {
            var acc = 0.0
            for dy in 0..<f { for dx in 0..<f { acc += Double(mask.storage[(s * big + y * f + dy) * big + x * f + dx]) } }
            out[(s * r + y) * r + x] = acc / Double(f * f)
        } } }
        return out
    }
}
