import LatentTensor

/// Pixel L2 loss: per image the mean squared difference over C·H·W of the tensors as given
/// (no range mapping; on [-1, 1] images this is the "L2" of the pSp/e4e papers), or with a mask
/// `Σ m·(x − y)² / (C·Σm)`.
public struct PixelL2Loss: ImageLoss {
    public init() {}

    public func evaluate(reconstruction: Tensor, target: Tensor, mask: Tensor?) throws -> (loss: [Float], gradient: Tensor) {
        try pixelwiseLoss(reconstruction: reconstruction, target: target, mask: mask) { d in (d * d, 2 * d) }
    }
}
