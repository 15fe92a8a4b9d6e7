import Foundation
import LatentTensor
import LatentModels

/// Latents and CLIP scores of generated samples, the raw material of a zero-shot boundary.
public struct ScoredSamples: Sendable {
    /// The seeds (z = `RandomState(seed).randn(1, zDim)`).
    public var seeds: [UInt32]
    /// `[N, wDim]`: w = mapping(z) at ψ = 1.
    public var w: Tensor
    /// `cos(image, positive) − cos(image, negative)` per sample.
    public var scores: [Double]
}

/// Samples z from `seeds`, maps and synthesises them (const noise, in batches) and scores each
/// image with a two-class CLIP classifier (InterFaceGAN's data-collection step with CLIP as the
/// attribute predictor).
///
/// - Parameters:
///   - batchSize: images synthesised and encoded together (default 16).
///   - progress: `(done, total)` after each batch.
///   - inspect: sees each batch's sample range and images `[n, 3, R, R]` (e.g. to measure them).
public func scoreSamples(generator: StyleGAN2Generator, classifier: ZeroShotClassifier, seeds: [UInt32],
                         batchSize: Int = 16, progress: ((Int, Int) -> Void)? = nil,
                         inspect: ((Range<Int>, Tensor) -> Void)? = nil) throws -> ScoredSamples {
    guard !seeds.isEmpty else { throw EditingError("scoreSamples: no seeds") }
    guard batchSize >= 1 else { throw EditingError("scoreSamples: batchSize must be >= 1") }
    let w = mapFirstRows(generator: generator, z: zFromSeeds(seeds, zDim: generator.zDim))
    var scores: [Double] = []
    scores.reserveCapacity(seeds.count)
    var done = 0
    while done < seeds.count {
        let m = min(batchSize, seeds.count - done)
        let ws = broadcastToWs(w.slice(done ..< done + m), numWs: generator.numWs)
        let images = generator.synthesis(ws: ws, noiseMode: .const)
        scores += try classifier.binaryScores(features: classifier.imageFeatures(images))
        inspect?(done ..< done + m, images)
        done += m
        progress?(done, seeds.count)
    }
    return ScoredSamples(seeds: seeds, w: w, scores: scores)
}

/// InterFaceGAN's sample selection for a boundary: label each sample by which side of
/// `threshold` its score lies (0: closer to the positive prompts; the median: the upper half,
/// for a predictor biased towards one class) and keep, on each side, the `fraction` of samples
/// farthest from the threshold (the official code keeps the top and bottom `ratio` of all
/// samples; trimming each side separately keeps both classes when the split is uneven).
/// - Returns: indices into `scores` and their labels (true = positive), positives first.
public func selectConfident(scores: [Double], fraction: Double, threshold: Double = 0) throws -> (indices: [Int], labels: [Bool]) {
    guard fraction > 0, fraction <= 1 else { throw EditingError("confident fraction must be in (0, 1], got \(fraction)") }
    guard threshold.isFinite else { throw EditingError("threshold must be finite") }
    let pos = scores.indices.filter { scores[$0] > threshold }.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    let neg = scores.indices.filter { scores[$0] <= threshold }.sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    let kp = Int((Double(pos.count) * fraction).rounded(.up)), kn = Int((Double(neg.count) * fraction).rounded(.up))
    let keptPos = Array(pos.prefix(kp)), keptNeg = Array(neg.prefix(kn))
    return (keptPos + keptNeg, [Bool](repeating: true, count: keptPos.count) + [Bool](repeating: false, count: keptNeg.count))
}

/// The median of `scores` (upper median for an even count), the `threshold` that splits
/// samples into equal halves for `selectConfident`.
public func medianScore(_ scores: [Double]) -> Double {
    precondition(!scores.isEmpty, "medianScore of no scores")
    return scores.sorted()[scores.count / 2]
}
