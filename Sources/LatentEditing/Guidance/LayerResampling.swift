import LatentTensor
import LatentModels
import LatentCore
import LatentCLIP

/// Diverse outputs under a fixed rest (BicycleGAN's "many plausible outputs for one input" on a
/// latent): rows `layers` of a latent are replaced by the rows of freshly mapped z, the other
/// rows kept, so what those rows control varies and the rest holds.
/// - Parameters:
///   - ws: `[1, numWs, wDim]`, the latent to vary.
///   - layers: the resampled rows (e.g. `LayerPreset.fine.range(numWs:)`).
///   - seeds: one z per sample, `np.random.RandomState(seed).randn(zDim)` as `generate --seeds`.
///   - truncationPsi: truncation of the fresh w towards `w_avg` (1 = none).
/// - Returns: `[seeds.count, numWs, wDim]`.
public func resampleLayers(generator G: StyleGAN2Generator, ws: Tensor, layers: Range<Int>, seeds: [UInt32],
                           truncationPsi: Float = 1) throws -> Tensor {
    guard ws.rank == 3, ws.shape[0] == 1, ws.shape[1] == G.numWs, ws.shape[2] == G.wDim else {
        throw EditingError("the latent must be [1, \(G.numWs), \(G.wDim)], got \(ws.shape)")
    }
    guard layers.lowerBound >= 0, layers.upperBound <= G.numWs, !layers.isEmpty else {
        throw EditingError("layer range \(wsRangeText(layers)) is outside 0-\(G.numWs - 1)")
    }
    guard !seeds.isEmpty else { throw EditingError("no samples to draw") }
    let fresh = G.mapping(z: zFromSeeds(seeds, zDim: G.zDim), truncationPsi: truncationPsi)
    let base = Tensor(shape: [seeds.count, G.numWs, G.wDim], data: (0..<seeds.count).flatMap { _ in ws.storage })
    return G.mixStyles(ws: base, mixWs: fresh, layers: layers)
}

/// BicycleGAN's diversity score: the mean distance over consecutive pairs of samples
/// (samples 0–1, 1–2, …; 20 samples give 19 pairs).
/// - Parameter distance: between samples `i` and `i + 1`.
public func consecutivePairDiversity(count: Int, distance: (Int, Int) throws -> Double) rethrows -> Double {
    precondition(count >= 2, "consecutivePairDiversity: needs at least 2 samples")
    var sum = 0.0
    for i in 0..<(count - 1) { sum += try distance(i, i + 1) }
    return sum / Double(count - 1)
}

/// Mean absolute pixel difference of two `[C, H, W]` images in [-1, 1], on the [0, 1] scale.
public func pixelL1Distance(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "pixelL1Distance: \(a.shape) vs \(b.shape)")
    var s = 0.0
    for q in 0..<a.count { s += abs(Double(a.storage[q]) - Double(b.storage[q])) }
    return s / Double(a.count) / 2
}

/// 1 − cos of two feature vectors (e.g. CLIP image embeddings).
public func cosineDistance(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "cosineDistance: \(a.count) vs \(b.count)")
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) { dot += x * y; na += x * x; nb += y * y }
    guard na > 0, nb > 0 else { return 1 }
    return 1 - dot / (na * nb).squareRoot()
}

/// The diversity of samples `[N, C, R, R]` (N ≥ 2) by the consecutive-pair protocol: pixel L1
/// and, with a CLIP model, the cosine distance of CLIP's image embeddings.
public struct SampleDiversity: Sendable, Equatable {
    public var pixelL1: Double
    public var clipCosine: Double?
    public var pairs: Int

    public init(images: Tensor, clip: CLIPModel?) throws {
        let n = images.shape[0]
        guard images.rank == 4, n >= 2 else { throw EditingError("diversity needs [N ≥ 2, C, R, R] samples, got \(images.shape)") }
        pixelL1 = consecutivePairDiversity(count: n) { pixelL1Distance(images.row($0), images.row($1)) }
        if let clip {
            let f = try clip.encodeImage(try clip.preprocess(imagesInMinusOneOne: images))
            let rows = (0..<n).map { f.row($0).doubles }
            clipCosine = consecutivePairDiversity(count: n) { cosineDistance(rows[$0], rows[$1]) }
        } else {
            clipCosine = nil
        }
        pairs = n - 1
    }
}
