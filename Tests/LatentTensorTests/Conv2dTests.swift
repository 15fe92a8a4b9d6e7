import XCTest
import LatentTensor
import _TestSupport

/// (N, Ci, H, W, Co, kh, kw, stride, padding, groups): odd sizes, strided, padded, grouped,
/// depthwise, pointwise and 1×1-with-padding cases; N = 1 and 3 exercise both threading paths.
let convCases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (3, 5, 7, 9, 4, 3, 3, 1, 1, 1),
    (2, 6, 9, 8, 4, 3, 3, 2, 1, 2),
    (1, 3, 5, 5, 7, 1, 1, 1, 0, 1),
    (3, 4, 6, 7, 6, 1, 1, 2, 1, 1),
    (2, 4, 8, 6, 4, 3, 3, 1, 1, 4),
    (5, 3, 7, 7, 2, 5, 5, 3, 2, 1),
    (2, 3, 6, 7, 5, 3, 2, 1, 0, 1),
    (4, 6, 5, 5, 9, 3, 3, 1, 2, 3),
]

final class Conv2dTests: XCTestCase {
    func testForwardMatchesReference() {
        var rng = TestRNG(seed: 50)
        for (n, ci, h, w, co, kh, kw, s, p, g) in convCases { for algorithm in [ConvolutionAlgorithm.im2col, .winograd] {
            let x = rng.tensor([n, ci, h, w]), wt = rng.tensor([co, ci / g, kh, kw]), b = rng.tensor([co])
            let y = conv2d(x, weight: wt, bias: b, stride: s, padding: p, groups: g, algorithm: algorithm)
            XCTAssertEqual(y.shape, [n, co, (h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1])
            assertClose(y, conv2dReference(x, weight: wt, bias: b, stride: s, padding: p, groups: g),
                        atol: 1e-5, rtol: 1e-5, "case \((n, ci, h, w, co, kh, kw, s, p, g))")
            assertClose(conv2d(x, weight: wt, stride: s, padding: p, groups: g, algorithm: algorithm),
                        conv2dReference(x, weight: wt, stride: s, padding: p, groups: g), atol: 1e-5, rtol: 1e-5)
        } }
    }

    /// A StyleGAN-sized case (128 channels, 3×3, batch 3) against the naive loops.
    func testForwardMatchesReferenceLarger() {
        var rng = TestRNG(seed: 51)
        let x = rng.tensor([3, 24, 11, 13]), wt = rng.tensor([17, 24, 3, 3]), b = rng.tensor([17])
        assertClose(conv2d(x, weight: wt, bias: b, padding: 1), conv2dReference(x, weight: wt, bias: b, padding: 1),
                    atol: 2e-5, rtol: 1e-5)
    }

    /// Images large enough to be cut into several blocks of output rows (32 channels at 45×37:
    /// 288 × 1665 columns, beyond the 128 K-float block target), strided and not, batch 1 and 2;
    /// at stride 1 also the size at which `automatic` picks Winograd.
    func testBlockedLargeImageMatchesReference() {
        var rng = TestRNG(seed: 55)
        for (n, stride, algorithm) in [(2, 1, ConvolutionAlgorithm.im2col), (2, 1, .automatic), (1, 2, .automatic)] {
            let x = rng.tensor([n, 32, 45, 37]), wt = rng.tensor([8, 32, 3, 3]), b = rng.tensor([8])
            let y = conv2d(x, weight: wt, bias: b, stride: stride, padding: 1, algorithm: algorithm)
            assertClose(y, conv2dReference(x, weight: wt, bias: b, stride: stride, padding: 1), atol: 3e-5, rtol: 1e-5,
                        "y n \(n) stride \(stride) \(algorithm)")
            let gy = rng.tensor(y.shape)
            let fast = conv2dBackward(gradOutput: gy, x: x, weight: wt, stride: stride, padding: 1, algorithm: algorithm)
            let ref = conv2dBackwardReference(gradOutput: gy, x: x, weight: wt, stride: stride, padding: 1)
            assertClose(fast.gradInput!, ref.gradInput, atol: 3e-5, rtol: 1e-5, "dx n \(n) stride \(stride)")
            assertClose(fast.gradWeight!, ref.gradWeight, atol: 3e-4, rtol: 1e-5, "dW n \(n) stride \(stride)")
        }
    }

    func testBackwardMatchesReference() {
        var rng = TestRNG(seed: 52)
        for (n, ci, h, w, co, kh, kw, s, p, g) in convCases { for algorithm in [ConvolutionAlgorithm.im2col, .winograd] {
            let x = rng.tensor([n, ci, h, w]), wt = rng.tensor([co, ci / g, kh, kw])
            let oh = (h + 2 * p - kh) / s + 1, ow = (w + 2 * p - kw) / s + 1
            let gy = rng.tensor([n, co, oh, ow])
            let fast = conv2dBackward(gradOutput: gy, x: x, weight: wt, stride: s, padding: p, groups: g, algorithm: algorithm)
            let ref = conv2dBackwardReference(gradOutput: gy, x: x, weight: wt, stride: s, padding: p, groups: g)
            let tag = "case \((n, ci, h, w, co, kh, kw, s, p, g)) \(algorithm)"
            assertClose(fast.gradInput!, ref.gradInput, atol: 1e-5, rtol: 1e-5, "dx " + tag)
            assertClose(fast.gradWeight!, ref.gradWeight, atol: 2e-5, rtol: 1e-5, "dW " + tag)
            assertClose(fast.gradBias!, ref.gradBias, atol: 1e-5, rtol: 1e-5, "db " + tag)
            let onlyWeight = conv2dBackward(gradOutput: gy, x: x, weight: wt, stride: s, padding: p, groups: g,
                                            needInput: false, needWeight: true, needBias: false)
            XCTAssertNil(onlyWeight.gradInput)
            XCTAssertNil(onlyWeight.gradBias)
            XCTAssertEqual(onlyWeight.gradWeight, fast.gradWeight)
        } }
    }

    /// <conv2d(x), y> = <x, conv2dBackward(y).gradInput>: the input gradient is the exact adjoint.
    func testInputGradientIsAdjoint() {
        var rng = TestRNG(seed: 53)
        for (n, ci, h, w, co, kh, kw, s, p, g) in convCases { for algorithm in [ConvolutionAlgorithm.im2col, .winograd] {
            let x = rng.tensor([n, ci, h, w]), wt = rng.tensor([co, ci / g, kh, kw])
            let y = conv2d(x, weight: wt, stride: s, padding: p, groups: g, algorithm: algorithm)
            let r = rng.tensor(y.shape)
            let back = conv2dBackward(gradOutput: r, x: x, weight: wt, stride: s, padding: p, groups: g,
                                      algorithm: algorithm).gradInput!
            let lhs = dotD(y.doubles, r.doubles), rhs = dotD(x.doubles, back.doubles)
            XCTAssertEqual(lhs, rhs, accuracy: 1e-5 * max(1, abs(lhs)), "case \((n, ci, h, w, co, kh, kw, s, p, g)) \(algorithm)")
        } }
    }

    /// Input, weight and bias gradients against central differences of a Double convolution.
    func testBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 54)
        // The last case runs its input gradient as Winograd (3×3, stride 1, padding 1).
        for (n, ci, h, w, co, kh, kw, s, p, g) in [(2, 4, 5, 4, 2, 3, 3, 2, 1, 2), (1, 2, 4, 5, 3, 3, 2, 1, 1, 1),
                                                   (2, 2, 5, 3, 3, 3, 3, 1, 1, 1)] {
            let x = rng.tensor([n, ci, h, w]), wt = rng.tensor([co, ci / g, kh, kw]), b = rng.tensor([co])
            let geo = ConvCase(n: n, ci: ci, h: h, w: w, co: co, kh: kh, kw: kw, stride: s, padding: p, groups: g)
            let r = rng.doubles(n * co * geo.oh * geo.ow)
            let grads = conv2dBackward(gradOutput: Tensor(shape: [n, co, geo.oh, geo.ow], data: r.map(Float.init)),
                                       x: x, weight: wt, stride: s, padding: p, groups: g, algorithm: .winograd)
            assertGradClose(grads.gradInput!.storage,
                            numericalGradient(x.doubles) { dotD(geo.conv($0, wt.doubles, b.doubles), r) }, "dx")
            assertGradClose(grads.gradWeight!.storage,
                            numericalGradient(wt.doubles) { dotD(geo.conv(x.doubles, $0, b.doubles), r) }, "dW")
            assertGradClose(grads.gradBias!.storage,
                            numericalGradient(b.doubles) { dotD(geo.conv(x.doubles, wt.doubles, $0), r) }, "db")
        }
    }
}

/// A convolution computed entirely in Double, for finite differences.
struct ConvCase {
    let n, ci, h, w, co, kh, kw, stride, padding, groups: Int
    var oh: Int { (h + 2 * padding - kh) / stride + 1 }
    var ow: Int { (w + 2 * padding - kw) / stride + 1 }

    func conv(_ x: [Double], _ wt: [Double], _ b: [Double]) -> [Double] {
        let cig = ci / groups, cog = co / groups
        var y = [Double](repeating: 0, count: n * co * oh * ow)
        for bi in 0..<n { for o in 0..<co { for oy in 0..<oh { for ox in 0..<ow {
            var acc = b[o]
            for c in 0..<cig { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                acc += x[((bi * ci + (o / cog) * cig + c) * h + iy) * w + ix] * wt[((o * cig + c) * kh + ky) * kw + kx]
            } } }
            y[((bi * co + o) * oh + oy) * ow + ox] = acc
        } } } }
        return y
    }
}
