import LatentTensor

/// Pixel L1 loss: per image the mean absolute difference over C·H·W of the tensors as given, or
/// with a mask `Σ m·|x − y| / (C·Σm)`. The gradient at `x == y` is 0 (torch's `sign`).
public struct PixelL1Loss: ImageLoss {
    public init() {}

    public func evaluate(reconstruction: Tensor, target: Tensor, mask: Tensor?) throws -> (loss: [Float], gradient: Tensor) {
        try pixelwiseLoss(reconstruction: reconstruction, target: target, mask: mask) { d in
            (abs(d), d > 0 ? 1 : (d < 0 ? -1 : 0))
        }
    }
}
