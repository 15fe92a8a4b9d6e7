import Foundation
import XCTest
import LatentTensor
import LatentModels
import LatentCLIP
import LatentEditing
import _TestSupport

/// `textGuidedEditInBatches`: each latent gets the result it gets alone, a latent that cannot be
/// loaded is reported and skipped without stopping the others, masks are padded per batch.
final class TextGuidedEditBatchesTests: XCTestCase {
    struct Unreadable: Error {}

    func testBatchesMatchSingleRunsAndIsolateFailures() throws {
        let fx = try TextEditFixture.make()
        var rng = TestRNG(seed: 61)
        let text = rng.tensor([1, fx.clip.config.embedDim])
        var options = TextGuidedEditOptions()
        options.steps = 5
        options.learningRate = 0.05
        let r = fx.G.resolution
        let ws = (0..<4).map { i in fx.w0 + rng.tensor(fx.w0.shape, -0.1, 0.1) * Float(i) }
        var mask = Tensor(shape: [1, 1, r, r], repeating: 0)
        for y in 0..<r / 2 { for x in 0..<r { mask[0, 0, y, x] = 1 } }
        options.maskPixelWeight = 10
        var results: [Int: Tensor] = [:], failures: [Int] = []
        var lastProgress = 0
        try textGuidedEditInBatches(generator: fx.G, clip: fx.clip, count: 4, target: .text(text), options: options, batchSize: 2,
                                    load: { i in
                                        if i == 1 { throw Unreadable() }
                                        return TextEditItem(ws: ws[i], mask: i == 3 ? mask : nil)
                                    }, progress: { done, total, _ in
                                        XCTAssertEqual(total, 4 * 5)
                                        XCTAssertGreaterThanOrEqual(done, lastProgress); lastProgress = done
                                    }, completed: { i, result, k in results[i] = result.ws.slice(k ..< k + 1) },
                                    failed: { i, _ in failures.append(i) })
        XCTAssertEqual(failures, [1])
        XCTAssertEqual(Set(results.keys), [0, 2, 3])
        XCTAssertEqual(lastProgress, 4 * 5)
        for i in [0, 2, 3] {
            var o = options
            o.mask = i == 3 ? mask : nil
            // Latent 2 shares its batch with the masked latent 3: an all-ones mask leaves its objective unchanged.
            let alone = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: ws[i], target: .text(text), options: o)
            // 1e-3, as the projector's batch-vs-single test: batched GEMMs round differently (FMA kernels), and
            // Adam turns rounding-level gradient differences into update differences.
            assertClose(results[i]!, alone.ws, atol: 1e-3, rtol: 1e-3, "latent \(i)")
        }
    }
}
