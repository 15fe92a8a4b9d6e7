import Foundation
import LatentTensor
import LatentModels
import LatentCLIP
import LatentCore

/// Text-guided latent editing: StyleCLIP's latent optimisation (Patashnik et al. 2021,
/// `optimization/run_optimization.py`, edit mode) on the CPU.
///
/// Adam on offsets to the ws rows in `options.layers` (the others stay exactly w₀), one per row
/// or one shared (`options.space`), optionally confined to a subspace (`options.subspace`),
/// minimises
/// `TextGuidedEditObjective`: `1 − cos(CLIP(G(w)), text)` (or the directional
/// `1 − cos(CLIP(G(w)) − CLIP(G(w₀)), to − from)`) `+ λ Σ (w − w₀)²`, plus with a mask a pixel
/// term that keeps `G(w)` equal to `G(w₀)` outside it. The learning rate follows StyleCLIP's
/// `get_lr` (the projector's ramps). Noise maps stay fixed. Latents in a batch are optimised
/// together but independently (per-latent losses, elementwise Adam).
///
/// - Parameters:
///   - generator: the StyleGAN2 generator.
///   - clip: the CLIP model whose image tower scores `G(w)` (preprocessing included).
///   - ws: w₀ `[N, numWs, wDim]` (e.g. an inversion).
///   - noise: fixed noise maps by layer (`[H, W]` or `[N, H, W]`); nil = the generator's const noise.
///   - target: text features to move towards (see `TextGuidedEditTarget`).
///   - options: steps, learning rate, λ, layer range, mask, augmentation, seed.
///   - progress: called after each step.
public func textGuidedEdit(generator: StyleGAN2Generator, clip: CLIPModel, ws: Tensor, noise: NoiseMaps? = nil,
                           target: TextGuidedEditTarget, options: TextGuidedEditOptions = TextGuidedEditOptions(),
                           progress: ((TextGuidedEditProgress) -> Void)? = nil) throws -> TextGuidedEditResult {
    let start = Date()
    guard options.steps >= 0 else { throw EditingError("text-guided edit: steps must be ≥ 0, got \(options.steps)") }
    guard options.learningRate > 0, options.learningRate.isFinite else {
        throw EditingError("text-guided edit: learningRate must be positive, got \(options.learningRate)")
    }
    guard options.augmentations >= 0, options.jitter >= 0 else {
        throw EditingError("text-guided edit: augmentations and jitter must be ≥ 0")
    }
    guard options.minCrop > 0, options.minCrop <= 1 else {
        throw EditingError("text-guided edit: minCrop must be in (0, 1], got \(options.minCrop)")
    }
    let objective = try TextGuidedEditObjective(generator: generator, clip: clip, initialWs: ws, noise: noise, target: target,
                                                lambdaL2: options.lambdaL2, mask: options.mask,
                                                maskPixelWeight: options.maskPixelWeight)
    let numWs = generator.numWs
    let layers = options.layers ?? 0 ..< numWs
    guard !layers.isEmpty, layers.lowerBound >= 0, layers.upperBound <= numWs else {
        throw EditingError("text-guided edit: layer range \(layers.lowerBound)-\(layers.upperBound - 1) is outside 0-\(numWs - 1)")
    }
    let schedule = try ProjectorSchedule(numSteps: max(options.steps, 1), initialLearningRate: Double(options.learningRate),
                                         lrRampdownLength: options.lrRampdownLength, lrRampupLength: options.lrRampupLength)

    if let basis = options.subspace {
        guard basis.rank == 2, basis.shape[0] > 0, basis.shape[1] == generator.wDim, basis.isFinite else {
            throw EditingError("text-guided edit: subspace must be a finite [K, \(generator.wDim)] basis, got \(basis.shape)")
        }
    }
    let map = EditParametrization(layers: layers, shared: options.space == .w, basis: options.subspace,
                                  numWs: numWs, wDim: generator.wDim)
    var param = map.zeroParameters(batch: ws.shape[0])
    var adam = Adam(learningRate: options.learningRate)
    var rng = SplitMix64(seed: options.seed)
    var lossHistory: [Float] = [], clipHistory: [Float] = []
    let n = ws.shape[0]
    for step in 0..<options.steps {
        let current = map.latent(initial: ws, parameters: param)
        let views = [ImageView.identity] + randomViews(count: options.augmentations, resolution: generator.resolution,
                                                       jitter: options.jitter, flips: options.flips,
                                                       minCrop: options.minCrop, rng: &rng)
        let e = try objective.evaluate(ws: current, views: views)
        let total = e.loss.total
        guard total.allSatisfy({ $0.isFinite }), e.gradWs.isFinite else {
            throw EditingError("text-guided edit: the loss became non-finite at step \(step); try a lower learning rate")
        }
        lossHistory.append(total.reduce(0, +) / Float(n))
        clipHistory.append(e.loss.clip.reduce(0, +) / Float(n))
        let lr = Float(schedule.learningRate(step: step))
        var params = [param]
        adam.step(&params, grads: [map.gradient(e.gradWs)], learningRate: lr)
        param = params[0]
        progress?(TextGuidedEditProgress(step: step + 1, numSteps: options.steps, loss: total, clipLoss: e.loss.clip, learningRate: lr))
    }
    let finalWs = map.latent(initial: ws, parameters: param)
    let final = try objective.evaluate(ws: finalWs, needGradient: false)
    return TextGuidedEditResult(ws: finalWs, image: final.image, initialImage: objective.initialImage,
                                imageFeatures: final.features, initialImageFeatures: objective.initialFeatures,
                                lossHistory: lossHistory, clipLossHistory: clipHistory, finalLoss: final.loss,
                                seconds: Date().timeIntervalSince(start))
}
