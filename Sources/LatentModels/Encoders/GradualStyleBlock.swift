import Foundation
import LatentTensor

/// pSp's `GradualStyleBlock(in_c, out_c, spatial)`: log2(spatial) strided 3×3 convolutions
/// (stride 2, padding 1, bias) each followed by `nn.LeakyReLU()` (slope 0.01), bringing a
/// `spatial × spatial` map to 1×1, then rosinality's `EqualLinear(out_c, out_c, lr_mul=1)`
/// (y = x · (W/√in)ᵀ + b).
///
/// State-dict names: `convs.{0, 2, 4, …}.{weight, bias}` (the odd indices are the LeakyReLUs),
/// `linear.{weight, bias}`.
struct GradualStyleBlock: Sendable {
    let convs: [(weight: Tensor, bias: Tensor)]
    /// `linear.weight` times its equalized-lr scale 1/√in, rounded to float32 once as
    /// rosinality's `self.weight * self.scale` is.
    let linearWeight: Tensor
    let linearBias: Tensor
    let outChannels: Int

    static let negativeSlope: Float = 0.01

    init(_ w: EncoderWeights, _ prefix: String, inChannels: Int, outChannels: Int, spatial: Int) throws {
        let pools = Int(log2(Double(spatial)))
        var convs = [(weight: Tensor, bias: Tensor)]()
        for i in 0..<pools {
            let cin = i == 0 ? inChannels : outChannels
            convs.append((try w.take("\(prefix).convs.\(2 * i).weight", [outChannels, cin, 3, 3]),
                          try w.take("\(prefix).convs.\(2 * i).bias", [outChannels])))
        }
        self.convs = convs
        let scale = 1 / Float(outChannels).squareRoot()
        linearWeight = try w.take(prefix + ".linear.weight", [outChannels, outChannels]) * scale
        linearBias = try w.take(prefix + ".linear.bias", [outChannels])
        self.outChannels = outChannels
    }

    /// `[N, in, S, S]` → `[N, out]`. The strided convolutions must bring the map to 1×1 (as the
    /// official `x.view(-1, out_c)` assumes).
    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for c in convs {
            h = conv2d(h, weight: c.weight, bias: c.bias, stride: 2, padding: 1)
            h.mapInPlace { $0 > 0 ? $0 : $0 * GradualStyleBlock.negativeSlope }
        }
        precondition(h.shape[2] == 1 && h.shape[3] == 1,
                     "GradualStyleBlock: features of \(x.shape) end at \(h.shape[2])×\(h.shape[3]), not 1×1 (input larger than 256×256?)")
        return linear(h.reshaped([h.shape[0], outChannels]), weight: linearWeight, bias: linearBias)
    }
}
