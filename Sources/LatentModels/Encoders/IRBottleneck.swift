import LatentTensor

/// One residual unit of the IR / IR-SE backbone (`bottleneck_IR` / `bottleneck_IR_SE` in pSp's
/// `models/encoders/helpers.py`, from TreB1eN's InsightFace ArcFace):
///
///     res      = BN → conv3×3 (stride 1) → PReLU → conv3×3 (stride s) → BN [→ SE]
///     shortcut = MaxPool2d(1, s)            when in == depth (plain subsampling)
///              = conv1×1 (stride s) → BN    otherwise
///     out      = res + shortcut
///
/// State-dict names: `res_layer.{0: BN, 1: conv, 2: PReLU, 3: conv, 4: BN, 5: SE fc1/fc2}`,
/// `shortcut_layer.{0: conv, 1: BN}`. Convolutions have no bias.
struct IRBottleneck: Sendable {
    let inChannels: Int, depth: Int, stride: Int
    let bn0: BatchNorm2dLayer
    let conv1: Tensor        // [depth, in, 3, 3]
    let preluWeight: Tensor  // [depth]
    let conv2: Tensor        // [depth, depth, 3, 3]
    let bn4: BatchNorm2dLayer
    /// SE fc1 `[depth/16, depth, 1, 1]` and fc2 `[depth, depth/16, 1, 1]`, IR-SE only.
    let se: (fc1: Tensor, fc2: Tensor)?
    /// conv1×1 `[depth, in, 1, 1]` + BN when the channel count changes.
    let shortcut: (conv: Tensor, bn: BatchNorm2dLayer)?

    init(_ w: EncoderWeights, _ prefix: String, inChannels: Int, depth: Int, stride: Int, squeezeExcitation: Bool) throws {
        self.inChannels = inChannels; self.depth = depth; self.stride = stride
        let r = prefix + ".res_layer."
        bn0 = try BatchNorm2dLayer(w, r + "0", channels: inChannels)
        conv1 = try w.take(r + "1.weight", [depth, inChannels, 3, 3])
        preluWeight = try w.take(r + "2.weight", [depth])
        conv2 = try w.take(r + "3.weight", [depth, depth, 3, 3])
        bn4 = try BatchNorm2dLayer(w, r + "4", channels: depth)
        se = squeezeExcitation
            ? (try w.take(r + "5.fc1.weight", [depth / 16, depth, 1, 1]), try w.take(r + "5.fc2.weight", [depth, depth / 16, 1, 1]))
            : nil
        shortcut = inChannels == depth ? nil
            : (try w.take(prefix + ".shortcut_layer.0.weight", [depth, inChannels, 1, 1]),
               try BatchNorm2dLayer(w, prefix + ".shortcut_layer.1", channels: depth))
    }

    /// `[N, in, H, W]` → `[N, depth, ⌈H/s⌉, ⌈W/s⌉]`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        var res = conv2d(bn0(x), weight: conv1, stride: 1, padding: 1)
        res = prelu(res, weight: preluWeight)
        res = bn4(conv2d(res, weight: conv2, stride: stride, padding: 1))
        if let se { res = squeezeExcitation(res, fc1: se.fc1, fc2: se.fc2) }
        let short: Tensor
        if let shortcut {
            short = shortcut.bn(conv2d(x, weight: shortcut.conv, stride: stride, padding: 0))
        } else {
            short = stride == 1 ? x : maxPool2d(x, kernel: 1, stride: stride).output
        }
        res += short
        return res
    }
}
