import Foundation
import LatentTensor
import LatentModels
import LatentCore

/// One way of turning a batch of target images into latents: optimisation (`OptimizationSolver`),
/// an encoder, an encoder followed by a short optimisation, or generator tuning. `invert` and
/// `project` (`runBatchProjection`) drive any of them through this one interface, so every method
/// gets the same outputs, resume, shards and summaries.
public protocol InversionSolver {
    /// Recorded as the `method` of every image (`optimize`, `encoder`, `hybrid`, …).
    var method: String { get }
    /// The latent space of the results (`w` when every row of a latent is the same w).
    var space: LatentSpace { get }
    /// Progress units per image (optimisation steps; 1 for a single encoder pass).
    var numSteps: Int { get }
    /// Inverts `targets` `[N, C, R, R]` in [-1, 1] at the generator's resolution.
    /// - Parameter mask: optional `[N or 1, 1, R, R]` loss weights in [0, 1]; a solver that
    ///   cannot honour a mask throws.
    /// - Parameter progress: called after each step with the batch's state.
    func invert(targets: Tensor, mask: Tensor?, progress: ((ProjectionProgress) -> Void)?) throws -> SolvedBatch
}

/// What a solver returns for a batch.
public struct SolvedBatch: Sendable {
    /// Latents, noise maps, reconstructions, losses, steps and time (see `ProjectionResult`).
    public var result: ProjectionResult
    /// Files an image's folder gets besides the standard ones (name → bytes, written atomically
    /// before `metrics.json`), one dictionary per image (empty when none), e.g. a tuned
    /// generator's weight delta.
    public var extraFiles: [[String: Data]]
    /// Metrics and notes per image merged into its record's arguments (e.g. the encoder-only
    /// PSNR before a hybrid's optimisation); empty dictionaries when none.
    public var extraRecord: [[String: RecordValue]]

    public init(result: ProjectionResult, extraFiles: [[String: Data]]? = nil, extraRecord: [[String: RecordValue]]? = nil) {
        let n = result.ws.shape[0]
        self.result = result
        self.extraFiles = extraFiles ?? Array(repeating: [:], count: n)
        self.extraRecord = extraRecord ?? Array(repeating: [:], count: n)
    }
}

/// NVIDIA-schedule optimisation (`project`) as an `InversionSolver`. The `w_avg` / `w_std`
/// estimate is made on first use and kept, so a resumed run with nothing left to do pays nothing.
public final class OptimizationSolver: InversionSolver {
    public let generator: StyleGAN2Generator
    public let loss: ImageLoss
    public let options: ProjectorOptions
    private var statistics: WStatistics?

    public init(generator: StyleGAN2Generator, loss: ImageLoss, options: ProjectorOptions, statistics: WStatistics? = nil) {
        self.generator = generator; self.loss = loss; self.options = options; self.statistics = statistics
    }

    public var method: String { "optimize" }
    public var space: LatentSpace { options.space }
    public var numSteps: Int { options.schedule.numSteps }

    /// The statistics the optimisation uses (estimated once).
    public func wStatistics() throws -> WStatistics {
        if let s = statistics { return s }
        let s = try WStatistics.estimate(generator: generator, samples: options.wAvgSamples)
        statistics = s
        return s
    }

    public func invert(targets: Tensor, mask: Tensor?, progress: ((ProjectionProgress) -> Void)?) throws -> SolvedBatch {
        SolvedBatch(result: try project(generator: generator, targets: targets, loss: loss, mask: mask,
                                        statistics: try wStatistics(), options: options, progress: progress))
    }
}
