import Foundation
import LatentTensor
import LatentModels
import LatentCore
import LatentInversion

/// Encoder-based inversion as an `InversionSolver`: one forward pass (or `iterations` ReStyle
/// refinements for an iterative encoder) to W+ codes, rendered with the generator's constant
/// noise buffers (what encoders are trained with). No optimisation, so no mask.
public struct EncoderSolver: InversionSolver {
    public let generator: StyleGAN2Generator
    public let encoder: LatentEncoder
    /// ReStyle iterations (1 for a plain encoder).
    public let iterations: Int

    /// - Throws: `EncoderError` when the encoder does not fit the generator or `iterations` < 1,
    ///   or > 1 for an encoder not trained iteratively.
    public init(generator: StyleGAN2Generator, encoder: LatentEncoder, iterations: Int = 1) throws {
        try checkEncoder(encoder, matches: generator)
        guard iterations >= 1 else { throw EncoderError("iterations must be ≥ 1, got \(iterations)") }
        guard iterations == 1 || encoder.isIterative else {
            throw EncoderError("iterations \(iterations): this encoder was not trained for ReStyle refinement (train-encoder --iterative); give 1")
        }
        self.generator = generator; self.encoder = encoder; self.iterations = iterations
    }

    public var method: String { "encoder" }
    public var space: LatentSpace { .wPlus }
    public var numSteps: Int { iterations }

    public func invert(targets: Tensor, mask: Tensor?, progress: ((ProjectionProgress) -> Void)?) throws -> SolvedBatch {
        guard mask == nil else { throw EncoderError("an encoder cannot honour a loss mask: use --method optimize or hybrid") }
        let start = Date()
        let n = targets.shape[0]
        let codes = try encoder.encode(images: targets, generator: generator, iterations: iterations)
        let ws = codes.last!
        // Rendered with the shared const buffers; the latent file stores them per image.
        let reconstruction = generator.synthesis(ws: ws)
        let noise = generator.stackedNoise(Array(repeating: generator.constNoise, count: n)) ?? NoiseMaps()
        // The pixel MSE on [-1, 1] (the projector's L2 units): 4 × the metric's [0, 1] MSE.
        let loss = try ImageMetrics.mse(reconstruction, targets).map { Float(4 * $0) }
        progress?(ProjectionProgress(step: iterations, numSteps: iterations, loss: loss, learningRate: 0, ws: ws, noise: noise))
        let result = ProjectionResult(ws: ws, noise: noise, reconstruction: reconstruction, lossHistory: [loss.reduce(0, +) / Float(n)],
                                      finalLoss: loss, stepsRun: iterations, seconds: Date().timeIntervalSince(start))
        return SolvedBatch(result: result)
    }
}

/// Hybrid inversion: the encoder's W+ code (and the constant noise it was trained with) starts a
/// short optimisation (`optimization.options`, typically 100 steps) — e4e/ReStyle followed by
/// projector refinement. Records the encoder-only PSNR and time per image next to the metrics.
public struct HybridSolver: InversionSolver {
    public let encoderSolver: EncoderSolver
    public let loss: ImageLoss
    public let options: ProjectorOptions
    /// Holds the `w_avg` / `w_std` estimate the optimisation needs, made once on first use.
    private let statistics: OptimizationSolver

    /// - Parameter options: the optimisation's schedule and settings; `initialLatent` is replaced
    ///   by the encoder's codes, and `space` must be W+ (an encoder's codes are W+).
    public init(encoderSolver: EncoderSolver, loss: ImageLoss, options: ProjectorOptions) throws {
        guard options.space == .wPlus else { throw EncoderError("hybrid inversion optimises in W+ (the encoder's codes are W+)") }
        self.encoderSolver = encoderSolver; self.loss = loss; self.options = options
        statistics = OptimizationSolver(generator: encoderSolver.generator, loss: loss, options: options)
    }

    public var method: String { "hybrid" }
    public var space: LatentSpace { .wPlus }
    public var numSteps: Int { options.schedule.numSteps }

    public func invert(targets: Tensor, mask: Tensor?, progress: ((ProjectionProgress) -> Void)?) throws -> SolvedBatch {
        let start = Date()
        let encoded = try encoderSolver.invert(targets: targets, mask: nil, progress: nil).result
        var o = options
        o.initialLatent = encoded.ws
        var result = try project(generator: encoderSolver.generator, targets: targets, loss: loss, mask: mask,
                                 statistics: try statistics.wStatistics(), options: o, progress: progress)
        result.seconds = Date().timeIntervalSince(start)
        let encoderPSNR = try ImageMetrics.psnr(encoded.reconstruction, targets)
        let n = targets.shape[0]
        let extra: [[String: RecordValue]] = (0..<n).map { i in
            ["encoder_psnr": .double(encoderPSNR[i]), "encoder_seconds": .double(encoded.seconds / Double(n))]
        }
        return SolvedBatch(result: result, extraRecord: extra)
    }
}

