import Foundation
import LatentTensor
import LatentModels

/// What the projector reports after each step (for progress bars and logs).
public struct ProjectionProgress: Sendable {
    public var step: Int
    public var numSteps: Int
    /// Image loss per image of this step (unscaled, without the noise regulariser).
    public var loss: [Float]
    public var learningRate: Float
    /// The latent after this step, `[N, numWs, wDim]` (copy-on-write: free unless kept).
    public var ws: Tensor
    /// The noise maps after this step.
    public var noise: NoiseMaps

    public init(step: Int, numSteps: Int, loss: [Float], learningRate: Float, ws: Tensor, noise: NoiseMaps) {
        self.step = step; self.numSteps = numSteps; self.loss = loss; self.learningRate = learningRate; self.ws = ws; self.noise = noise
    }
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
    /// Mean image loss (unscaled) of each step, evaluated at the step's noisy latent before its
    /// update, as the reference logs `dist`.
    public var lossHistory: [Float]
    /// Final image loss per image.
    public var finalLoss: [Float]
    public var stepsRun: Int
    public var seconds: Double

    public init(ws: Tensor, noise: NoiseMaps, reconstruction: Tensor, lossHistory: [Float], finalLoss: [Float], stepsRun: Int, seconds: Double) {
        self.ws = ws; self.noise = noise; self.reconstruction = reconstruction; self.lossHistory = lossHistory
        self.finalLoss = finalLoss; self.stepsRun = stepsRun; self.seconds = seconds
    }
}

/// Optimisation-based GAN inversion following NVIDIA's stylegan2-ada-pytorch `projector.py`:
/// Adam (β = 0.9, 0.999) on w (W or W+) and the noise maps, lr ramp-up over the first 5 % and
/// cosine ramp-down over the last 25 %, latent noise `w_std · 0.05 · max(0, 1 − t/0.75)²`
/// added to w at each step, the noise auto-correlation regulariser (weight 1e5) and noise
/// renormalisation after every step. The minimised objective per image is
/// `imageLossScale · loss(G(w + noise), target) + regularizeNoiseWeight · reg(noise maps)`.
///
/// Images are optimised together in one batched forward/backward; because the total loss is a
/// sum over images, Adam works elementwise and every image draws its random numbers from its own
/// stream seeded with `options.seed`, each image follows the trajectory it would follow alone (up
/// to float summation order in the batched GEMMs). Only `earlyStop` couples the images (it
/// watches the batch's mean loss).
///
/// Differences from the reference, all deliberate: several images per call; W+ as an option;
/// noise maps either optimised per image or left at the generator's `noise_const` buffers; the
/// image distance is a pluggable `ImageLoss` (LPIPS-VGG16 in the reference). The returned
/// reconstruction uses the optimised noise maps (the reference's `proj.png` renders with the
/// generator's own buffers, discarding them); `writeInversionOutputs` stores the maps with w.
///
/// - Parameters:
///   - generator: the StyleGAN2 generator.
///   - targets: `[N, C, R, R]` in [-1, 1] at the generator's resolution, N ≥ 1.
///   - loss: the image loss (pixel, MS-SSIM, spectral, LPIPS, … or a weighted sum).
///   - mask: optional `[N or 1, 1, R, R]` weights in [0, 1]: only masked pixels count.
///   - statistics: `w_avg` / `w_std`; estimated from `options.wAvgSamples` z when nil.
///   - options: schedule, space, noise handling, see `ProjectorOptions`.
///   - progress: called after each step.
/// - Returns: the final latents `[N, numWs, wDim]`, per-image noise maps and reconstructions.
/// - Throws: `ProjectorError` for targets of the wrong shape or with NaN/∞, a bad initial latent,
///   bad statistics or options, or an optimisation whose loss becomes non-finite;
///   `ImageInputError` from the loss for a bad mask.
public func project(generator: StyleGAN2Generator,
                    targets: Tensor,
                    loss: ImageLoss,
                    mask: Tensor? = nil,
                    statistics: WStatistics? = nil,
                    options: ProjectorOptions = ProjectorOptions(),
                    progress: ((ProjectionProgress) -> Void)? = nil) throws -> ProjectionResult {
    let start = Date()
    let numWs = generator.numWs, wDim = generator.wDim, res = generator.resolution, channels = generator.imgChannels
    guard targets.rank == 4, targets.shape[0] >= 1, targets.shape[1] == channels, targets.shape[2] == res, targets.shape[3] == res else {
        throw ProjectorError("targets must be [N, \(channels), \(res), \(res)] with N ≥ 1, got \(targets.shape)")
    }
    guard targets.isFinite else { throw ProjectorError("target images contain NaN or infinity") }
    guard options.imageLossScale > 0, options.imageLossScale.isFinite else {
        throw ProjectorError("imageLossScale must be positive and finite, got \(options.imageLossScale)")
    }
    if let es = options.earlyStop {
        guard es.patience >= 1, es.minRelativeImprovement.isFinite, es.minRelativeImprovement >= 0 else {
            throw ProjectorError("earlyStop needs patience ≥ 1 and a finite minRelativeImprovement ≥ 0, got \(es)")
        }
    }
    let n = targets.shape[0]
    let stats = try (statistics ?? WStatistics.estimate(generator: generator, samples: options.wAvgSamples)).validated(for: generator)
    let space = options.space
    let rows = space == .w ? 1 : numWs

    // Latent to optimise: [N, rows, wDim].
    var wOpt = try initialLatent(options.initialLatent, wAvg: stats.wAvg, n: n, rows: rows, numWs: numWs, wDim: wDim)
    // One stream per image, each seeded alike: an image's draws do not depend on its batch.
    var rngs = [NumpyRandomState](repeating: NumpyRandomState(seed: options.seed), count: n)

    // Noise maps: optimised ones per image [N, H, W]; fixed ones are the shared const buffers.
    let noiseNames = generator.noiseLayerNames
    let constNoise = generator.constNoise
    var noise = NoiseMaps()
    if options.optimizeNoise {
        for name in noiseNames {
            let shp = generator.noiseShape(layer: name)!
            let plane = shp[0] * shp[1]
            var maps = [Float]()
            maps.reserveCapacity(n * plane)
            for i in 0..<n {
                switch options.noiseInit {
                case .random: maps += rngs[i].randn(count: plane).map(Float.init)
                case .const: maps += constNoise[name]!.storage
                }
            }
            noise[name] = Tensor(shape: [n] + shp, data: maps)
        }
    } else {
        noise = constNoise
    }

    let schedule = options.schedule
    let lossScale = options.imageLossScale
    let regWeight = Float(schedule.regularizeNoiseWeight)
    var adam = Adam(learningRate: Float(schedule.initialLearningRate), beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
    var lossHistory: [Float] = []
    lossHistory.reserveCapacity(schedule.numSteps)
    var stepsRun = 0
    var bestSoFar = Float.infinity, bestAtWindowStart = Float.infinity
    var params: [Tensor] = [], paramGrads: [Tensor] = []
    for step in 0..<schedule.numSteps {
        let wNoiseScale = Float(schedule.latentNoiseScale(step: step, wStd: Double(stats.wStd)))
        let lr = Float(schedule.learningRate(step: step))

        var wIn = wOpt
        if wNoiseScale > 0 {
            let perImage = rows * wDim
            wIn.withUnsafeMutableBufferPointer { p in
                for i in 0..<n {
                    let eps = rngs[i].randn(count: perImage)
                    for k in 0..<perImage { p[i * perImage + k] += Float(eps[k]) * wNoiseScale }
                }
            }
        }
        let ws = space == .w ? broadcastToWs(wIn, numWs: numWs) : wIn
        let (image, tape) = generator.synthesisForward(ws: ws, noise: noise)
        guard image.isFinite else {
            throw ProjectorError("the generated image became non-finite at step \(step); try a lower learning rate")
        }
        var (imageLoss, gradImage) = try loss.evaluate(reconstruction: image, target: targets, mask: mask)
        guard imageLoss.count == n, gradImage.shape == image.shape, imageLoss.allSatisfy({ $0.isFinite }) else {
            throw ProjectorError("loss became non-finite at step \(step) (\(imageLoss)); try a lower learning rate")
        }
        if lossScale != 1 { gradImage.withUnsafeMutableBufferPointer { g in for k in 0..<g.count { g[k] *= lossScale } } }
        let grads = generator.synthesisBackward(tape: tape, gradImage: gradImage, needNoise: options.optimizeNoise)

        params.removeAll(keepingCapacity: true)
        paramGrads.removeAll(keepingCapacity: true)
        params.append(wOpt)
        paramGrads.append(space == .w ? sumRows(grads.ws, rows: numWs) : grads.ws)
        if options.optimizeNoise, let gNoise = grads.noise {
            // The regulariser acts on each image's maps separately (the reference has one image).
            for name in noiseNames {
                var g = gNoise[name]!
                let maps = noise[name]!
                let plane = maps.count / n
                for i in 0..<n {
                    let (_, rg) = try noiseRegularization(noiseMaps: [maps.row(i)])
                    rg[0].withUnsafeBufferPointer { rp in
                        g.withUnsafeMutableBufferPointer { gp in
                            for k in 0..<plane { gp[i * plane + k] += regWeight * rp[k] }
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
                var maps = params[j + 1]
                let plane = maps.count / n
                for i in 0..<n {
                    let m = try normalizeNoise(maps.row(i))
                    maps.withUnsafeMutableBufferPointer { p in
                        m.withUnsafeBufferPointer { (p.baseAddress! + i * plane).update(from: $0.baseAddress!, count: plane) }
                    }
                }
                noise[name] = maps
            }
        }
        stepsRun = step + 1
        let mean = imageLoss.reduce(0, +) / Float(n)
        lossHistory.append(mean)
        if let progress {
            progress(ProjectionProgress(step: step + 1, numSteps: schedule.numSteps, loss: imageLoss, learningRate: lr,
                                        ws: space == .w ? broadcastToWs(wOpt, numWs: numWs) : wOpt, noise: noise))
        }

        if let es = options.earlyStop {
            bestSoFar = min(bestSoFar, mean)
            if (step + 1) % es.patience == 0 {
                if bestAtWindowStart.isFinite && bestSoFar > bestAtWindowStart * (1 - es.minRelativeImprovement) { break }
                bestAtWindowStart = bestSoFar
            }
        }
    }

    let finalWs = space == .w ? broadcastToWs(wOpt, numWs: numWs) : wOpt
    let reconstruction = generator.synthesis(ws: finalWs, noise: noise)
    let (finalLoss, _) = try loss.evaluate(reconstruction: reconstruction, target: targets, mask: mask)
    // Per-image maps in the result whichever way they were used.
    var outNoise = NoiseMaps()
    for name in noiseNames {
        let m = noise[name]!
        outNoise[name] = m.rank == 3 ? m : Tensor(shape: [n] + m.shape, data: Array((0..<n).map { _ in m.storage }.joined()))
    }
    return ProjectionResult(ws: finalWs, noise: outNoise, reconstruction: reconstruction, lossHistory: lossHistory,
                            finalLoss: finalLoss, stepsRun: stepsRun, seconds: Date().timeIntervalSince(start))
}

/// An error in the projector's inputs or a diverging optimisation.
public struct ProjectorError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Adjoint of `broadcastToWs` on `[N, 1, D]`: `[N, rows, D]` → `[N, 1, D]` by summation.
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
        return broadcastToWs(wAvg.reshaped([1, wDim]), numWs: rows)
            .repeatedBatch(n)
    }
    guard g.isFinite else { throw ProjectorError("initial latent contains NaN or infinity") }
    switch g.shape {
    case [wDim]:
        return broadcastToWs(g.reshaped([1, wDim]), numWs: rows).repeatedBatch(n)
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
