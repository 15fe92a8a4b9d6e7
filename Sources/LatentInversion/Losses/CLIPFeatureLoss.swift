import Foundation
import LatentTensor
import LatentCLIP

/// CLIP image-feature loss: `1 − cos(CLIP(x̂), CLIP(y))` per image, with CLIP's own input
/// transform (resize to its resolution, normalise) in the differentiable chain. It compares what
/// CLIP sees (object kind, colours, layout at CLIP's coarse scale) rather than pixels; e4e and
/// the encoder literature add such perceptual identity terms next to L2/LPIPS.
///
/// The target's features are computed without a tape (it is a constant). No mask: CLIP looks at
/// the whole image.
public struct CLIPFeatureLoss: ImageLoss {
    public let clip: CLIPModel

    public init(clip: CLIPModel) { self.clip = clip }

    /// - Parameters: `reconstruction`, `target`: `[N, 3, H, W]` in [-1, 1].
    /// - Throws: `ImageInputError` for mismatched shapes, non-RGB images or a mask.
    public func evaluate(reconstruction: Tensor, target: Tensor, mask: Tensor?) throws -> (loss: [Float], gradient: Tensor) {
        let s = try validateImagePair(reconstruction, target)
        guard s.c == 3 else { throw ImageInputError("reconstruction", "CLIP needs RGB images, got \(s.c) channels") }
        guard mask == nil else { throw ImageInputError("mask", "the CLIP feature loss compares whole images; it takes no mask") }
        let (f, tape) = try clip.encodeImageWithGradient(imagesInMinusOneOne: reconstruction)
        let t = try clip.encodeImage(try clip.preprocess(imagesInMinusOneOne: target))
        let d = f.shape[1]
        var loss = [Float](repeating: 0, count: s.n)
        var grad = Tensor.zeros([s.n, d])
        f.withUnsafeBufferPointer { fp in t.withUnsafeBufferPointer { tp in grad.withUnsafeMutableBufferPointer { gp in
            for i in 0..<s.n {
                var dot = 0.0, nf = 0.0, nt = 0.0
                for k in 0..<d {
                    let a = Double(fp[i * d + k]), b = Double(tp[i * d + k])
                    dot += a * b; nf += a * a; nt += b * b
                }
                // A zero feature vector has no direction: clamp the norms as torch's cosine_similarity (eps 1e-8).
                let nfs = max(nf.squareRoot(), 1e-8), nts = max(nt.squareRoot(), 1e-8)
                let cos = dot / (nfs * nts)
                loss[i] = Float(1 - cos)
                // d(1 − cos)/df = −(t / (|f||t|) − cos · f / |f|²)
                for k in 0..<d {
                    let a = Double(fp[i * d + k]), b = Double(tp[i * d + k])
                    gp[i * d + k] = Float(-(b / (nfs * nts) - cos * a / (nfs * nfs)))
                }
            }
        } } }
        return (loss, try clip.backwardImage(tape: tape, gradFeatures: grad))
    }
}
