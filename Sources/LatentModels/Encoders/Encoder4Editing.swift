import LatentTensor

/// e4e's encoder (`Encoder4Editing` in omertov/encoder4editing `models/encoders/psp_encoders.py`):
/// one w0 from the coarsest features, repeated for every style, plus a delta per style from the
/// pyramid level of its resolution — the design that keeps codes near W and editable.
///
///     w0 = styles[0](c3);  codes[:, i] = w0                 for all i
///     codes[:, i] += styles[i](features_i)                 for 1 ≤ i < min(stage + 1, styleCount)
///
/// with features_i = c3 for i < 3, p2 for i < 7, p1 after, and `stage` the progressive stage
/// (`ProgressiveStage.Inference` = 18: every delta). So with the same weights,
/// e4e codes[:, i] = pSp codes[:, 0] + pSp codes[:, i] for i ≥ 1.
public struct Encoder4Editing: Sendable {
    let heads: StyleHeads
    /// `ProgressiveStage` value (`PSPEncoderConfig.inferenceStage` for inference).
    public var progressiveStage: Int

    /// `[N, styleCount, 512]` codes of `features` (no `latent_avg` added).
    public func codes(features f: IRFeatures) -> Tensor {
        let n = f.c3.shape[0], count = heads.styles.count
        var out = Tensor.zeros([n, count, 512])
        let w0 = heads.styles[0](f.c3)
        for i in 0..<count { StyleHeads.put(w0, into: &out, style: i, accumulate: false) }
        var features = f.c3
        var p2: Tensor?
        for i in stride(from: 1, to: min(progressiveStage + 1, count), by: 1) {
            if i == StyleHeads.coarseIndex {
                p2 = heads.pyramid.p2(c3: f.c3, c2: f.c2)
                features = p2!
            } else if i == StyleHeads.middleIndex {
                features = heads.pyramid.p1(p2: p2!, c1: f.c1)
            }
            StyleHeads.put(heads.styles[i](features), into: &out, style: i, accumulate: true)
        }
        return out
    }
}
