import Foundation
import LatentTensor

/// QuickGELU `x·σ(1.702x)` (OpenAI CLIP) with an inlined, branch-free exponential.
///
/// `biasAct(..., activation: .quickGELU)` computes the same function through a libm `expf`
/// call per element, which costs as much as the MLP GEMMs around it at CLIP's sizes. Here `exp`
/// is Cephes' `expf` (exact range reduction with ln 2 split in two, degree-5 polynomial for
/// exp(r) - 1 - r, 2ⁿ through the exponent bits; relative error ~1e-7) written without calls or
/// traps, so the compiler vectorises the loops.
public enum CLIPQuickGELU {
    /// `x·σ(1.702x)` elementwise (absolute error ≤ 1e-6·|x|). - Parameter x: any shape. - Returns: same shape.
    public static func forward(_ x: Tensor) -> Tensor {
        var y = x
        let n = x.count
        y.withUnsafeMutableBufferPointer { py in
            let p = py.baseAddress!
            Parallel.forRanges(n, minChunk: 1 << 15) { range in
                for i in range {
                    let v = p[i]
                    p[i] = v / (1 + fastExp(-1.702 * v))
                }
            }
        }
        return y
    }

    /// `dy · d/dx[x·σ(1.702x)] = dy · (σ + 1.702·x·σ·(1 − σ))`, from the forward input `x`.
    public static func backward(_ gradOutput: Tensor, x: Tensor) -> Tensor {
        precondition(gradOutput.shape == x.shape, "CLIPQuickGELU.backward: gradOutput \(gradOutput.shape) != x \(x.shape)")
        var g = gradOutput
        let n = x.count
        x.withUnsafeBufferPointer { px in g.withUnsafeMutableBufferPointer { pg in
            let xp = px.baseAddress!, gp = pg.baseAddress!
            Parallel.forRanges(n, minChunk: 1 << 15) { range in
                for i in range {
                    let v = xp[i]
                    let s = 1 / (1 + fastExp(-1.702 * v))
                    gp[i] *= s + 1.702 * v * s * (1 - s)
                }
            }
        } }
        return g
    }

    /// exp(x); below −87.3 the input is clamped (the result, ~1e-38, only ever meets `1 +`),
    /// above 88 the result is +∞ (QuickGELU's output there is below 1e-36 in magnitude and
    /// becomes a signed zero), so 2ⁿ stays a normal float. Round-to-nearest n = x·log2(e)
    /// via the 1.5·2²³ trick, whose low mantissa bits then hold n for the exponent field.
    @inline(__always)
    static func fastExp(_ xIn: Float) -> Float {
        let x = xIn < -87.3 ? -87.3 : (xIn > 88 ? 88 : xIn)
        let t = x * 1.44269504088896341 + 12582912.0
        let n = t - 12582912.0
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = p * (r * r) + r + 1
        let scale = Float(bitPattern: (t.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
        return xIn > 88 ? .infinity : er * scale
    }
}
