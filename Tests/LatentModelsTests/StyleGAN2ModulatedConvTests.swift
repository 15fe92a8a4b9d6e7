import XCTest
import LatentTensor
import LatentModels
import _TestSupport

/// The fast modulated convolution (non-fused, CNHW, batch GEMM) against the literal fused
/// reference, its backward against finite differences, and adjointness in x.
final class StyleGAN2ModulatedConvTests: XCTestCase {
    let filter = setupFilter([1, 3, 3, 1])

    func testFastMatchesReference() {
        var rng = TestRNG(seed: 21)
        for (up, k, demod, withNoise) in [(1, 3, true, true), (2, 3, true, true), (1, 1, false, false), (1, 3, false, false), (2, 3, false, true)] {
          for algorithm in [ConvolutionAlgorithm.im2col, .winograd] {
            let n = 3, ci = 5, co = 7, h = 5, w = 6
            let x = rng.tensor([n, ci, h, w]), weight = rng.tensor([co, ci, k, k])
            let styles = rng.tensor([n, ci], 0.3, 1.7)            // different per sample
            let oh = up == 2 ? 2 * h : h, ow = up == 2 ? 2 * w : w
            let noise = withNoise ? rng.tensor([n, 1, oh, ow]) : nil
            let fast = modulatedConv2d(x, weight: weight, styles: styles, noise: noise, up: up,
                                       resampleFilter: filter, demodulate: demod, algorithm: algorithm)
            let ref = modulatedConv2dReference(x: x.doubles, shape: x.shape, weight: weight.doubles, weightShape: weight.shape,
                                               styles: styles.doubles, noise: noise?.doubles, up: up,
                                               resampleFilter: filter, demodulate: demod)
            XCTAssertEqual(fast.shape, [n, co, oh, ow])
            assertClose(fast, Tensor(shape: fast.shape, data: ref.map { Float($0) }), atol: 2e-5, rtol: 1e-4,
                        "up \(up) k \(k) demod \(demod) \(algorithm)")
          }
        }
    }

    /// Maps of ≥ 256 pixels put one image in each up-sampling tile, where the styles scale the
    /// weight instead of the input: odd sizes, several samples, against the fused reference.
    func testUpsamplingWithStyleScaledWeightsMatchesReference() {
        var rng = TestRNG(seed: 28)
        let n = 2, ci = 3, co = 4, h = 17, w = 19
        let x = rng.tensor([n, ci, h, w]), weight = rng.tensor([co, ci, 3, 3]), styles = rng.tensor([n, ci], 0.3, 1.7)
        let noise = rng.tensor([n, 1, 2 * h, 2 * w])
        let fast = modulatedConv2d(x, weight: weight, styles: styles, noise: noise, up: 2, resampleFilter: filter)
        let ref = modulatedConv2dReference(x: x.doubles, shape: x.shape, weight: weight.doubles, weightShape: weight.shape,
                                           styles: styles.doubles, noise: noise.doubles, up: 2, resampleFilter: filter)
        assertClose(fast, Tensor(shape: fast.shape, data: ref.map { Float($0) }), atol: 2e-5, rtol: 1e-4)
    }

    /// A non-separable resample filter takes the generic scatter + 2-D FIR path instead of the
    /// polyphase one; both must agree with the reference, forward and backward.
    func testGenericUpsamplingPathWithNonSeparableFilter() {
        var rng = TestRNG(seed: 24)
        let f = rng.tensor([4, 4], 0.05, 1)
        let n = 2, ci = 3, co = 5, h = 4, w = 5
        let x = rng.tensor([n, ci, h, w]), weight = rng.tensor([co, ci, 3, 3]), styles = rng.tensor([n, ci], 0.4, 1.6)
        let fast = modulatedConv2d(x, weight: weight, styles: styles, up: 2, resampleFilter: f)
        let ref = modulatedConv2dReference(x: x.doubles, shape: x.shape, weight: weight.doubles, weightShape: weight.shape,
                                           styles: styles.doubles, up: 2, resampleFilter: f)
        assertClose(fast, Tensor(shape: fast.shape, data: ref.map { Float($0) }), atol: 2e-5, rtol: 1e-4)
        let r = rng.tensor(fast.shape)
        let g = modulatedConv2dBackward(gradOutput: r, x: x, weight: weight, styles: styles, up: 2, resampleFilter: f)
        let nx = numericalGradient(x.doubles) { xv in
            let y = modulatedConv2dReference(x: xv, shape: x.shape, weight: weight.doubles, weightShape: weight.shape,
                                             styles: styles.doubles, up: 2, resampleFilter: f)
            return zip(y, r.doubles).reduce(0) { $0 + $1.0 * $1.1 }
        }
        assertClose(g.gradInput, Tensor(shape: x.shape, data: nx.map { Float($0) }), atol: 1e-4, rtol: 1e-3)
    }

    /// Maps large enough that the weight gradient is accumulated over several row tiles (and the
    /// forward runs as a row-chunk pipeline, or as Winograd chunks of tile rows): both against
    /// naive double-precision sums.
    func testLargeMapsUseTiledPathsCorrectly() {
      for algorithm in [ConvolutionAlgorithm.im2col, .winograd] {
        var rng = TestRNG(seed: 25)
        let n = 3, ci = 16, co = 4, h = 64, w = 64   // 192 rows: 4 chunks of 56
        let x = rng.tensor([n, ci, h, w]), weight = rng.tensor([co, ci, 3, 3]), styles = rng.tensor([n, ci], 0.5, 1.5)
        let y = modulatedConv2d(x, weight: weight, styles: styles, demodulate: false, algorithm: algorithm)
        let r = rng.tensor(y.shape)
        let g = modulatedConv2dBackward(gradOutput: r, x: x, weight: weight, styles: styles, demodulate: false,
                                        algorithm: algorithm)
        // ∂L/∂w[o,i,ky,kx] = Σ_{n,y,x} r[n,o,y,x] · s[n,i] · x[n,i,y+ky−1,x+kx−1]; y spot-checked.
        var worstW = 0.0, scaleW = 0.0
        for o in 0..<co { for i in 0..<ci { for ky in 0..<3 { for kx in 0..<3 {
            var acc = 0.0
            for s in 0..<n {
                let sc = Double(styles[s, i])
                for yy in 0..<h { for xx in 0..<w {
                    let iy = yy + ky - 1, ix = xx + kx - 1
                    if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                    acc += Double(r[s, o, yy, xx]) * sc * Double(x[s, i, iy, ix])
                } }
            }
            worstW = max(worstW, abs(acc - Double(g.gradWeight[o, i, ky, kx]))); scaleW = max(scaleW, abs(acc))
        } } } }
        XCTAssertLessThan(worstW, 1e-4 * scaleW)
        for (s, o, yy, xx) in [(0, 0, 0, 0), (1, 3, 63, 63), (2, 2, 31, 17), (1, 1, 0, 40), (2, 0, 57, 0), (0, 3, 55, 9)] {
            var acc = 0.0
            for i in 0..<ci { for ky in 0..<3 { for kx in 0..<3 {
                let iy = yy + ky - 1, ix = xx + kx - 1
                if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                acc += Double(weight[o, i, ky, kx]) * Double(styles[s, i]) * Double(x[s, i, iy, ix])
            } } }
            XCTAssertEqual(Double(y[s, o, yy, xx]), acc, accuracy: 1e-4, "\(algorithm)")
        }
      }
    }

    /// The same-size input gradient (a convolution with the flipped weight) on odd shapes large
    /// enough that it runs as row-chunk tiles while the forward uses the shared column matrix:
    /// without demodulation the layer is linear in x and in the styles separately, so
    /// <conv(x, s), r> = <x, ∂x> = <s, ∂s>; one ∂x entry is also checked against a naive sum.
    func testLargeOddMapsInputAndStyleGradientsAreAdjoint() {
        var rng = TestRNG(seed: 26)
        for (k, co, algorithm) in [(3, 32, ConvolutionAlgorithm.im2col), (3, 32, .winograd), (1, 3, .automatic)] {
            let n = 3, ci = 5, h = 61, w = 67
            let x = rng.tensor([n, ci, h, w]), weight = rng.tensor([co, ci, k, k]), styles = rng.tensor([n, ci], 0.5, 1.5)
            let y = modulatedConv2d(x, weight: weight, styles: styles, demodulate: false, algorithm: algorithm)
            let r = rng.tensor(y.shape)
            let g = modulatedConv2dBackward(gradOutput: r, x: x, weight: weight, styles: styles, demodulate: false,
                                            algorithm: algorithm)
            let yr = zip(y.doubles, r.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            let xg = zip(x.doubles, g.gradInput.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            let sg = zip(styles.doubles, g.gradStyles.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            // Tens of thousands of float terms that largely cancel: tolerance relative to Σ|y·r|.
            let scale = zip(y.doubles, r.doubles).reduce(0) { $0 + abs($1.0 * $1.1) }
            XCTAssertEqual(xg, yr, accuracy: 2e-6 * scale, "k \(k) \(algorithm): <x, ∂x>")
            XCTAssertEqual(sg, yr, accuracy: 2e-6 * scale, "k \(k) \(algorithm): <s, ∂s>")
            // ∂x[s, i, iy, ix] = s[s, i] · Σ_{o, ky, kx} r[s, o, iy − ky + p, ix − kx + p] · w[o, i, ky, kx]
            let p = k / 2
            for (s, i, iy, ix) in [(2, 4, 60, 66), (0, 0, 0, 0), (1, 2, 30, 1)] {
                var acc = 0.0
                for o in 0..<co { for ky in 0..<k { for kx in 0..<k {
                    let yy = iy - ky + p, xx = ix - kx + p
                    if yy < 0 || yy >= h || xx < 0 || xx >= w { continue }
                    acc += Double(r[s, o, yy, xx]) * Double(weight[o, i, ky, kx])
                } } }
                XCTAssertEqual(Double(g.gradInput[s, i, iy, ix]), acc * Double(styles[s, i]), accuracy: 1e-4 * max(1, abs(acc)))
            }
        }
    }

    /// The up-sampling backward builds the tap gradients a block of output channels at a time once
    /// they would exceed its memory budget; 40 channels on 3 × 199 × 201 inputs give blocks of
    /// 14, 14 and 12 accumulated into one input gradient. Without demodulation the layer is linear
    /// in x, in the styles and in the weight separately: <y, r> = <x, ∂x> = <s, ∂s> = <w, ∂w>.
    func testUpsamplingBackwardInChannelBlocksIsAdjoint() {
        var rng = TestRNG(seed: 27)
        let n = 3, ci = 3, co = 40, h = 199, w = 201
        let x = rng.tensor([n, ci, h, w]), weight = rng.tensor([co, ci, 3, 3]), styles = rng.tensor([n, ci], 0.5, 1.5)
        let y = modulatedConv2d(x, weight: weight, styles: styles, up: 2, resampleFilter: filter, demodulate: false)
        let r = rng.tensor(y.shape)
        let g = modulatedConv2dBackward(gradOutput: r, x: x, weight: weight, styles: styles, up: 2,
                                        resampleFilter: filter, demodulate: false)
        func dot(_ a: Tensor, _ b: Tensor) -> Double { zip(a.doubles, b.doubles).reduce(0) { $0 + $1.0 * $1.1 } }
        let yr = dot(y, r)
        let scale = zip(y.doubles, r.doubles).reduce(0) { $0 + abs($1.0 * $1.1) }
        XCTAssertEqual(dot(x, g.gradInput), yr, accuracy: 2e-6 * scale, "<x, ∂x>")
        XCTAssertEqual(dot(styles, g.gradStyles), yr, accuracy: 2e-6 * scale, "<s, ∂s>")
        XCTAssertEqual(dot(weight, g.gradWeight), yr, accuracy: 2e-6 * scale, "<w, ∂w>")
    }

    /// Same-size layers above `flippedWeightLimit` (here 342 × 342 × 3 × 3) flip the weight per
    /// backward instead of keeping a flipped copy; without demodulation <y, r> = <x, ∂x> = <s, ∂s>.
    func testLargeLayerFlipsWeightPerCall() {
        var rng = TestRNG(seed: 29)
        let n = 2, c = 342, h = 3, w = 5
        let x = rng.tensor([n, c, h, w]), weight = rng.tensor([c, c, 3, 3]), styles = rng.tensor([n, c], 0.5, 1.5)
        let y = modulatedConv2d(x, weight: weight, styles: styles, demodulate: false)
        let r = rng.tensor(y.shape)
        let g = modulatedConv2dBackward(gradOutput: r, x: x, weight: weight, styles: styles, demodulate: false)
        func dot(_ a: Tensor, _ b: Tensor) -> Double { zip(a.doubles, b.doubles).reduce(0) { $0 + $1.0 * $1.1 } }
        let yr = dot(y, r)
        let scale = zip(y.doubles, r.doubles).reduce(0) { $0 + abs($1.0 * $1.1) }
        XCTAssertEqual(dot(x, g.gradInput), yr, accuracy: 2e-6 * scale, "<x, ∂x>")
        XCTAssertEqual(dot(styles, g.gradStyles), yr, accuracy: 2e-6 * scale, "<s, ∂s>")
    }

    /// For fixed styles the convolution is linear in x: <conv(x), y> = <x, ∂x(y)>.
    func testInputGradientIsAdjoint() {
        var rng = TestRNG(seed: 22)
        for up in [1, 2] {
            let x = rng.tensor([2, 3, 4, 5]), weight = rng.tensor([4, 3, 3, 3]), styles = rng.tensor([2, 3], 0.5, 1.5)
            let y0 = modulatedConv2d(x, weight: weight, styles: styles, up: up, resampleFilter: filter)
            let r = rng.tensor(y0.shape)
            let g = modulatedConv2dBackward(gradOutput: r, x: x, weight: weight, styles: styles, up: up, resampleFilter: filter)
            let lhs = zip(y0.doubles, r.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            let rhs = zip(x.doubles, g.gradInput.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-5 * max(1, abs(lhs)), "up \(up)")
        }
    }

    /// ∂x, ∂styles (through the demodulation too) and ∂weight against central differences of the
    /// double-precision reference.
    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 23)
        for (up, k, demod, h, w, algorithm) in [(1, 3, true, 4, 3, ConvolutionAlgorithm.im2col), (1, 3, true, 5, 3, .winograd),
                                                (2, 3, true, 4, 3, .automatic), (2, 3, true, 1, 2, .automatic),
                                                (1, 1, false, 4, 3, .automatic)] {
            let n = 2, ci = 3, co = 4
            let x = rng.tensor([n, ci, h, w]), weight = rng.tensor([co, ci, k, k]), styles = rng.tensor([n, ci], 0.4, 1.6)
            let y0 = modulatedConv2d(x, weight: weight, styles: styles, up: up, resampleFilter: filter, demodulate: demod,
                                     algorithm: algorithm)
            let r = rng.tensor(y0.shape)
            func loss(_ xv: [Double], _ wv: [Double], _ sv: [Double]) -> Double {
                let y = modulatedConv2dReference(x: xv, shape: x.shape, weight: wv, weightShape: weight.shape, styles: sv,
                                                 up: up, resampleFilter: filter, demodulate: demod)
                return zip(y, r.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            }
            let g = modulatedConv2dBackward(gradOutput: r, x: x, weight: weight, styles: styles, up: up,
                                            resampleFilter: filter, demodulate: demod, algorithm: algorithm)
            let nx = numericalGradient(x.doubles) { loss($0, weight.doubles, styles.doubles) }
            let nw = numericalGradient(weight.doubles) { loss(x.doubles, $0, styles.doubles) }
            let ns = numericalGradient(styles.doubles) { loss(x.doubles, weight.doubles, $0) }
            assertClose(g.gradInput, Tensor(shape: x.shape, data: nx.map { Float($0) }), atol: 1e-4, rtol: 1e-3, "∂x up \(up) \(algorithm)")
            assertClose(g.gradWeight, Tensor(shape: weight.shape, data: nw.map { Float($0) }), atol: 1e-4, rtol: 1e-3, "∂w up \(up)")
            assertClose(g.gradStyles, Tensor(shape: styles.shape, data: ns.map { Float($0) }), atol: 1e-4, rtol: 1e-3, "∂s up \(up) \(algorithm)")
        }
    }
}
