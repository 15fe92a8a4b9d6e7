import LatentTensor

/// `torch.nn.BatchNorm2d` in eval mode (running statistics, eps 1e-5), folded at load time into
/// the per-channel scale and shift that `batchNorm2dEval` applies.
struct BatchNorm2dLayer: Sendable {
    let scale: [Float]
    let shift: [Float]

    /// Reads `prefix.{weight, bias, running_mean, running_var}` `[channels]`.
    init(_ w: EncoderWeights, _ prefix: String, channels: Int, eps: Float = 1e-5) throws {
        let s = [channels]
        (scale, shift) = batchNorm2dEvalCoefficients(
            weight: try w.take(prefix + ".weight", s), bias: try w.take(prefix + ".bias", s),
            runningMean: try w.take(prefix + ".running_mean", s), runningVar: try w.take(prefix + ".running_var", s),
            eps: eps, channels: channels)
    }

    /// `[N, C, H, W]` → `[N, C, H, W]`.
    func callAsFunction(_ x: Tensor) -> Tensor { channelAffine(x, scale: scale, shift: shift) }
}
