import XCTest
import LatentTensor
import _TestSupport

/// Winograd F(2×2, 3×3) against the naive convolution (Double accumulation), on odd shapes, both
/// plane layouts, with and without per-image channel scales, cut into many chunks or one.
final class Winograd3x3Tests: XCTestCase {
    /// `[N, C, H, W]` → `[N, O, H, W]` through `Winograd3x3.convolve`.
    /// With `adjoint`, `weight` is the forward layer's `[C, O, 3, 3]` and the call convolves with its
    /// flipped transpose.
    private func winograd(_ x: Tensor, weight: Tensor, scales: Tensor? = nil, chunkFloats: Int? = nil,
                          minTiles: Int? = nil, cnhw: Bool = false, adjoint: Bool = false) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = adjoint ? weight.shape[1] : weight.shape[0]
        var u = [Float](repeating: 0, count: Winograd3x3.transformedWeightCount(outputs: o, inputs: c))
        weight.withUnsafeBufferPointer { pw in
            u.withUnsafeMutableBufferPointer {
                Winograd3x3.transformWeights(pw.baseAddress!, outputs: weight.shape[0], inputs: weight.shape[1], into: $0.baseAddress!)
            }
        }
        // CNHW: transpose in and out around the call.
        var src = x
        if cnhw { src = swapLeadingAxes(x) }
        let inLayout = cnhw ? Winograd3x3.PlaneLayout.cnhw(batch: n, height: h, width: w)
                            : .nchw(channels: c, height: h, width: w)
        let outLayout = cnhw ? Winograd3x3.PlaneLayout.cnhw(batch: n, height: h, width: w)
                             : .nchw(channels: o, height: h, width: w)
        var y = Tensor.zeros(cnhw ? [o, n, h, w] : [n, o, h, w])
        y.storage = y.storage.map { _ in Float.nan }   // every output must be written
        src.withUnsafeBufferPointer { px in u.withUnsafeBufferPointer { pu in y.withUnsafeMutableBufferPointer { py in
            func run(_ ps: UnsafePointer<Float>?) {
                Winograd3x3.convolve(px.baseAddress!, layout: inLayout, scales: ps, channels: c,
                                     transformedWeights: pu.baseAddress!, outputs: o, batch: n, height: h, width: w,
                                     py.baseAddress!, outLayout: outLayout, adjoint: adjoint,
                                     chunkFloats: chunkFloats ?? Winograd3x3.defaultChunkFloats, minTilesPerChunk: minTiles)
            }
            if let scales { scales.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
        } } }
        return cnhw ? swapLeadingAxes(y) : y
    }

    /// `[A, B, H, W]` → `[B, A, H, W]`.
    private func swapLeadingAxes(_ t: Tensor) -> Tensor {
        let a = t.shape[0], b = t.shape[1], hw = t.shape[2] * t.shape[3]
        var r = Tensor.zeros([b, a, t.shape[2], t.shape[3]])
        for i in 0..<a { for j in 0..<b { for p in 0..<hw { r.storage[(j * a + i) * hw + p] = t.storage[(i * b + j) * hw + p] } } }
        return r
    }

    private func scaled(_ x: Tensor, _ s: Tensor) -> Tensor {
        var r = x
        let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
        for i in 0..<(n * c) { for p in 0..<hw { r.storage[i * hw + p] *= s.storage[i] } }
        return r
    }

    /// |error| ≤ tolerance × Σ|products| per output (the bound a float convolution has anyway,
    /// with a few ulps of headroom for the transforms' extra additions).
    private func assertWithinRounding(_ y: Tensor, _ x: Tensor, _ weight: Tensor, _ label: String) {
        let ref = conv2dReference(x, weight: weight, padding: 1)
        var xa = x, wa = weight
        xa.storage = xa.storage.map { abs($0) }; wa.storage = wa.storage.map { abs($0) }
        let bound = conv2dReference(xa, weight: wa, padding: 1)
        XCTAssertEqual(y.shape, ref.shape, label)
        var worst: Float = 0
        for i in 0..<ref.count {
            XCTAssertFalse(y.storage[i].isNaN, "\(label): output \(i) not written")
            worst = max(worst, abs(y.storage[i] - ref.storage[i]) / max(bound.storage[i], 1e-30))
        }
        XCTAssertLessThan(worst, 4e-6, label)
    }

    func testMatchesReferenceOnOddShapes() {
        var rng = TestRNG(seed: 7)
        // (N, C, H, W, O): 1×1 maps, odd heights and widths, a single row or column, O ≠ C.
        let cases = [(1, 1, 1, 1, 1), (2, 3, 5, 7, 4), (3, 5, 7, 9, 2), (1, 4, 2, 3, 3), (2, 6, 9, 8, 5),
                     (1, 3, 1, 11, 2), (2, 2, 13, 1, 3), (1, 7, 4, 4, 6)]
        for (n, c, h, w, o) in cases {
            let x = rng.tensor([n, c, h, w]), wt = rng.tensor([o, c, 3, 3])
            let label = "\((n, c, h, w, o))"
            assertWithinRounding(winograd(x, weight: wt), x, wt, label + " nchw")
            assertWithinRounding(winograd(x, weight: wt, cnhw: true), x, wt, label + " cnhw")
            // One tile row per chunk: chunk edges between and inside images.
            assertWithinRounding(winograd(x, weight: wt, chunkFloats: 1, minTiles: 1), x, wt, label + " chunked")
            assertWithinRounding(winograd(x, weight: wt, chunkFloats: 1, minTiles: 1, cnhw: true), x, wt, label + " chunked cnhw")
        }
    }

    func testScalesModulateTheInput() {
        var rng = TestRNG(seed: 8)
        let x = rng.tensor([3, 5, 9, 11]), wt = rng.tensor([4, 5, 3, 3]), s = rng.tensor([3, 5], 0.2, 2)
        for cnhw in [false, true] {
            for chunk in [1, Winograd3x3.defaultChunkFloats] {
                assertWithinRounding(winograd(x, weight: wt, scales: s, chunkFloats: chunk, minTiles: 1, cnhw: cnhw),
                                     scaled(x, s), wt, "cnhw \(cnhw) chunk \(chunk)")
            }
        }
    }

    /// Larger maps with many channels, the generator's shapes in small: one chunk per image and
    /// chunks split over the threads.
    func testMatchesReferenceLarger() {
        var rng = TestRNG(seed: 9)
        let x = rng.tensor([2, 24, 37, 45]), wt = rng.tensor([17, 24, 3, 3])
        assertWithinRounding(winograd(x, weight: wt), x, wt, "one chunk")
        assertWithinRounding(winograd(x, weight: wt, chunkFloats: 4096, minTiles: 1), x, wt, "many chunks")
    }

    /// The convolution's adjoint is the convolution with the flipped, transposed kernel:
    /// ⟨conv(x, W), y⟩ = ⟨x, conv(y, flip(W)ᵀ)⟩, both sides through Winograd.
    func testAdjoint() {
        var rng = TestRNG(seed: 10)
        let x = rng.tensor([2, 5, 11, 9]), y = rng.tensor([2, 6, 11, 9]), wt = rng.tensor([6, 5, 3, 3])
        var wf = Tensor.zeros([5, 6, 3, 3])
        for o in 0..<6 { for c in 0..<5 { for ky in 0..<3 { for kx in 0..<3 {
            wf[c, o, 2 - ky, 2 - kx] = wt[o, c, ky, kx]
        } } } }
        let ax = winograd(x, weight: wt), aty = winograd(y, weight: wf, chunkFloats: 1, minTiles: 1)
        var lhs = 0.0, rhs = 0.0, scale = 0.0
        for i in 0..<ax.count { lhs += Double(ax.storage[i]) * Double(y.storage[i]); scale += abs(Double(ax.storage[i] * y.storage[i])) }
        for i in 0..<aty.count { rhs += Double(aty.storage[i]) * Double(x.storage[i]) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-5 * scale)
        // `adjoint` computes the same from the forward layer's transformed weights.
        assertWithinRounding(winograd(y, weight: wt, adjoint: true), y, wf, "adjoint")
        assertWithinRounding(winograd(y, weight: wt, chunkFloats: 1, minTiles: 1, cnhw: true, adjoint: true), y, wf, "adjoint cnhw")
    }
}
