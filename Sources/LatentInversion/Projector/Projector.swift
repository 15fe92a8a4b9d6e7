import Foundation
import LatentTensor
import LatentModels

/// What the projector reports after each step (for progress bars and logs).
public struct ProjectionProgress: Sendable {
    public var step: Int
    public var numSteps: Int
    /// Image loss per image (without the noise regulariser).
    public var loss: [Float]
    public var learningRate: Float
    /// The latent after this step, `[N, numWs, wDim]` (copy-on-write: free unless kept).
    public var ws: Tensor
    /// The noise maps after this step.
    public var noise: NoiseMaps
}

/// The outcome of optimising latents for a batch of target images.
public struct ProjectionResult: Sendable {
    /// `[N, numWs, wDim]` (in W space every row of an image is the same w).
    public var ws: Tensor
    /// Per-image noise maps `[N, H, W]` per layer (the generator's const maps broadcast when
    /// noise was not optimised).
    public var noise: NoiseMaps
    /// `G(ws, noise)`, `[N, C, R, R]` in [-1, 1].
    public var reconstruction: Tensor
    /// Mean image loss after each step.
    public var lossHistory: [Float]
    /// Final image loss per image.
    public var finalLoss: [Float]
    public var stepsRun: Int
    public var seconds: Double
}

/// Optimisation-based GAN inversion following NVIDIA's stylegan2-ada-pytorch `projector.py`:
/// Adam (β = 0.9, 0.999) on w (W or W+) and the noise maps, lr ramp-up over the first 5 % and
/// cosine ramp-down over the last 25 %, latent noise `w_std · 0.05 · max(0, 1 − t/0.75)²`
/// added to w at each step, the noise auto-correlation regulariser (weight 1e5) and noise
/// renormalisation after every step.
///
/// Images are optimised together in one batched forward/backward; because the total loss is a
/// sum over images and Adam works elementwise, each image follows the same trajectory it would
/// follow alone (up to float summation order).
///
/// - Parameters:
///   - generator: the StyleGAN2 generator.
///   - targets: `[N, C, R, R]` in [-1, 1] at the generator's resolution.
///   - loss: the image loss (pixel, MS-SSIM, spectral, LPIPS, … or a weighted sum).
///   - mask: optional `[N or 1, 1, R, R]` weights in [0, 1]: only masked pixels count.
///   - statistics: `w_avg` / `w_std`; estimated from `options.wAvgSamples` z when nil.
///   - options: schedule and space, see `ProjectorOptions`.
///   - progress: called after each step.
public func project(generator: StyleGAN2Generator,
                    targets: Tensor,
                    loss: ImageLoss,
                    mask: Tensor? = nil,
                    statistics: WStatistics? = nil,
                    options: ProjectorOptions = ProjectorOptions(),
                    progress: ((ProjectionProgress) -> Void)? = nil) throws -> ProjectionResult {
    let start = Date()
    let n = targets.shape[0], numWs = generator.numWs, wDim = generator.wDim
    guard targets.rank == 4, targets.shape[1] == generator.config.imgChannels,
          targets.shape[2] == generator.resolution, targets.shape[3] == generator.resolution else {
        throw ProjectorError("targets must be [N, \(generator.config.imgChannels), \(generator.resolution), \(generator.resolution)], got \(targets.shape)")
    }
    guard targets.isFinite else { throw ProjectorError("target images contain NaN or infinity") }
    let stats = try statistics ?? WStatistics.estimate(generator: generator, samples: options.wAvgSamples)
    let rows = options.space == .w ? 1 : numWs

    // Latent to optimise: [N, rows, wDim].
    var wOpt = try initialLatent(options.initialLatent, wAvg: stats.wAvg, n: n, rows: rows, numWs: numWs, wDim: wDim)
    var rng = NumpyRandomState(seed: options.seed)

    // Per-image noise maps [N, H, W].
    var noise = NoiseMaps()
    for name in generator.noiseLayerNames {
        let shp = generator.noiseShape(layer: name)!
        let hw = shp[0] * shp[1]
        switch (options.optimizeNoise, options.noiseInit) {
        case (true, .random):
            noise[name] = Tensor(shape: [n] + shp, data: rng.randn(count: n * hw).map(Float.init))
        default:
            let c = generator.constNoise[name]!
            noise[name] = Tensor(shape: [n] + shp, data: Array((0..<n).map { _ in c.storage }.joined()))
        }
    }
    let noiseNames = generator.noiseLayerNames

    let schedule = options.schedule
    var adam = Adam(learningRate: Float(schedule.initialLearningRate), beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
    var lossHistory: [Float] = []
    var stepsRun = 0
    var bestSoFar = Float.infinity, bestAtWindowStart = Float.infinity
    for step in 0..<schedule.numSteps {
        let wNoiseScale = Float(schedule.latentNoiseScale(step: step, wStd: Double(stats.wStd)))
        let lr = Float(schedule.learningRate(step: step))

        var wIn = wOpt
        if wNoiseScale > 0 {
            let eps = rng.randn(count: wIn.count)
            wIn.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count { p[i] += Float(eps[i]) * wNoiseScale }
            }
        }
        let ws = options.space == .w ? broadcastRows(wIn, to: numWs) : wIn
        let (image, tape) = generator.synthesisForward(ws: ws, noise: noise)
        let (imageLoss, gradImage) = try loss.evaluate(reconstruction: image, target: targets, mask: mask)
        guard imageLoss.allSatisfy({ $0.isFinite }) else {
            throw ProjectorError("loss became non-finite at step \(step) (\(imageLoss)); try a lower learning rate")
        }
        let grads = generator.synthesisBackward(tape: tape, gradImage: gradImage, needNoise: options.optimizeNoise)
        let gradW = options.space == .w ? sumRows(grads.ws, rows: numWs) : grads.ws

        var params = [wOpt]
        var paramGrads = [gradW]
        if options.optimizeNoise, let gNoise = grads.noise {
            // The regulariser acts on each image's maps separately (the reference has one image).
            let weight = Float(schedule.regularizeNoiseWeight)
            for name in noiseNames {
                var g = gNoise[name]!
                let maps = noise[name]!
                let plane = maps.count / n
                for i in 0..<n {
                    let (_, rg) = try noiseRegularization(noiseMaps: [maps.row(i)])
                    rg[0].withUnsafeBufferPointer { rp in
                        g.withUnsafeMutableBufferPointer { gp in
                            for k in 0..<plane { gp[i * plane + k] += weight * rp[k] }
                        }
                    }
                }
                params.append(maps)
                paramGrads.append(g)
            }
        }
        adam.step(&params, grads: paramGrads, learningRate: lr)
        wOpt = params[0]
        if options.optimizeNoise {
            for (j, name) in noiseNames.enumerated() {
                let maps = params[j + 1]
                noise[name] = Tensor.concatenate(try (0..<n).map { i in
                    let m = try normalizeNoise(maps.row(i))
                    return m.reshaped([1] + m.shape)
                })
            }
        }
        stepsRun = step + 1
        let mean = imageLoss.reduce(0, +) / Float(n)
        lossHistory.append(mean)
        if let progress {
            progress(ProjectionProgress(step: step + 1, numSteps: schedule.numSteps, loss: imageLoss, learningRate: lr,
                                        ws: options.space == .w ? broadcastRows(wOpt, to: numWs) : wOpt, noise: noise))
        }

        if let es = options.earlyStop {
            bestSoFar = min(bestSoFar, mean)
            if (step + 1) % es.patience == 0 {
                if bestAtWindowStart.isFinite && bestSoFar > bestAtWindowStart * (1 - es.minRelativeImprovement) { break }
                bestAtWindowStart = bestSoFar
            }
        }
    }

    let finalWs = options.space == .w ? broadcastRows(wOpt, to: numWs) : wOpt
    let reconstruction = generator.synthesis(ws: finalWs, noise: noise)
    let (finalLoss, _) = try loss.evaluate(reconstruction: reconstruction, target: targets, mask: mask)
    return ProjectionResult(ws: finalWs, noise: noise, reconstruction: reconstruction, lossHistory: lossHistory,
                            finalLoss: finalLoss, stepsRun: stepsRun, seconds: Date().timeIntervalSince(start))
}

/// An error in the projector's inputs or a diverging optimisation.
public struct ProjectorError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// `[N, 1, D]` → `[N, rows, D]` by repetition.
func broadcastRows(_ x: Tensor, to rows: Int) -> Tensor {
    let n = x.shape[0], d = x.shape[2]
    var out = Tensor.zeros([n, rows, d])
    x.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for i in 0..<n { for r in 0..<rows {
                (dst.baseAddress! + (i * rows + r) * d).update(from: src.baseAddress! + i * d, count: d)
            } }
        }
    }
    return out
}

/// Adjoint of `broadcastRows`: `[N, rows, D]` → `[N, 1, D]` by summation.
func sumRows(_ g: Tensor, rows: Int) -> Tensor {
    let n = g.shape[0], d = g.shape[2]
    var out = Tensor.zeros([n, 1, d])
    g.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for i in 0..<n { for r in 0..<rows { for c in 0..<d {
                dst[i * d + c] += src[(i * rows + r) * d + c]
            } } }
        }
    }
    return out
}

func initialLatent(_ given: Tensor?, wAvg: Tensor, n: Int, rows: Int, numWs: Int, wDim: Int) throws -> Tensor {
    guard let g = given else {
        return broadcastRows(Tensor(shape: [1, 1, wDim], data: wAvg.storage).reshaped([1, 1, wDim]), to: rows)
            .repeatedBatch(n)
    }
    guard g.isFinite else { throw ProjectorError("initial latent contains NaN or infinity") }
    switch g.shape {
    case [wDim]:
        return broadcastRows(g.reshaped([1, 1, wDim]), to: rows).repeatedBatch(n)
    case [numWs, wDim], [1, numWs, wDim]:
        let w = g.reshaped([1, numWs, wDim])
        return (rows == 1 ? w.meanRows() : w).repeatedBatch(n)
    case [n, numWs, wDim]:
        return rows == 1 ? g.meanRows() : g
    default:
        throw ProjectorError("initial latent shape \(g.shape) is not [\(wDim)], [\(numWs), \(wDim)] or [\(n), \(numWs), \(wDim)]")
    }
}

extension Tensor {
    /// `[1, ...]` → `[n, ...]` by repetition.
    func repeatedBatch(_ n: Int) -> Tensor {
        Tensor(shape: [n] + shape.dropFirst(), data: Array((0..<n).map { _ in storage }.joined()))
    }

    /// `[N, rows, D]` → `[N, 1, D]`, the mean over rows (a W+ latent squeezed into W).
    func meanRows() -> Tensor {
        let rows = shape[1]
        var s = sumRows(self, rows: rows)
        s.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] /= Float(rows) } }
        return s
    }
}
