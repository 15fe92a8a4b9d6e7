import LatentTensor
import LatentCore

/// How the per-image noise maps start when they are optimised.
public enum NoiseInit: String, Sendable, CaseIterable {
    /// Fresh standard-normal maps, as NVIDIA's projector does.
    case random
    /// The generator's `noise_const` buffers (what a model trained with `noise_mode='const'` saw).
    case const
}

/// Early stop when the mean loss stops improving: after `patience` steps whose best loss is
/// not below `(1 - minRelativeImprovement)` times the best before them.
public struct EarlyStop: Sendable, Equatable {
    public var patience: Int
    public var minRelativeImprovement: Float
    public init(patience: Int = 100, minRelativeImprovement: Float = 1e-3) {
        self.patience = patience
        self.minRelativeImprovement = minRelativeImprovement
    }
}

/// Hyper-parameters of optimisation-based inversion: NVIDIA's stylegan2-ada-pytorch
/// `projector.py` schedule (`schedule`, its keyword defaults) plus the choices the reference
/// hard-codes (space, noise handling, start point, the scale of the image distance against the
/// noise regulariser) and an optional early stop.
public struct ProjectorOptions: Sendable {
    /// Steps, learning-rate ramps, latent-noise ramp and noise-regulariser weight.
    public var schedule: ProjectorSchedule
    /// Default `.wPlus`.
    public var space: LatentSpace = .wPlus
    /// Optimise the per-layer noise maps (with the auto-correlation regulariser). Default true.
    public var optimizeNoise: Bool = true
    /// Start of optimised noise maps. Default `.random` (NVIDIA).
    public var noiseInit: NoiseInit = .random
    /// The image loss is multiplied by this before the noise regulariser
    /// (`regularizeNoiseWeight · reg`) is added. Only the balance of the two matters (Adam is
    /// invariant to a common scale): it decides how much the noise maps may bend to fit the
    /// target. Default `defaultImageLossScale`.
    public var imageLossScale: Float = ProjectorOptions.defaultImageLossScale
    /// Projector: `w_avg_samples = 10000` z drawn with `np.random.RandomState(123)`.
    public var wAvgSamples: Int = 10_000
    /// Seed of the latent noise and of the random noise-map initialisation. Every image of a batch
    /// draws from its own stream seeded with `seed`, so an image's result does not depend on the
    /// batch it is optimised in: same seed, same result.
    public var seed: UInt32 = 0
    /// Starting latent: nil = `w_avg`; else `[wDim]`, `[numWs, wDim]`, `[1, numWs, wDim]` or
    /// `[N, numWs, wDim]` (a W+ start is averaged over its rows when optimising in W).
    public var initialLatent: Tensor? = nil
    /// Stops the whole batch when its mean loss stalls; nil (default) runs every step.
    public var earlyStop: EarlyStop? = nil

    /// NVIDIA's projector compares images scaled to [0, 255] (`(synth + 1) · 255/2`); our losses
    /// take [-1, 1]. `(255/2)²` turns a pixel MSE on [-1, 1] into the MSE on [0, 255], the
    /// reference's units, so the 1e5 regulariser weight keeps its meaning. Measured on the
    /// reference scenes (Bench/inversion.md): +0.05–0.1 dB over a scale of 1 with optimised noise.
    public static let defaultImageLossScale: Float = 127.5 * 127.5

    /// Peak learning rate of LatentLab's default schedule: 0.2, twice NVIDIA's 0.1 (whose
    /// ramps and latent noise are kept). On the reference scenes it gains 0.6–0.7 dB PSNR at
    /// 500 and at 1000 steps in W, W+ and W+ with noise, on every image and seed tried; 0.3–0.4
    /// gain less reliably, 0.05 loses 0.8 dB (Bench/inversion.md). `ProjectorSchedule()` keeps
    /// NVIDIA's literal defaults.
    public static let defaultInitialLearningRate: Double = 0.2

    public init(schedule: ProjectorSchedule) { self.schedule = schedule }

    /// LatentLab's defaults: NVIDIA's schedule (1000 steps, ramps, latent noise, regulariser
    /// 1e5) with peak learning rate `defaultInitialLearningRate`, W+, noise maps optimised from
    /// random starts, image loss in [0, 255] units.
    public init() { self.schedule = try! ProjectorSchedule(initialLearningRate: Self.defaultInitialLearningRate) }
}
