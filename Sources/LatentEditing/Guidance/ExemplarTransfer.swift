import LatentTensor
import LatentCore

/// Named ws-row ranges for style transfer and resampling, for any `numWs` (`--layers coarse`).
///
/// With two ws per resolution (StyleGAN's numbering: rows 2k, 2k+1 for block 4·2^k), and at
/// least 10 rows (resolution ≥ 64): `coarse` = the 4²–8² rows 0-3 (layout, pose, size),
/// `middle` = the 16²–32² rows 4-7, `fine` = rows 8 … numWs−1 (64² and up: colour, texture).
/// Smaller generators (numWs < 10) split their rows into three consecutive near-equal parts
/// (earlier parts one longer), so every preset is non-empty.
public enum LayerPreset: String, CaseIterable, Sendable {
    case coarse, middle, fine

    public func range(numWs: Int) -> Range<Int> {
        precondition(numWs >= 3, "LayerPreset: numWs must be ≥ 3, got \(numWs)")
        if numWs >= 10 {
            switch self {
            case .coarse: return 0 ..< 4
            case .middle: return 4 ..< 8
            case .fine: return 8 ..< numWs
            }
        }
        let base = numWs / 3, extra = numWs % 3
        let sizes = (0..<3).map { base + ($0 < extra ? 1 : 0) }
        let start = sizes.prefix(LayerPreset.allCases.firstIndex(of: self)!).reduce(0, +)
        return start ..< start + sizes[LayerPreset.allCases.firstIndex(of: self)!]
    }
}

/// Parses `a-b`, `a` or a preset name (`coarse`, `middle`, `fine`) into a half-open ws range.
/// - Throws: `WsRangeError` as `parseWsRange`.
public func parseLayerSelection(_ text: String, numWs: Int) throws -> Range<Int> {
    if let preset = LayerPreset(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) { return preset.range(numWs: numWs) }
    do { return try parseWsRange(text, numWs: numWs) } catch let e as WsRangeError {
        throw WsRangeError(e.message + " or one of coarse, middle, fine")
    }
}

/// Style crossover (Image2StyleGAN crossover, pSp `--latent_mask`): rows `layers` of `ws` move
/// to the exemplar's, `ws[:, layers] = (1 − α) · ws + α · exemplar`.
/// - Parameters:
///   - ws: `[N, numWs, wDim]`.
///   - exemplarWs: `[N or 1, numWs, wDim]`.
///   - alpha: 1 = the exemplar's rows (pSp's mixing), 0 = unchanged.
/// - Throws: `EditingError` for mismatched shapes, an empty or outside range, a non-finite alpha.
public func exemplarCrossover(ws: Tensor, exemplarWs: Tensor, layers: Range<Int>, alpha: Float = 1) throws -> Tensor {
    guard ws.rank == 3, exemplarWs.rank == 3, exemplarWs.shape[1...] == ws.shape[1...],
          exemplarWs.shape[0] == ws.shape[0] || exemplarWs.shape[0] == 1 else {
        throw EditingError("exemplar latent \(exemplarWs.shape) does not match the latent \(ws.shape) (another generator?)")
    }
    let n = ws.shape[0], numWs = ws.shape[1], d = ws.shape[2]
    guard layers.lowerBound >= 0, layers.upperBound <= numWs, !layers.isEmpty else {
        throw EditingError("layer range \(wsRangeText(layers)) is outside 0-\(numWs - 1)")
    }
    guard alpha.isFinite else { throw EditingError("alpha must be finite") }
    var out = ws
    for s in 0..<n {
        let e = exemplarWs.shape[0] == 1 ? 0 : s
        for r in layers { for j in 0..<d {
            let i = (s * numWs + r) * d + j
            out.storage[i] = (1 - alpha) * ws.storage[i] + alpha * exemplarWs.storage[(e * numWs + r) * d + j]
        } }
    }
    return out
}
