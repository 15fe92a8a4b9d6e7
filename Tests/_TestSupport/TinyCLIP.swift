import Foundation
import LatentTensor
import LatentCLIP

/// Tiny random CLIP: width 8, 2 heads, 2 layers, patch 4, resolution 8, context 6.
public let tinyCLIPConfig = CLIPConfig(embedDim: 5, imageResolution: 8, visionLayers: 2, visionWidth: 8, visionPatchSize: 4,
                                   visionHeads: 2, contextLength: 6, vocabSize: 23, transformerWidth: 8,
                                   transformerHeads: 2, transformerLayers: 2)

/// Random weights for `tinyCLIPConfig`: fan-in scaled, LayerNorm gains near 1.
public func tinyCLIPWeights(seed: UInt64 = 7) -> [String: Tensor] {
    var rng = TestRNG(seed: seed)
    var weights: [String: Tensor] = [:]
    for (name, shape) in tinyCLIPConfig.parameterShapes.sorted(by: { $0.key < $1.key }) {
        let t: Tensor
        if name == "logit_scale" {
            t = Tensor(shape: [], data: [Float(Foundation.log(14.0))])
        } else if name.contains("ln_") && name.hasSuffix(".weight") {
            t = rng.tensor(shape, 0.6, 1.4)
        } else if name.hasSuffix("bias") {
            t = rng.tensor(shape, -0.2, 0.2)
        } else if name.hasSuffix("embedding") || name == "token_embedding.weight" {
            t = rng.tensor(shape, -0.8, 0.8)
        } else {
            // Fan-in scaled, so every layer keeps activations O(1).
            let fanIn = name == "visual.proj" || name == "text_projection" ? shape[0] : shape.dropFirst().reduce(1, *)
            let a = 1.7 / Double(fanIn).squareRoot()
            t = rng.tensor(shape, -a, a)
        }
        weights[name] = t
    }
    return weights
}
