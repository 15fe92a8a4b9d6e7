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
    /// PTI's `max_pti_steps` is 350; 100 at lr 1e-2 reach more here (Bench/pti.md).
    public var numSteps: Int = 100
    /// PTI's `pti_learning_rate` is 3e-4.
    public var learningRate: Float = 1e-2
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
    /// Apply the regulariser every this many steps (PTI's `locality_regularization_interval`).
    public var localityInterval: Int = 4
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
    let n = pivots.shape[0]
    let regWs = localityWeight > 0 ? regularizerWs : nil
    let m = regWs?.shape[0] ?? 0
    // One batched pass for the pivots (const noise) and the regulariser's codes (no noise: zero
    // maps, which add exactly nothing), so the GEMMs see N + M columns at once.
    var ws = pivots, noise: NoiseMaps? = nil
    if let regWs {
        ws = Tensor.concatenate([pivots, regWs])
        var maps = NoiseMaps()
        for (name, c) in G.constNoise.maps {
            var data = [Float]()
            data.reserveCapacity((n + m) * c.count)
            for _ in 0..<n { data += c.storage }
            data += [Float](repeating: 0, count: m * c.count)
            maps[name] = Tensor(shape: [n + m] + c.shape, data: data)
        }
        noise = maps
    }
    let (image, tape) = G.synthesisForward(ws: ws, noiseMode: .const, noise: noise)
    let main = m == 0 ? image : image.slice(0 ..< n)
    let (lossValues, gradMain) = try loss.evaluate(reconstruction: main, target: targets, mask: mask)
    var total = lossValues.reduce(0) { $0 + Double($1) }
    var gradImage = gradMain
    if let regWs {
        let old = base.synthesis(ws: regWs, noiseMode: .none)
        let new = image.slice(n ..< n + m)
        let per = new.count / m
        var g = Tensor.zeros(new.shape)
        var reg: Double = 0
        let scale = 2 * localityWeight / Float(per)
        for i in 0..<new.count {
            let d = new.storage[i] - old.storage[i]
            reg += Double(d) * Double(d)
            g.storage[i] = scale * d
        }
        total += Double(localityWeight) * reg / Double(per)
        gradImage = Tensor.concatenate([gradMain, g])
    }
    let wg = G.synthesisBackward(tape: tape, gradImage: gradImage, needNoise: false, needWeights: true).weights!
    var grads = [String: Tensor]()
    for name in names { grads[name] = wg[name]! }
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
///   - rank: tune each weight's difference as a rank-r product L·R (LoRA-style; nil: full
///     differences); biases, and weights whose factors would be larger than they are, are full.
///     The returned generator is the base plus the returned delta, exactly what loading the
///     delta file restores.
///   - halfPrecision: round the final delta to float16 (stored as F16: half the bytes).
///   - progress: after each step, with the step (1-based) and the images' losses.
/// - Throws: `ProjectorError` for bad shapes or options or a non-finite loss; loss errors.
public func tuneGenerator(base: StyleGAN2Generator, pivots: Tensor, targets: Tensor, mask: Tensor? = nil, loss: ImageLoss,
                          options: PivotalTuningOptions = PivotalTuningOptions(), rank: Int? = nil,
                          halfPrecision: Bool = false, progress: ((Int, [Float]) -> Void)? = nil) throws -> PivotalTuningResult {
    let n = targets.shape.first ?? 0
    guard pivots.rank == 3, pivots.shape == [n, base.numWs, base.wDim], n >= 1 else {
        throw ProjectorError("pivots must be [\(n), \(base.numWs), \(base.wDim)], got \(pivots.shape)")
    }
    guard options.numSteps >= 0, options.learningRate > 0, options.learningRate.isFinite,
          options.localityWeight >= 0, options.localityWeight.isFinite, options.localityAlpha > 0, options.localityInterval >= 1, (rank ?? 1) >= 1 else {
        throw ProjectorError("tuning needs steps ≥ 0, a positive learning rate, λ ≥ 0, α > 0, an interval ≥ 1 and a rank ≥ 1")
    }
    let names = try tunedParameterNames(generator: base, options: options)
    // Adam's parameters: a full tensor per name, or with a rank the factors L [O, r] (zeros)
    // and R [r, I·k·k] (N(0, 1/r), so a first step of L moves ΔW = L·R by about the learning
    // rate, as full tuning does) of each weight — the delta file then stores exactly what was
    // tuned, instead of a truncation of a full-rank difference.
    var params = [Tensor]()
    var layout = [(name: String, index: Int, lowRank: Bool)]()
    var initRng = NumpyRandomState(seed: options.seed &+ 1)
    for name in names {
        let p = base.parameters[name]!
        // Factors only where they are smaller than the difference itself (a narrow layer at a
        // high rank tunes and stores its full difference).
        if let rank, p.rank == 4, rank * (p.shape[0] + p.count / p.shape[0]) < p.count {
            let o = p.shape[0], k = p.count / o
            layout.append((name, params.count, true))
            params.append(Tensor.zeros([o, rank]))
            params.append(Tensor(shape: [rank, k], data: initRng.randn(count: rank * k).map { Float($0 / Double(rank).squareRoot()) }))
        } else {
            layout.append((name, params.count, false))
            params.append(p)
        }
    }
    func currentDelta() throws -> GeneratorDelta {
        var diffs = [String: GeneratorDelta.Difference]()
        for (name, i, lowRank) in layout {
            if lowRank {
                diffs[name] = .lowRank(left: params[i], right: params[i + 1], shape: base.parameters[name]!.shape)
            } else {
                diffs[name] = .full(params[i] - base.parameters[name]!)
            }
        }
        return GeneratorDelta(baseFingerprint: base.fingerprint, differences: diffs, rank: rank)
    }
    func gradients(_ g: [String: Tensor]) -> [Tensor] {
        var out = [Tensor]()
        for (name, i, lowRank) in layout {
            let gw = g[name]!
            guard lowRank else { out.append(gw); continue }
            // ∂L = ∂W·Rᵀ, ∂R = Lᵀ·∂W with ∂W viewed as [O, I·k·k].
            let o = params[i].shape[0], k = params[i + 1].shape[1]
            let w2 = gw.reshaped([o, k])
            out.append(matmul(w2, params[i + 1], transB: true))
            out.append(matmul(params[i], w2, transA: true))
        }
        return out
    }
    /// The parameters the next step renders with: base + L·R by GEMM for the factors (the final
    /// delta goes through `GeneratorDelta.dense`, whose Double product every load reproduces;
    /// here only the optimisation sees the last-bit difference).
    func stepParameters() -> [String: Tensor] {
        var out = [String: Tensor]()
        for (name, i, lowRank) in layout {
            let b = base.parameters[name]!
            guard lowRank else { out[name] = params[i]; continue }
            var w = b
            let l = params[i], r = params[i + 1]
            let o = l.shape[0], q = l.shape[1], k = r.shape[1]
            l.withUnsafeBufferPointer { pl in
                r.withUnsafeBufferPointer { pr in
                    w.withUnsafeMutableBufferPointer { pw in
                        sgemm(m: o, n: k, k: q, a: pl.baseAddress!, b: pr.baseAddress!, beta: 1, c: pw.baseAddress!)
                    }
                }
            }
            out[name] = w
        }
        return out
    }
    var adam = Adam(learningRate: options.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
    var rng = NumpyRandomState(seed: options.seed)
    var G = base
    var history = [Float]()
    var bestSoFar = Float.infinity, bestAtWindowStart = Float.infinity, windowStart = 0
    var stepsRun = 0
    for step in 0..<options.numSteps {
        let regWs = options.localityWeight > 0 && step % options.localityInterval == 0
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
        adam.step(&params, grads: gradients(obj.gradients))
        G = try base.replacingParameters(stepParameters(), computeFingerprint: false)
        stepsRun = step + 1
        progress?(stepsRun, obj.imageLoss)
    }
    let delta = halfPrecision ? try currentDelta().roundedToHalf() : try currentDelta()
    return PivotalTuningResult(delta: delta, generator: try delta.applied(to: base), lossHistory: history, stepsRun: stepsRun)
}
