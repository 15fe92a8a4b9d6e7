import Foundation
import LatentTensor

/// Naive double-precision reference of both towers, written from `clip/model.py` with plain
/// loops and no shared kernels: the convolution is a direct sum, attention is evaluated per
/// sequence and head with the additive −∞ mask, LayerNorm uses the two-pass biased variance.
/// Slow; for tests (fast path vs reference, and finite differences in Double).
extension CLIPModel {
    /// `encode_image` in Double. - Parameter images: flat `[N, 3, R, R]` (normalised).
    /// - Returns: flat `[N, embedDim]`.
    public func encodeImageReference(images: [Double], batch n: Int) -> [Double] {
        let r = config.imageResolution, p = config.visionPatchSize, g = r / p, w = config.visionWidth
        precondition(images.count == n * 3 * r * r, "encodeImageReference: \(images.count) values for \(n) images of \(r)×\(r)")
        let v = visual
        var out: [Double] = []
        for b in 0..<n {
            var x = [Double](repeating: 0, count: (g * g + 1) * w)
            for o in 0..<w { x[o] = Double(v.classEmbedding[flat: o]) }
            for gy in 0..<g {
                for gx in 0..<g {
                    for o in 0..<w {
                        var s = 0.0
                        for c in 0..<3 {
                            for ky in 0..<p {
                                for kx in 0..<p {
                                    let wv = Double(v.conv1Weight[flat: o * 3 * p * p + (c * p + ky) * p + kx])
                                    s += wv * images[((b * 3 + c) * r + gy * p + ky) * r + gx * p + kx]
                                }
                            }
                        }
                        x[(1 + gy * g + gx) * w + o] = s
                    }
                }
            }
            for i in 0..<x.count { x[i] += Double(v.positionalEmbedding[flat: i]) }
            x = Self.layerNormD(x, width: w, v.lnPreWeight, v.lnPreBias)
            for block in v.transformer.blocks { x = Self.blockD(x, width: w, block, causal: false) }
            let pooled = Self.layerNormD(Array(x[0..<w]), width: w, v.lnPostWeight, v.lnPostBias)
            out += Self.matVecD(pooled, v.proj)
        }
        return out
    }

    /// `encode_text` in Double from token embeddings (before positions), over the full rows.
    /// - Parameter embeddings: flat `[N, L, transformerWidth]`. - Returns: flat `[N, embedDim]`.
    public func encodeTextReference(embeddings: [Double], batch n: Int, length l: Int, eotIndices: [Int]) -> [Double] {
        let w = config.transformerWidth
        precondition(embeddings.count == n * l * w && eotIndices.count == n, "encodeTextReference: bad sizes")
        let t = text
        var out: [Double] = []
        for b in 0..<n {
            var x = Array(embeddings[(b * l * w)..<((b + 1) * l * w)])
            for i in 0..<(l * w) { x[i] += Double(t.positionalEmbedding[flat: i]) }
            for block in t.transformer.blocks { x = Self.blockD(x, width: w, block, causal: true) }
            x = Self.layerNormD(x, width: w, t.lnFinalWeight, t.lnFinalBias)
            let e = eotIndices[b]
            out += Self.matVecD(Array(x[(e * w)..<((e + 1) * w)]), t.textProjection)
        }
        return out
    }

    /// `x @ m` for a vector `x [in]` and a matrix `m [in, out]`.
    static func matVecD(_ x: [Double], _ m: Tensor) -> [Double] {
        let inF = m.shape[0], outF = m.shape[1]
        return (0..<outF).map { o in (0..<inF).reduce(0.0) { $0 + x[$1] * Double(m[flat: $1 * outF + o]) } }
    }

    /// LayerNorm (eps 1e-5) of each `width`-long row of `x`.
    static func layerNormD(_ x: [Double], width d: Int, _ weight: Tensor, _ bias: Tensor) -> [Double] {
        var y = x
        for r in 0..<(x.count / d) {
            let row = x[(r * d)..<((r + 1) * d)]
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
            for i in 0..<d {
                y[r * d + i] = (x[r * d + i] - mean) / (variance + 1e-5).squareRoot() * Double(weight[flat: i]) + Double(bias[flat: i])
            }
        }
        return y
    }

    /// `x · weightᵀ + bias` for rows of `x`, weight `[out, in]`.
    static func linearD(_ x: [Double], _ weight: Tensor, _ bias: Tensor) -> [Double] {
        let outF = weight.shape[0], inF = weight.shape[1], rows = x.count / inF
        var y = [Double](repeating: 0, count: rows * outF)
        for r in 0..<rows {
            for o in 0..<outF {
                var s = Double(bias[flat: o])
                for i in 0..<inF { s += x[r * inF + i] * Double(weight[flat: o * inF + i]) }
                y[r * outF + o] = s
            }
        }
        return y
    }

    /// One `ResidualAttentionBlock` on a single sequence `[L, D]`.
    static func blockD(_ x: [Double], width d: Int, _ blk: ResidualAttentionBlock, causal: Bool) -> [Double] {
        let l = x.count / d, h = blk.attn.heads, dh = d / h
        let qkv = linearD(layerNormD(x, width: d, blk.ln1Weight, blk.ln1Bias), blk.attn.inProjWeight, blk.attn.inProjBias)
        var heads = [Double](repeating: 0, count: l * d)
        for hh in 0..<h {
            for i in 0..<l {
                var scores = [Double](repeating: 0, count: l)
                for j in 0..<l {
                    var s = 0.0
                    for e in 0..<dh { s += qkv[i * 3 * d + hh * dh + e] * qkv[j * 3 * d + d + hh * dh + e] }
                    scores[j] = s / Double(dh).squareRoot() + ((causal && j > i) ? -Double.infinity : 0)
                }
                let m = scores.max()!
                let ex = scores.map { Foundation.exp($0 - m) }
                let z = ex.reduce(0, +)
                for e in 0..<dh {
                    var s = 0.0
                    for j in 0..<l { s += ex[j] / z * qkv[j * 3 * d + 2 * d + hh * dh + e] }
                    heads[i * d + hh * dh + e] = s
                }
            }
        }
        let attnOut = linearD(heads, blk.attn.outProjWeight, blk.attn.outProjBias)
        var x1 = x
        for i in 0..<x1.count { x1[i] += attnOut[i] }
        var hidden = linearD(layerNormD(x1, width: d, blk.ln2Weight, blk.ln2Bias), blk.cFcWeight, blk.cFcBias)
        for i in 0..<hidden.count { hidden[i] = hidden[i] / (1 + Foundation.exp(-1.702 * hidden[i])) }
        let mlpOut = linearD(hidden, blk.cProjWeight, blk.cProjBias)
        for i in 0..<x1.count { x1[i] += mlpOut[i] }
        return x1
    }
}
