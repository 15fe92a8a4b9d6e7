import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentInversion

/// One training batch: generator samples first (with their ws), then real images; or, for a
/// guidance encoder, paired maps (the encoder's input) and photos (the targets).
struct TrainingBatch {
    /// `[B, 3, R, R]` in [-1, 1]: the targets (and the encoder's input when `inputs` is nil).
    var images: Tensor
    /// `[B, C, R, R]` guidance maps encoded instead of `images` (nil for image encoders).
    var inputs: Tensor? = nil
    /// `[S, numWs, wDim]`, the ws of the first S = `targetWsCount` images (generator samples, then
    /// real images or paired photos whose W+ codes are known).
    var ws: Tensor?
    var targetWsCount: Int
}

/// Draws batches: z ~ N(0, I) mapped and rendered by the generator (const noise, ψ = 1), and real
/// images from a folder listing (decoded and resized to R like projector targets, kept in memory
/// once loaded). Every draw comes from the caller's `GaussianStream`, so a batch depends only on
/// that stream's state (what a checkpoint stores).
final class TrainingData {
    let generator: StyleGAN2Generator
    let realPaths: [String]
    let realPerBatch: Int
    let batchSize: Int
    /// Paired maps → photos (a guidance encoder); then every batch is drawn from the pairs.
    let pairs: GuidancePairs?
    /// `[realPaths.count, numWs, wDim]`: W+ codes of the real images (latent targets), or nil.
    let realLatents: Tensor?
    private var cache: [Int: Tensor] = [:]
    private var mapCache: [Int: Tensor] = [:]

    /// - Parameters:
    ///   - realImages: absolute paths (checked readable up front by `listTrainingImages`).
    ///   - realLatents: `[realImages.count, numWs, wDim]` codes of the real images, or nil.
    init(generator: StyleGAN2Generator, realImages: [String], batchSize: Int, realFraction: Double,
         pairs: GuidancePairs? = nil, realLatents: Tensor? = nil) {
        self.generator = generator
        self.pairs = pairs
        self.realLatents = pairs?.latents ?? realLatents
        realPaths = pairs?.photos ?? realImages
        self.batchSize = batchSize
        realPerBatch = pairs != nil ? batchSize
            : realImages.isEmpty ? 0 : min(batchSize, max(0, Int((Double(batchSize) * realFraction).rounded())))
    }

    /// Guidance map `index` as `[1, C, R, R]` (pairs mode).
    func map(_ index: Int) throws -> Tensor {
        if let t = mapCache[index] { return t }
        let p = pairs!, r = generator.resolution
        let m = try loadGuidanceMap(path: p.maps[index], kind: p.kind, classes: p.classes, resolution: r).tensor
        let t = m.reshaped([1] + m.shape)
        mapCache[index] = t
        return t
    }

    /// Generator samples for `count` z drawn from `rng`: images and ws.
    func synthetic(count: Int, rng: inout GaussianStream) -> (images: Tensor, ws: Tensor) {
        let z = Tensor(shape: [count, generator.zDim], data: (0..<(count * generator.zDim)).map { _ in Float(rng.next()) })
        let ws = generator.mapping(z: z)
        return (generator.synthesis(ws: ws), ws)
    }

    /// Real image `index` as `[1, 3, R, R]`.
    func real(_ index: Int) throws -> Tensor {
        if let t = cache[index] { return t }
        let r = generator.resolution
        let t = try loadProjectionTarget(path: realPaths[index], resolution: r).reshaped([1, 3, r, r])
        cache[index] = t
        return t
    }

    func batch(rng: inout GaussianStream) throws -> TrainingBatch {
        if pairs != nil {
            var maps = [Tensor](), photos = [Tensor](), ws = [Tensor]()
            for _ in 0..<batchSize {
                let i = min(Int(rng.uniform() * Double(realPaths.count)), realPaths.count - 1)
                maps.append(try map(i)); photos.append(try real(i))
                if let realLatents { ws.append(realLatents.slice(i ..< i + 1)) }
            }
            return TrainingBatch(images: Tensor.concatenate(photos), inputs: Tensor.concatenate(maps),
                                 ws: ws.isEmpty ? nil : Tensor.concatenate(ws), targetWsCount: ws.count)
        }
        let s = batchSize - realPerBatch
        var parts = [Tensor](), ws = [Tensor]()
        if s > 0 {
            let syn = synthetic(count: s, rng: &rng)
            parts.append(syn.images)
            ws.append(syn.ws)
        }
        for _ in 0..<realPerBatch {
            let i = min(Int(rng.uniform() * Double(realPaths.count)), realPaths.count - 1)
            parts.append(try real(i))
            if let realLatents { ws.append(realLatents.slice(i ..< i + 1)) }
        }
        // Without real latents only the samples (first) have ws; with them every image does.
        let known = s + (realLatents == nil ? 0 : realPerBatch)
        return TrainingBatch(images: Tensor.concatenate(parts), ws: ws.isEmpty ? nil : Tensor.concatenate(ws), targetWsCount: known)
    }

    /// Fixed targets for the sample strip: up to half real (spread over the listing), the rest
    /// generator samples from their own stream (the training stream is not touched); in pairs
    /// mode `count` pairs spread over the listing, with their maps.
    func sampleTargets(count: Int, seed: UInt64) throws -> (targets: Tensor, inputs: Tensor?)? {
        guard count > 0 else { return nil }
        if pairs != nil {
            let k = min(count, realPaths.count)
            let idx = (0..<k).map { $0 * realPaths.count / k }
            return (Tensor.concatenate(try idx.map { try real($0) }), Tensor.concatenate(try idx.map { try map($0) }))
        }
        let nReal = min(realPaths.count, realPaths.isEmpty ? 0 : max(1, count / 2))
        var parts = [Tensor]()
        for k in 0..<nReal { parts.append(try real(k * realPaths.count / nReal)) }
        if count - nReal > 0 {
            var rng = GaussianStream(seed: seed ^ 0x5A4D_504C_4553_5452)
            parts.append(synthetic(count: count - nReal, rng: &rng).images)
        }
        return (Tensor.concatenate(parts), nil)
    }
}

/// Every image file under `folder` (sorted, as `listImages`), each probed so an unreadable one is
/// refused before training starts.
/// - Throws: `EncoderError` naming the folder (empty, missing) or the first bad file.
public func listTrainingImages(folder: String) throws -> [String] {
    // listImages refuses a folder without images ("no images under DIR"), as `project` does.
    let names: [String]
    do { names = try listImages(root: folder) } catch { throw EncoderError("\(error)") }
    let paths = names.map { URL(fileURLWithPath: folder).appendingPathComponent($0).path }
    for p in paths {
        do { _ = try probeImage(path: p) } catch { throw EncoderError("\(error)".hasPrefix(p) ? "\(error)" : "\(p): \(error)") }
    }
    return paths
}
