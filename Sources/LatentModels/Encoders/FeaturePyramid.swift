import LatentTensor

/// pSp/e4e's feature pyramid: `latlayer1` (1×1 conv 256 → 512, bias) and `latlayer2` (1×1 conv
/// 128 → 512, bias) with `_upsample_add(x, y) = interpolate(x, size(y), bilinear,
/// align_corners=True) + y`:
///
///     p2 = upsample_add(c3, latlayer1(c2))   [N, 512, H/8, W/8]   (middle styles)
///     p1 = upsample_add(p2, latlayer2(c1))   [N, 512, H/4, W/4]   (fine styles)
struct FeaturePyramid: Sendable {
    let latlayer1: (weight: Tensor, bias: Tensor)
    let latlayer2: (weight: Tensor, bias: Tensor)

    init(_ w: EncoderWeights) throws {
        latlayer1 = (try w.take("latlayer1.weight", [512, 256, 1, 1]), try w.take("latlayer1.bias", [512]))
        latlayer2 = (try w.take("latlayer2.weight", [512, 128, 1, 1]), try w.take("latlayer2.bias", [512]))
    }

    /// `_upsample_add(top, lateral)`: `top` resized to `lateral`'s size, plus `lateral`.
    static func upsampleAdd(_ top: Tensor, _ lateral: Tensor) -> Tensor {
        var y = upsampleBilinear2d(top, height: lateral.shape[2], width: lateral.shape[3], alignCorners: true)
        y += lateral
        return y
    }

    func p2(c3: Tensor, c2: Tensor) -> Tensor {
        FeaturePyramid.upsampleAdd(c3, conv2d(c2, weight: latlayer1.weight, bias: latlayer1.bias))
    }

    func p1(p2: Tensor, c1: Tensor) -> Tensor {
        FeaturePyramid.upsampleAdd(p2, conv2d(c1, weight: latlayer2.weight, bias: latlayer2.bias))
    }
}
