import XCTest
import LatentTensor
import LatentModels
import _TestSupport

/// `StyleGAN2Generator.stackedNoise`: batching latents that carry their own noise maps.
final class NoiseMapsStackTests: XCTestCase {
    func testStackedNoiseRendersEachLatentAsAlone() throws {
        let config = StyleGAN2Config(zDim: 4, wDim: 5, imgResolution: 8, imgChannels: 3, mappingLayers: 2,
                                     channelBase: 24, channelMax: 5)
        let (g, _) = try tinyRandomGenerator(seed: 41, config: config)
        XCTAssertNil(g.stackedNoise([nil, nil]))
        var rng = TestRNG(seed: 3)
        var own = NoiseMaps()
        for name in g.noiseLayerNames { own[name] = rng.tensor(g.noiseShape(layer: name)!, -1, 1) }
        let stacked = try XCTUnwrap(g.stackedNoise([own, nil]))
        for name in g.noiseLayerNames {
            let shape = g.noiseShape(layer: name)!
            XCTAssertEqual(stacked[name]!.shape, [2] + shape)
            XCTAssertEqual(stacked[name]!.row(0).storage, own[name]!.storage)
            XCTAssertEqual(stacked[name]!.row(1).storage, g.constNoise[name]!.storage)
        }
        let ws = rng.tensor([2, g.numWs, g.wDim], -1, 1)
        let batch = g.synthesis(ws: ws, noise: stacked)
        assertClose(batch.row(0), g.synthesis(ws: ws.slice(0 ..< 1), noise: own).row(0), atol: 1e-5, rtol: 1e-5)
        assertClose(batch.row(1), g.synthesis(ws: ws.slice(1 ..< 2)).row(0), atol: 1e-5, rtol: 1e-5)
    }
}
