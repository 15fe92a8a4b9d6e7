import LatentTensor

/// Which latent space the projector optimises.
public enum LatentSpace: String, Sendable, CaseIterable {
    /// One w per image, broadcast to all `numWs` layers (NVIDIA's projector).
    case w
    /// One w per layer (`[numWs, wDim]`), the usual choice for fidelity.
    case wPlus = "w+"
}

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
/// hard-codes (space, noise handling, start point) and an optional early stop.
public struct ProjectorOptions: Sendable {
    /// Steps, learning-rate ramps, latent-noise ramp and noise-regulariser weight.
    public var schedule: ProjectorSchedule
    public var space: LatentSpace = .wPlus
    /// Optimise the per-layer noise maps (with the auto-correlation regulariser).
    public var optimizeNoise: Bool = true
    public var noiseInit: NoiseInit = .random
    /// Projector: `w_avg_samples = 10000` z drawn with `np.random.RandomState(123)`.
    public var wAvgSamples: Int = 10_000
    /// Seed of the latent noise and random noise-map initialisation: same seed, same result.
    public var seed: UInt32 = 0
    /// Starting latent: nil = `w_avg`; else `[wDim]`, `[numWs, wDim]` or `[N, numWs, wDim]`.
    public var initialLatent: Tensor? = nil
    public var earlyStop: EarlyStop? = nil

    public init(schedule: ProjectorSchedule) { self.schedule = schedule }

    /// NVIDIA's defaults (1000 steps), in W+.
    public init() { self.schedule = try! ProjectorSchedule() }
}
