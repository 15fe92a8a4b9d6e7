import Foundation
import LatentTensor
import LatentModels

/// Generator tuning of Pivotal Tuning Inversion (Roich et al., `single_id_coach.py` /
/// `multi_id_coach.py`): with the pivot latents fixed, Adam on the synthesis convolutions so that
/// `G(pivot)` reproduces the targets, plus PTI's locality regulariser
/// (`Space_Regulizer`): each step, for a random `w_z = mapping(z, ψ 0.5)`, the code
/// `w_r = pivot + α (w_z − pivot)/‖w_z − pivot‖` (norm over the whole `[numWs, wDim]` code, as
/// PTI's `torch.norm`) must render as the base generator renders it (noise mode none), weighted by λ.
public struct PivotalTuningOptions: Sendable, Equatable {
    /// PTI's `max_pti_steps`.
    public var numSteps: Int = 350
    /// PTI's `pti_learning_rate`.
    public var learningRate: Float = 3e-4
    /// Convolutions to tune by short name (`"b8.conv0"`); nil: all of them (PTI tunes the whole
    /// generator; ToRGB, affines and mapping stay frozen here so edits keep their meaning).
    public var layers: [String]? = nil
    /// Tune the convolutions' biases with their weights.
    public var tuneBiases: Bool = true
    /// Stop when every image's loss is ≤ this (PTI stops at LPIPS ≤ 0.06); nil: never.
    public var stopLoss: Float? = nil
    /// Stop when the mean image loss has not improved by `minRelativeImprovement` over `patience` steps.
    public var earlyStop: EarlyStop? = EarlyStop(patience: 40, minRelativeImprovement: 1e-2)
    /// λ of the locality regulariser (PTI's `regulizer_l2_lambda`, with `regulizer_lambda` 1); 0 turns it off.
    public var localityWeight: Float = 0.1
    /// α: distance from the pivot of the regulariser's codes (PTI's `regulizer_alpha`).
    public var localityAlpha: Float = 30
    /// ψ of the random codes (PTI samples `mapping(z, truncation_psi=0.5)`).
    public var localityTruncationPsi: Float = 0.5
    /// Seed of the regulariser's z draws.
    public var seed: UInt32 = 0

    public init() {}
}

/// The outcome of tuning.
public struct PivotalTuningResult: Sendable {
    /// The tuned parameters as differences against the base.
    public var delta: GeneratorDelta
    /// Base + full delta: the tuned generator.
    public var generator: StyleGAN2Generator
    /// Mean image loss (unscaled) of each step, before its update.
    public var lossHistory: [Float]
    public var stepsRun: Int
}

/// Objective of one tuning step and its gradient w.r.t. the tuned parameters.
public struct TuningObjective: Sendable {
    /// Image loss per image `[N]` (without the regulariser).
    public var imageLoss: [Float]
    /// Σ image loss + λ · Σ per-code mean squared difference of the regulariser's renders.
    public var total: Double
    /// ∂total/∂parameter for every name asked for.
    public var gradients: [String: Tensor]
}

/// Evaluates the tuning objective for `generator` (the tuned one) at `pivots`.
/// - Parameters:
///   - generator: the generator being tuned; `base`: the frozen original (regulariser reference).
///   - pivots: `[N, numWs, wDim]`; `targets`: `[N, C, R, R]` in [-1, 1]; `mask` as `ImageLoss`.
///   - regularizerWs: `[M, numWs, wDim]` codes that must render as `base` renders them (nil: none).
///   - localityWeight: λ on their per-code mean squared difference.
///   - names: parameters whose gradients to return.
public func tuningObjective(generator G: StyleGAN2Generator, base: StyleGAN2Generator, pivots: Tensor, targets: Tensor,
                            mask: Tensor?, loss: ImageLoss, regularizerWs: Tensor?, localityWeight: Float,
                            names: [String]) throws -> TuningObjective {
    let (image, tape) = G.synthesisForward(ws: pivots, noiseMode: .const)
    let (lossValues, gradImage) = try loss.evaluate(reconstruction: image, target: targets, mask: mask)
    var total = lossValues.reduce(0) { $0 + Double($1) }
    let wg = G.synthesisBackward(tape: tape, gradImage: gradImage, needNoise: false, needWeights: true).weights!
    var grads = [String: Tensor]()
    for name in names { grads[name] = wg[name]! }
    if let regWs = regularizerWs, localityWeight > 0 {
        let old = base.synthesis(ws: regWs, noiseMode: .none)
        let (new, tape2) = G.synthesisForward(ws: regWs, noiseMode: .none)
        let m = regWs.shape[0], per = new.count / m
        var g = Tensor.zeros(new.shape)
        var reg: Double = 0
        let scale = 2 * localityWeight / Float(per)
        for i in 0..<new.count {
            let d = new.storage[i] - old.storage[i]
            reg += Double(d) * Double(d)
            g.storage[i] = scale * d
        }
        total += Double(localityWeight) * reg / Double(per)
        let rg = G.synthesisBackward(tape: tape2, gradImage: g, needNoise: false, needWeights: true).weights!
        for name in names {
            var a = grads[name]!
            let b = rg[name]!
            for i in 0..<a.count { a.storage[i] += b.storage[i] }
            grads[name] = a
        }
    }
    return TuningObjective(imageLoss: lossValues, total: total, gradients: grads)
}

/// PTI's regulariser codes: per pivot, `pivot + α (w_z − pivot)/‖w_z − pivot‖` for `w_z` =
/// `mapping(z, ψ)` with z drawn from `rng`. - Returns: `[N, numWs, wDim]`.
public func localityCodes(base: StyleGAN2Generator, pivots: Tensor, alpha: Float, truncationPsi: Float,
                          rng: inout NumpyRandomState) -> Tensor {
    let n = pivots.shape[0], per = pivots.count / n
    let z = Tensor(shape: [n, base.zDim], data: rng.randn(count: n * base.zDim).map(Float.init))
    let wz = base.mapping(z: z, truncationPsi: truncationPsi)
    var out = pivots
    for s in 0..<n {
        var norm: Double = 0
        for j in 0..<per { let d = Double(wz.storage[s * per + j] - pivots.storage[s * per + j]); norm += d * d }
        let f = Double(alpha) / max(norm.squareRoot(), 1e-12)
        for j in 0..<per {
            let p = pivots.storage[s * per + j]
            out.storage[s * per + j] = p + Float(f * Double(wz.storage[s * per + j] - p))
        }
    }
    return out
}

/// The parameter names tuning changes under `options` (in forward order).
/// - Throws: `ProjectorError` for a layer name the generator does not have.
public func tunedParameterNames(generator G: StyleGAN2Generator, options: PivotalTuningOptions) throws -> [String] {
    let all = G.convolutionLayerNames
    let layers = options.layers ?? all
    if let bad = layers.first(where: { !all.contains($0) }) {
        throw ProjectorError("no convolution '\(bad)' to tune (this generator has \(all.joined(separator: ", ")))")
    }
    return all.filter(layers.contains).flatMap { l in
        ["synthesis.\(l).weight"] + (options.tuneBiases ? ["synthesis.\(l).bias"] : [])
    }
}

/// Tunes `base`'s convolutions so that `G(pivots)` (const noise) reproduces `targets`: one
/// tuned generator for the whole batch (PTI's multi-ID coach when N > 1; call it per image for
/// single-image tuning).
/// - Parameters:
///   - rank: store weight differences at this rank (nil: full); the returned generator is the
///     base plus the stored delta, exactly what loading the delta file restores.
///   - progress: after each step, with the step (1-based) and the images' losses.
/// - Throws: `ProjectorError` for bad shapes or options or a non-finite loss; loss errors.
public func tuneGenerator(base: StyleGAN2Generator, pivots: Tensor, targets: Tensor, mask: Tensor? = nil, loss: ImageLoss,
                          options: PivotalTuningOptions = PivotalTuningOptions(), rank: Int? = nil,
                          progress: ((Int, [Float]) -> Void)? = nil) throws -> PivotalTuningResult {
    let n = targets.shape.first ?? 0
    guard pivots.rank == 3, pivots.shape == [n, base.numWs, base.wDim], n >= 1 else {
        throw ProjectorError("pivots must be [\(n), \(base.numWs), \(base.wDim)], got \(pivots.shape)")
    }
    guard options.numSteps >= 0, options.learningRate > 0, options.learningRate.isFinite,
          options.localityWeight >= 0, options.localityWeight.isFinite, options.localityAlpha > 0 else {
        throw ProjectorError("tuning needs steps ≥ 0, a positive learning rate, λ ≥ 0 and α > 0")
    }
    let names = try tunedParameterNames(generator: base, options: options)
    var params = names.map { base.parameters[$0]! }
    var adam = Adam(learningRate: options.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
    var rng = NumpyRandomState(seed: options.seed)
    var G = base
    var history = [Float]()
    var bestSoFar = Float.infinity, bestAtWindowStart = Float.infinity, windowStart = 0
    var stepsRun = 0
    for step in 0..<options.numSteps {
        let regWs = options.localityWeight > 0
            ? localityCodes(base: base, pivots: pivots, alpha: options.localityAlpha, truncationPsi: options.localityTruncationPsi, rng: &rng)
            : nil
        let obj = try tuningObjective(generator: G, base: base, pivots: pivots, targets: targets, mask: mask, loss: loss,
                                      regularizerWs: regWs, localityWeight: options.localityWeight, names: names)
        let mean = obj.imageLoss.reduce(0, +) / Float(n)
        guard mean.isFinite, obj.total.isFinite else { throw ProjectorError("tuning diverged at step \(step + 1): the loss is not finite") }
        history.append(mean)
        if let stop = options.stopLoss, obj.imageLoss.allSatisfy({ $0 <= stop }) { break }
        if let es = options.earlyStop {
            bestSoFar = min(bestSoFar, mean)
            if step == 0 { bestAtWindowStart = mean; windowStart = 0 }
            if step - windowStart >= es.patience {
                if bestSoFar > bestAtWindowStart * (1 - es.minRelativeImprovement) { break }
                bestAtWindowStart = bestSoFar; windowStart = step
            }
        }
        adam.step(&params, grads: names.map { obj.gradients[$0]! })
        G = try base.replacingParameters(Dictionary(uniqueKeysWithValues: zip(names, params)), computeFingerprint: false)
        stepsRun = step + 1
        progress?(stepsRun, obj.imageLoss)
    }
    let delta = try GeneratorDelta(base: base, tuned: Dictionary(uniqueKeysWithValues: zip(names, params)), rank: rank)
    return PivotalTuningResult(delta: delta, generator: try delta.applied(to: base), lossHistory: history, stepsRun: stepsRun)
}
