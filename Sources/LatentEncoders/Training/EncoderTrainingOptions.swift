import Foundation

/// Keyword options of `trainEncoder`. Defaults are sized for a 64² generator on two cores;
/// the e4e paper's values are named where they differ.
public struct EncoderTrainingOptions: Codable, Sendable, Equatable {
    // MARK: Architecture (recorded in the encoder file's config)
    /// Channels at full resolution (doubled per halving up to `maxChannels`).
    public var baseChannels: Int = 32
    public var maxChannels: Int = 128
    /// Stride-1 convs per pyramid level after the stride-2 one.
    public var convsPerLevel: Int = 1
    /// ReStyle mode: 6-channel input (image, current reconstruction), residual codes.
    public var iterative: Bool = false
    /// ReStyle iterations per training step (its paper trains with 5; used when `iterative`).
    public var iterations: Int = 3
    /// A guidance encoder (pSp's seg/sketch → image): paired maps are the input, photos the
    /// targets. nil = an image encoder. Optional so older checkpoints still resume.
    public var guidance: GuidanceKind? = nil
    /// Segmentation classes (one-hot channels) of a `seg` guidance encoder.
    public var classes: Int? = nil

    // MARK: Length (the only options that may change on resume)
    /// Stop after this many steps in total (counting steps before a resume).
    public var steps: Int? = nil
    /// Stop after this many minutes of training in total (counting time before a resume).
    public var minutes: Double? = nil
    /// Minutes between checkpoints (also written at the end).
    public var checkpointMinutes: Double = 5

    // MARK: Optimisation
    public var batchSize: Int = 8
    /// Adam learning rate (e4e: 1e-4 with Ranger), held constant, then a cosine ramp-down over the
    /// last `rampDown` fraction of the run (of `steps`, else of `minutes`).
    public var learningRate: Float = 2e-4
    public var rampDown: Double = 0.25
    /// Seeds the initial weights, the sampled z, the real-image draws.
    public var seed: UInt64 = 0
    /// Provenance of the starting weights when the run fine-tunes an existing encoder
    /// (`trainEncoder(initialEncoder:)`), e.g. its file and step count; nil = from `seed`.
    /// Recorded, not computation-defining: a resume continues from its checkpoint whatever it says.
    public var initializedFrom: String? = nil
    /// The progressive stage of the encoder a fine-tuning run starts from: the run's stage never
    /// drops below it (a trained encoder's deltas stay active). Set by `trainEncoder`; nil = 0.
    public var initialStage: Int? = nil

    // MARK: Losses (e4e: L2 1.0, LPIPS 0.8, delta-norm 2e-4)
    /// Pixel mean squared error on [-1, 1].
    public var l2Weight: Float = 1
    /// `1 − MS-SSIM`.
    public var msSSIMWeight: Float = 0.2
    /// LPIPS (used only when `trainEncoder` gets an LPIPS network).
    public var lpipsWeight: Float = 0.8
    /// CLIP image-feature loss `1 − cos(CLIP(x̂), CLIP(x))` (used only when `trainEncoder` gets a
    /// CLIP model; nil = 0). Optional so checkpoints written before it existed still resume.
    public var clipWeight: Float? = nil
    /// Mean squared error between the codes and the known ws of generated samples (and the W+
    /// codes of the real images with `realLatents`, of the photos with `pairLatents`).
    public var latentWeight: Float = 1
    /// An image encoder trains against W+ codes of its real images too (`trainEncoder(realLatents:)`,
    /// e.g. from `project --method hybrid`): the latent loss then covers the real images, which
    /// otherwise have image losses only. Optional so older checkpoints still resume (nil = no).
    public var realLatents: Bool? = nil
    /// A guidance encoder trains against W+ codes of the photos (`GuidancePairs.latents`) too.
    /// Optional so checkpoints written before it existed still resume (nil = no).
    public var pairLatents: Bool? = nil
    /// With `pairLatents`: these ws rows of the codes are replaced by the photo's own rows before
    /// the generator renders them for the image losses (what a map cannot tell, e.g. the colours
    /// a seg map leaves open, so the image loss does not pull those rows toward a grey mean and
    /// the rows the map does decide get a clean image signal); the encoder learns the given rows
    /// from the latent loss alone. Nil = none (checkpoints written before it existed resume).
    public var givenRows: [Int]? = nil
    /// e4e's delta-norm regulariser.
    public var deltaNormWeight: Float = 2e-4
    /// e4e's progressive training: one more delta every this many steps (0 = all from the start).
    public var progressiveStepEvery: Int = 100

    // MARK: Data
    /// Share of each batch drawn from the real images (when given); the rest are generator samples.
    public var realFraction: Double = 0.5
    /// Pairs (target | reconstruction) in the sample strip.
    public var sampleCount: Int = 8

    public init() {}

    /// Throws `EncoderError` naming the first bad option.
    public func validate(hasRealImages: Bool) throws {
        func fail(_ s: String) -> EncoderError { EncoderError("bad training option: \(s)") }
        guard steps != nil || minutes != nil else { throw fail("give steps or minutes") }
        if let steps, steps < 1 { throw fail("steps must be ≥ 1, got \(steps)") }
        if let minutes, !(minutes > 0 && minutes.isFinite) { throw fail("minutes must be positive, got \(minutes)") }
        guard checkpointMinutes > 0, checkpointMinutes.isFinite else { throw fail("checkpointMinutes must be positive, got \(checkpointMinutes)") }
        guard (1...1024).contains(batchSize) else { throw fail("batchSize must be in 1...1024, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("learningRate must be positive, got \(learningRate)") }
        guard rampDown >= 0, rampDown <= 1 else { throw fail("rampDown must be in [0, 1], got \(rampDown)") }
        for (name, w) in [("l2Weight", l2Weight), ("msSSIMWeight", msSSIMWeight), ("lpipsWeight", lpipsWeight),
                          ("latentWeight", latentWeight), ("deltaNormWeight", deltaNormWeight), ("clipWeight", clipWeight ?? 0)] {
            guard w >= 0, w.isFinite else { throw fail("\(name) must be ≥ 0 and finite, got \(w)") }
        }
        guard l2Weight > 0 || msSSIMWeight > 0 || lpipsWeight > 0 || latentWeight > 0 || (clipWeight ?? 0) > 0 else {
            throw fail("every loss weight is zero: nothing to train for")
        }
        guard progressiveStepEvery >= 0 else { throw fail("progressiveStepEvery must be ≥ 0, got \(progressiveStepEvery)") }
        guard realFraction >= 0, realFraction <= 1 else { throw fail("realFraction must be in [0, 1], got \(realFraction)") }
        if realFraction >= 1 && !hasRealImages { throw fail("realFraction 1 needs real images") }
        guard !iterative || (1...20).contains(iterations) else { throw fail("iterations must be in 1...20, got \(iterations)") }
        if let guidance {
            guard !iterative else { throw fail("a guidance encoder (\(guidance.rawValue)) cannot be iterative") }
            if guidance == .seg { guard let c = classes, (1...256).contains(c) else { throw fail("a seg encoder needs classes in 1...256") } }
            // Without photo latents a guidance encoder has no generator samples for the latent loss.
            guard pairLatents == true || l2Weight > 0 || msSSIMWeight > 0 || lpipsWeight > 0 || (clipWeight ?? 0) > 0 else {
                throw fail("a guidance encoder without photo latents needs an image loss weight > 0")
            }
            guard realLatents != true else { throw fail("realLatents is for image encoders; a guidance encoder uses pairLatents") }
        } else if pairLatents == true {
            throw fail("pairLatents needs a guidance encoder")
        }
        if realLatents == true {
            guard hasRealImages, realFraction > 0 else { throw fail("realLatents needs real images (realFraction > 0)") }
            guard latentWeight > 0 else { throw fail("realLatents needs latentWeight > 0") }
        }
        if let givenRows {
            guard pairLatents == true else { throw fail("givenRows needs pairLatents (the photos' W+ codes)") }
            guard !givenRows.isEmpty, givenRows.allSatisfy({ $0 >= 0 }), Set(givenRows).count == givenRows.count else {
                throw fail("givenRows must be distinct rows ≥ 0, got \(givenRows)")
            }
        }
        guard (0...64).contains(sampleCount) else { throw fail("sampleCount must be in 0...64, got \(sampleCount)") }
    }

    /// The options with the length fields cleared: two runs may continue each other when these agree.
    var computationDefining: EncoderTrainingOptions {
        var o = self
        o.steps = nil; o.minutes = nil; o.checkpointMinutes = 0; o.initializedFrom = nil
        return o
    }

    /// The options as sorted-key JSON (records, checkpoints).
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(data: try! e.encode(self), encoding: .utf8)!
    }
}
