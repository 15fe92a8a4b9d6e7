import Foundation
import LatentTensor
import LatentModels
import LatentCLIP
import LatentEditing

/// Measures every `SceneAttribute` of images at once: CLIP zero-shot probability of the
/// positive class (one image encoding shared by all attributes) and pixel statistics.
public struct AttributeProbe: Sendable {
    public let classifiers: [SceneAttribute: ZeroShotClassifier]

    public init(clip: CLIPModel, tokenizer: CLIPTokenizer) throws {
        var c: [SceneAttribute: ZeroShotClassifier] = [:]
        for a in SceneAttribute.allCases {
            c[a] = try ZeroShotClassifier(clip: clip, tokenizer: tokenizer, positive: a.positivePrompts, negative: a.negativePrompts)
        }
        classifiers = c
    }

    /// One image's measurements.
    public struct Reading: Sendable {
        /// CLIP probability of each attribute's positive class.
        public var probability: [SceneAttribute: Double]
        public var stats: SceneStatistics
    }

    /// Readings of images `[N, 3, H, W]` in [-1, 1].
    public func read(_ images: Tensor) throws -> [Reading] {
        let n = images.shape[0]
        let features = try classifiers[.size]!.imageFeatures(images)
        var probs = [[SceneAttribute: Double]](repeating: [:], count: n)
        for (a, c) in classifiers {
            let p = c.probabilities(features: features)
            for i in 0..<n { probs[i][a] = Double(p[flat: i * 2 + 1]) }
        }
        return (0..<n).map { Reading(probability: probs[$0], stats: sceneStatistics(image: images.row($0))) }
    }

    /// The pixel statistic that tracks an attribute, signed so that it grows towards the
    /// positive class: object height (size), object R − B (colour), 0.5 − centroid x
    /// (position: left is positive), ellipse misfit negated (shape: a sphere's outline is an
    /// ellipse, a cube's is not), wall R − B (wall).
    public static func pixelValue(_ s: SceneStatistics, _ a: SceneAttribute) -> Double {
        switch a {
        case .size: return s.objectHeight
        case .colour: return s.objectRedMinusBlue
        case .position: return 0.5 - s.centroidX
        case .shape: return -s.ellipseMisfit
        case .wall: return s.wallRedMinusBlue
        }
    }

    /// Name of `pixelValue` for reports.
    public static func pixelName(_ a: SceneAttribute) -> String {
        switch a {
        case .size: "object height"
        case .colour: "object R−B"
        case .position: "0.5 − centroid x"
        case .shape: "−ellipse misfit"
        case .wall: "wall R−B"
        }
    }
}
