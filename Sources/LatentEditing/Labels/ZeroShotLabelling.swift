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
public func scoreSamples(generator: StyleGAN2Generator, classifier: ZeroShotClassifier, seeds: [UInt32],
                         batchSize: Int = 16, progress: ((Int, Int) -> Void)? = nil) throws -> ScoredSamples {
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
        done += m
        progress?(done, seeds.count)
    }
    return ScoredSamples(seeds: seeds, w: w, scores: scores)
}

/// InterFaceGAN's sample selection for a boundary: label each sample by the sign of its score
/// and keep, on each side, the `fraction` of samples with the largest |score| (the official
/// code keeps the top and bottom `ratio` of all samples; with a biased predictor that would
/// starve one class, so here each side is trimmed separately).
/// - Returns: indices into `scores` and their labels (true = positive), positives first.
public func selectConfident(scores: [Double], fraction: Double) throws -> (indices: [Int], labels: [Bool]) {
    guard fraction > 0, fraction <= 1 else { throw EditingError("confident fraction must be in (0, 1], got \(fraction)") }
    let pos = scores.indices.filter { scores[$0] > 0 }.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    let neg = scores.indices.filter { scores[$0] <= 0 }.sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    let kp = Int((Double(pos.count) * fraction).rounded(.up)), kn = Int((Double(neg.count) * fraction).rounded(.up))
    let keptPos = Array(pos.prefix(kp)), keptNeg = Array(neg.prefix(kn))
    return (keptPos + keptNeg, [Bool](repeating: true, count: keptPos.count) + [Bool](repeating: false, count: keptNeg.count))
}
