import Foundation
import LatentTensor
import LatentModels
import LatentCLIP

/// CLIP zero-shot classification of generator images (Radford et al. 2021, §3.1.4): each class
/// is one or more prompts whose normalised text embeddings are averaged and renormalised
/// (CLIP's prompt ensembling); an image's logits are `exp(logit_scale) · cos(image, class)`.
public struct ZeroShotClassifier: Sendable {
    /// Prompts of each class.
    public let classes: [[String]]
    /// `[K, embedDim]` unit class embeddings.
    public let classEmbeddings: Tensor
    public let clip: CLIPModel

    /// - Parameters:
    ///   - classes: for each class, one or more prompts (e.g. `[["a small ball"], ["a large ball"]]`).
    public init(clip: CLIPModel, tokenizer: CLIPTokenizer, classes: [[String]]) throws {
        guard classes.count >= 2, classes.allSatisfy({ !$0.isEmpty }) else {
            throw EditingError("zero-shot classifier: need at least two classes, each with at least one prompt")
        }
        var rows: [Float] = []
        for prompts in classes {
            let f = CLIPModel.l2Normalized(try clip.encodeText(prompts, tokenizer: tokenizer))   // [P, E]
            let e = f.shape[1]
            var mean = [Double](repeating: 0, count: e)
            for p in 0..<f.shape[0] { for j in 0..<e { mean[j] += Double(f[flat: p * e + j]) } }
            let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
            rows += mean.map { Float($0 / norm) }
        }
        self.classes = classes
        self.classEmbeddings = Tensor(shape: [classes.count, rows.count / classes.count], data: rows)
        self.clip = clip
    }

    /// A two-class classifier: class 0 = `negative`, class 1 = `positive`.
    public init(clip: CLIPModel, tokenizer: CLIPTokenizer, positive: [String], negative: [String]) throws {
        try self.init(clip: clip, tokenizer: tokenizer, classes: [negative, positive])
    }

    /// Unit image embeddings `[N, embedDim]` of generator images `[N, 3, H, W]` in [-1, 1]
    /// (clamped to [-1, 1] first, as saving them as 8-bit images would).
    public func imageFeatures(_ images: Tensor) throws -> Tensor {
        let clamped = images.map { min(max($0, -1), 1) }
        return CLIPModel.l2Normalized(try clip.encodeImage(try clip.preprocess(imagesInMinusOneOne: clamped)))
    }

    /// Cosine similarities `[N, K]` of unit image features `[N, embedDim]` to each class.
    public func similarities(features: Tensor) -> Tensor { matmul(features, classEmbeddings, transB: true) }

    /// Class probabilities `[N, K]`: softmax of `exp(logit_scale) · cos`.
    public func probabilities(features: Tensor) -> Tensor {
        Self.probabilities(cosines: similarities(features: features), logitScale: clip.logitScale)
    }

    /// CLIP's zero-shot probabilities from cosines `[N, K]`: each row's softmax of
    /// `exp(logitScale) · cos` (computed in Double).
    public static func probabilities(cosines cos: Tensor, logitScale: Float) -> Tensor {
        let n = cos.shape[0], k = cos.shape[1]
        let scale = Foundation.exp(Double(logitScale))
        var out = Tensor.zeros([n, k])
        for i in 0..<n {
            let logits = (0..<k).map { scale * Double(cos[flat: i * k + $0]) }
            let mx = logits.max()!
            let e = logits.map { Foundation.exp($0 - mx) }
            let s = e.reduce(0, +)
            for j in 0..<k { out[flat: i * k + j] = Float(e[j] / s) }
        }
        return out
    }

    /// Two-class score `cos(image, class 1) − cos(image, class 0)` per image: > 0 means class 1
    /// (the positive prompt) is closer; `σ(exp(logit_scale) · score)` is its probability.
    public func binaryScores(features: Tensor) throws -> [Double] {
        guard classes.count == 2 else { throw EditingError("binaryScores needs a two-class classifier, this one has \(classes.count)") }
        let cos = similarities(features: features)
        return (0..<cos.shape[0]).map { Double(cos[flat: $0 * 2 + 1]) - Double(cos[flat: $0 * 2]) }
    }
}
