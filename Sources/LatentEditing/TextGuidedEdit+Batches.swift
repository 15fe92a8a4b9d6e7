import LatentTensor
import LatentModels
import LatentCLIP

/// One latent of a batched text edit.
public struct TextEditItem: Sendable {
    /// `[1, numWs, wDim]`.
    public var ws: Tensor
    /// Noise maps `[1, H, W]` (or `[H, W]`) by layer; nil = the generator's const noise.
    public var noise: NoiseMaps?
    /// `[1, 1, R, R]` weights (1 = may change); nil = no mask.
    public var mask: Tensor?
    public init(ws: Tensor, noise: NoiseMaps? = nil, mask: Tensor? = nil) { self.ws = ws; self.noise = noise; self.mask = mask }
}

/// `textGuidedEdit` over many latents, `batchSize` at a time (latents of a batch are optimised
/// together but independently, see `textGuidedEdit`), each latent read only when its batch
/// starts so a large folder is never held in memory at once.
///
/// Failure isolation: a latent that `load` cannot provide is reported to `failed` and skipped;
/// an optimisation that fails fails its batch (every latent of it reported to `failed`). Masks:
/// in a batch where some latents have one, the others get an all-ones mask (free everywhere).
/// - Parameters:
///   - count: latents; `load(i)` provides latent `i`.
///   - progress: `(steps done, total steps, mean CLIP loss of the running batch)`, steps counted per latent.
///   - completed: latent `i`, its batch's result and its row `k` in that result.
///   - failed: latent `i` and why.
public func textGuidedEditInBatches(generator G: StyleGAN2Generator, clip: CLIPModel, count: Int, target: TextGuidedEditTarget,
                                    options: TextGuidedEditOptions, batchSize: Int,
                                    load: (Int) throws -> TextEditItem,
                                    progress: ((Int, Int, Float) -> Void)? = nil,
                                    completed: (Int, TextGuidedEditResult, Int) throws -> Void,
                                    failed: (Int, Error) -> Void) throws {
    guard batchSize >= 1 else { throw EditingError("text-guided edit: batchSize must be ≥ 1, got \(batchSize)") }
    let total = count * options.steps
    var start = 0
    while start < count {
        let indices = start ..< min(start + batchSize, count)
        start = indices.upperBound
        var items: [(index: Int, item: TextEditItem)] = []
        for i in indices {
            do { items.append((i, try load(i))) } catch { failed(i, error) }
        }
        guard !items.isEmpty else { continue }
        var o = options
        if items.contains(where: { $0.item.mask != nil }) {
            o.mask = Tensor.concatenate(items.map { $0.item.mask ?? Tensor(shape: [1, 1, G.resolution, G.resolution], repeating: 1) })
        }
        let done = (indices.lowerBound) * options.steps
        let result: TextGuidedEditResult
        do {
            result = try textGuidedEdit(generator: G, clip: clip, ws: Tensor.concatenate(items.map(\.item.ws)),
                                        noise: G.stackedNoise(items.map(\.item.noise)), target: target, options: o) { p in
                progress?(done + p.step * items.count, total, p.clipLoss.reduce(0, +) / Float(p.clipLoss.count))
            }
        } catch {
            for item in items { failed(item.index, error) }
            continue
        }
        for (k, item) in items.enumerated() { try completed(item.index, result, k) }
    }
}
