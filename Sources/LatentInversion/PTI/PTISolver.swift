import Foundation
import LatentTensor
import LatentModels
import LatentCore

/// Pivotal Tuning Inversion as an `InversionSolver`: a pivot solver finds editable latents (W
/// optimisation by default, or an encoder, or given latents), then the generator's convolutions
/// are tuned so the pivots reproduce the targets (`tuneGenerator`). Each image folder gets the
/// pivot as its latent (rendered with the constant noise buffers PTI tunes with), the tuned
/// generator's reconstruction and metrics, and `generator-delta.safetensors`.
///
/// Per image by default (one delta each, every image's result independent of its batch); with
/// `shared` one delta for the whole batch (PTI's multi-ID coach), written into every folder.
public struct PTISolver: InversionSolver {
    public let generator: StyleGAN2Generator
    /// Finds the pivots (its noise maps are dropped: PTI tunes with the const buffers).
    public let pivotSolver: InversionSolver
    public let loss: ImageLoss
    public let options: PivotalTuningOptions
    /// Rank of the tuned weight differences (nil: full; default `defaultRank`).
    public let rank: Int?
    /// Rank-32 factors: on the default generator they reproduce the 24 test scenes as well as full
    /// differences (39.24 vs 39.13 dB, `Bench/pti.md`) in 4.0 % of its bytes instead of 11.8 %, and
    /// at 256² need 155 MB less memory (no dense Adam state).
    public static let defaultRank = 32
    /// One tuned generator for the batch.
    public let shared: Bool
    /// Store the delta as float16.
    public let halfPrecision: Bool

    public init(generator: StyleGAN2Generator, pivotSolver: InversionSolver, loss: ImageLoss,
                options: PivotalTuningOptions = PivotalTuningOptions(), rank: Int? = PTISolver.defaultRank, shared: Bool = false,
                halfPrecision: Bool = false) throws {
        if let rank, rank < 1 { throw ProjectorError("rank must be ≥ 1, got \(rank)") }
        _ = try tunedParameterNames(generator: generator, options: options)
        self.generator = generator; self.pivotSolver = pivotSolver; self.loss = loss
        self.options = options; self.rank = rank; self.shared = shared; self.halfPrecision = halfPrecision
    }

    public var method: String { "pti" }
    public var space: LatentSpace { pivotSolver.space }
    public var numSteps: Int { pivotSolver.numSteps + options.numSteps }

    public func invert(targets: Tensor, mask: Tensor?, progress: ((ProjectionProgress) -> Void)?) throws -> SolvedBatch {
        let start = Date()
        let n = targets.shape[0]
        let pivot = try pivotSolver.invert(targets: targets, mask: mask, progress: progress)
        let pivotSeconds = Date().timeIntervalSince(start)
        let ws = pivot.result.ws
        let constNoise = generator.stackedNoise(Array(repeating: generator.constNoise, count: n)) ?? NoiseMaps()
        let pivotPSNR = try ImageMetrics.psnr(generator.synthesis(ws: ws), targets)
        let p0 = pivotSolver.numSteps, total = numSteps
        // Images not being tuned report their latest loss (the pivot's until their turn).
        var latest = pivot.result.finalLoss
        func report(_ step: Int, _ loss: [Float], _ rows: Range<Int>) {
            for (k, i) in rows.enumerated() { latest[i] = loss[k] }
            progress?(ProjectionProgress(step: p0 + step, numSteps: total, loss: latest, learningRate: options.learningRate,
                                         ws: ws, noise: constNoise))
        }
        let groups: [Range<Int>] = shared ? [0 ..< n] : (0..<n).map { $0 ..< $0 + 1 }
        var recon = [Tensor](repeating: Tensor.zeros([1]), count: n)
        var extraFiles = [[String: Data]](repeating: [:], count: n)
        var extraRecord = [[String: RecordValue]](repeating: [:], count: n)
        var history = [Float](repeating: 0, count: options.numSteps)
        var stepsRun = 0
        for rows in groups {
            let t0 = Date()
            let sub = ws.slice(rows), subTargets = targets.slice(rows)
            let subMask = mask.map { $0.shape[0] == 1 ? $0 : $0.slice(rows) }
            let tuned = try tuneGenerator(base: generator, pivots: sub, targets: subTargets, mask: subMask, loss: loss,
                                          options: options, rank: rank, halfPrecision: halfPrecision) { step, l in report(step, l, rows) }
            let bytes = try tuned.delta.encoded()
            let images = tuned.generator.synthesis(ws: sub)
            for (k, i) in rows.enumerated() {
                recon[i] = images.slice(k ..< k + 1)
                extraFiles[i][GeneratorDelta.fileName] = bytes
                extraRecord[i] = ["pivot_psnr": .double(pivotPSNR[i]), "pivot_seconds_per_image": .double(pivotSeconds / Double(n)),
                                  "pti_steps_run": .int(tuned.stepsRun), "pti_seconds": .double(Date().timeIntervalSince(t0)),
                                  "delta_bytes": .int(bytes.count), "delta_rank": rank.map { .int($0) } ?? .string("full"),
                                  "pti_shared": .bool(shared), "pti_batch": .int(rows.count),
                                  "delta_dtype": .string(halfPrecision ? "f16" : "f32")]
            }
            for (s, v) in tuned.lossHistory.enumerated() { history[s] += v * Float(rows.count) / Float(n) }
            stepsRun = max(stepsRun, tuned.stepsRun)
        }
        let reconstruction = Tensor.concatenate(recon)
        let finalLoss = try loss.evaluate(reconstruction: reconstruction, target: targets, mask: mask).loss
        let result = ProjectionResult(ws: ws, noise: constNoise, reconstruction: reconstruction,
                                      lossHistory: pivot.result.lossHistory + Array(history.prefix(stepsRun)), finalLoss: finalLoss,
                                      stepsRun: pivot.result.stepsRun + stepsRun, seconds: Date().timeIntervalSince(start))
        return SolvedBatch(result: result, extraFiles: extraFiles, extraRecord: extraRecord)
    }
}

/// Given latents as pivots (`--pivot FILE`): returns them for a batch of the same size.
public struct GivenPivotSolver: InversionSolver {
    public let generator: StyleGAN2Generator
    /// `[N, numWs, wDim]`.
    public let ws: Tensor
    public let space: LatentSpace

    public init(generator: StyleGAN2Generator, ws: Tensor, space: LatentSpace = .wPlus) {
        self.generator = generator; self.ws = ws; self.space = space
    }

    public var method: String { "given" }
    public var numSteps: Int { 0 }

    public func invert(targets: Tensor, mask: Tensor?, progress: ((ProjectionProgress) -> Void)?) throws -> SolvedBatch {
        let n = targets.shape[0]
        guard ws.shape[0] == n else {
            throw ProjectorError("the given pivot holds \(ws.shape[0]) latent(s) for \(n) image(s)")
        }
        let recon = generator.synthesis(ws: ws)
        let noise = generator.stackedNoise(Array(repeating: generator.constNoise, count: n)) ?? NoiseMaps()
        let loss = try ImageMetrics.mse(recon, targets).map { Float(4 * $0) }
        return SolvedBatch(result: ProjectionResult(ws: ws, noise: noise, reconstruction: recon, lossHistory: [],
                                                    finalLoss: loss, stepsRun: 0, seconds: 0))
    }
}
