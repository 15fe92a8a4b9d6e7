import LatentTensor
import LatentCore

/// What a text-guided edit steers the image towards (features are CLIP's unnormalised
/// `encode_text` outputs; only their directions matter).
public enum TextGuidedEditTarget: Sendable {
    /// StyleCLIP latent optimisation (Patashnik et al. 2021, `optimization/run_optimization.py`):
    /// `clipLoss = 1 − cos(CLIP(G(w)), text)`.
    /// - Parameter text: `[1, embedDim]` (shared) or `[N, embedDim]` (one per latent).
    case text(Tensor)
    /// The directional CLIP loss (StyleGAN-NADA, Gal et al. 2022):
    /// `clipLoss = 1 − cos(CLIP(G(w)) − CLIP(G(w₀)), to − from)`: the image must move the way the
    /// text moves ("a sphere" → "a cube") rather than match the target caption as a whole.
    /// The loss only sees the angle of the change, not its size, so it does not favour small
    /// edits: on the test scenes it rewrote the object and much of the background even with a
    /// box mask (PSNR outside the box 25.8 dB against 42.3 dB for `.text`, `Bench/clip-edit.md`);
    /// `.text` with the whole scene described is the robust choice.
    /// - Parameters: `from`, `to`: `[1, embedDim]` or `[N, embedDim]`.
    case direction(from: Tensor, to: Tensor)
}

/// Hyper-parameters of `textGuidedEdit`. Defaults follow StyleCLIP's latent optimisation in edit
/// mode (Adam, lr 0.1 with the projector's ramps, `l2_lambda` 0.008), with fewer steps because
/// the default generator is small.
public struct TextGuidedEditOptions: Sendable {
    /// Adam steps. Default 100.
    public var steps: Int = 100
    /// Peak Adam learning rate; ramped up over the first `lrRampupLength` and cosine-ramped down
    /// over the last `lrRampdownLength` of the steps (StyleCLIP `get_lr`). Default 0.1.
    public var learningRate: Float = 0.1
    public var lrRampupLength: Double = 0.05
    public var lrRampdownLength: Double = 0.25
    /// λ of `λ · Σ (w − w₀)²` over the optimised rows (StyleCLIP `l2_lambda`). Default 0.008.
    public var lambdaL2: Float = 0.008
    /// `.wPlus`: every row in `layers` moves on its own (StyleCLIP). `.w`: one offset δ `[wDim]`
    /// per latent is added to all rows in `layers` (`w₀ + δ`), an edit in W that stays closer to
    /// the images the mapping network produces and so is harder to turn into an adversarial
    /// pattern for CLIP.
    public var space: LatentSpace = .wPlus
    /// Confines each offset to the span of these rows `[K, wDim]` (e.g. the leading GANSpace
    /// components of W, `latentlab directions discover --method ganspace`); nil = any offset.
    /// The principal directions of the mapped w carry the generator's factors of variation, so
    /// an edit inside their span changes what the scene shows rather than adding a pattern.
    public var subspace: Tensor? = nil
    /// ws rows that may move (half-open); nil = all rows. Earlier rows steer shape and layout,
    /// later rows colour and texture.
    public var layers: Range<Int>? = nil
    /// Where the image may change: `[N or 1, 1, R, R]` in [0, 1] (1 = free). With a mask the
    /// loss gains `maskPixelWeight · mean((1 − M) ⊙ (G(w) − G(w₀))²)` over all `C·R·R` values,
    /// which holds the image still outside it.
    public var mask: Tensor? = nil
    /// Weight of the masked pixel term. Default 10.
    public var maskPixelWeight: Float = 10
    /// Random views of each image that CLIP scores per step besides the image itself (0 = the
    /// image only; the CLIP loss is the mean over the views). Scoring jittered, mirrored and
    /// cropped views keeps the optimisation from exploiting CLIP's exact patch grid (an
    /// adversarial pattern) instead of changing what the image shows.
    public var augmentations: Int = 0
    /// Largest shift of a view, in pixels of the generator's image (edge pixels are repeated). Default 4.
    public var jitter: Int = 4
    /// Mirror each view left–right with probability ½. Default false.
    public var flips: Bool = false
    /// Smallest side of a view's random square crop as a fraction of the image (1 = no crops);
    /// CLIP's preprocessing resizes crops to its resolution. Default 1.
    public var minCrop: Double = 1
    /// Seed of the augmentation shifts: same seed, same result.
    public var seed: UInt64 = 0

    public init() {}

    /// The settings measured best on the test scenes (`Bench/clip-edit.md`, table B: the whole
    /// scene described, λ 0.0005, 8 augmented views with flips and crops down to 0.6, a mask with
    /// weight 50 when one is given): the requested colour or shape in 93 % of 70 edits, the image
    /// outside the object at 42.5 dB. StyleCLIP's λ 0.008 (`init()`) barely moves colours on the
    /// default generator. `latentlab edit --text` uses these as its defaults.
    public static var recommended: TextGuidedEditOptions {
        var o = TextGuidedEditOptions()
        o.lambdaL2 = 0.0005
        o.augmentations = 8
        o.flips = true
        o.minCrop = 0.6
        o.maskPixelWeight = 50
        return o
    }
}

/// The state after each step, for progress bars and logs.
public struct TextGuidedEditProgress: Sendable {
    public var step: Int
    public var numSteps: Int
    /// Total loss per latent.
    public var loss: [Float]
    /// CLIP loss per latent (`1 − cos`).
    public var clipLoss: [Float]
    public var learningRate: Float
}

/// The outcome of `textGuidedEdit`.
public struct TextGuidedEditResult: Sendable {
    /// Edited latents `[N, numWs, wDim]` (rows outside `layers` equal the input).
    public var ws: Tensor
    /// `G(ws)` and `G(w₀)`, `[N, C, R, R]` in [-1, 1].
    public var image: Tensor
    public var initialImage: Tensor
    /// CLIP image features (unnormalised, un-augmented) of the edited and original images, `[N, embedDim]`.
    public var imageFeatures: Tensor
    public var initialImageFeatures: Tensor
    /// Mean total loss and mean CLIP loss before each step (index 0 = at w₀).
    public var lossHistory: [Float]
    public var clipLossHistory: [Float]
    /// Loss terms per latent at the result (un-augmented CLIP loss).
    public var finalLoss: TextGuidedEditLoss
    public var seconds: Double
}

/// The terms of the objective per latent.
public struct TextGuidedEditLoss: Sendable, Equatable {
    /// `1 − cos(...)`, averaged over the augmented views.
    public var clip: [Float]
    /// `λ · Σ (w − w₀)²`.
    public var l2: [Float]
    /// `maskPixelWeight · mean((1 − M) ⊙ (G(w) − G(w₀))²)` (0 without a mask).
    public var pixel: [Float]
    public var total: [Float] { (0..<clip.count).map { clip[$0] + l2[$0] + pixel[$0] } }
}
