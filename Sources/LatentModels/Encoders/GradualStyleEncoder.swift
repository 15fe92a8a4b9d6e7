import LatentTensor

/// pSp's encoder (`GradualStyleEncoder` in eladrich/pixel2style2pixel
/// `models/encoders/psp_encoders.py`): every style is predicted on its own by a
/// `GradualStyleBlock` on the pyramid level of its resolution.
///
///     codes[:, 0..<3] = styles[j](c3);  codes[:, 3..<7] = styles[j](p2);  codes[:, 7...] = styles[j](p1)
///
/// The codes are relative to `latent_avg` when the checkpoint was trained with
/// `start_from_latent_avg` (see `PSPEncoder.codes(_:addLatentAvg:)`).
public struct GradualStyleEncoder: Sendable {
    let heads: StyleHeads

    /// `[N, styleCount, 512]` codes of `features` (no `latent_avg` added).
    public func codes(features f: IRFeatures) -> Tensor {
        let n = f.c3.shape[0], count = heads.styles.count
        var out = Tensor.zeros([n, count, 512])
        var p2: Tensor?, p1: Tensor?
        for j in 0..<count {
            let input: Tensor
            if j < StyleHeads.coarseIndex {
                input = f.c3
            } else if j < StyleHeads.middleIndex {
                if p2 == nil { p2 = heads.pyramid.p2(c3: f.c3, c2: f.c2) }
                input = p2!
            } else {
                if p2 == nil { p2 = heads.pyramid.p2(c3: f.c3, c2: f.c2) }
                if p1 == nil { p1 = heads.pyramid.p1(p2: p2!, c1: f.c1) }
                input = p1!
            }
            StyleHeads.put(heads.styles[j](input), into: &out, style: j, accumulate: false)
        }
        return out
    }
}
