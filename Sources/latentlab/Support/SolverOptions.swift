import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentInversion
import LatentModels
import LatentCore

/// Projector options shared by `invert` and `project` (defaults: `ProjectorOptions()`, i.e.
/// NVIDIA's projector.py schedule with a peak learning rate of 0.2). Steps, learning rate and
/// noise start default per `--method` (`MethodDefaults`): a hybrid refines a code that is
/// already close, so it runs fewer steps from the encoder's noise with a gentler peak.
struct SolverOptions: ParsableArguments {
    @Option(name: [.customLong("steps"), .customLong("num-steps")],
            help: "Optimisation steps (default: 1000; with --method hybrid \(MethodDefaults.hybrid.steps)).") var steps: Int?
    @Option(help: "Peak learning rate (ramped up over 5 %, cosine down over the last 25 %; default 0.2, with --method hybrid \(MethodDefaults.hybrid.lr)); NVIDIA's projector uses 0.1.")
    var lr: Double?
    @Option(help: "Latent space: w (one w for all layers) or w+ (one per layer).") var space: LatentSpace = .wPlus
    @Flag(inversion: .prefixedNo, help: "Optimise the noise maps (with the auto-correlation regulariser).") var noise: Bool = true
    @Option(name: .customLong("latent-noise"),
            help: "Initial latent-noise factor (NVIDIA's initial_noise_factor: w gets w_std·F·max(0, 1 − t/0.75)² noise; default 0.05, with --method hybrid \(MethodDefaults.hybrid.latentNoise)).")
    var latentNoise: Double?
    @Option(name: .customLong("noise-init"), help: "Noise maps start as: random (NVIDIA; the default) or const (the model's buffers; the default of --method hybrid, whose encoder was trained with them).") var noiseInit: NoiseInit?
    @Option(name: .customLong("noise-reg"), help: "Noise regulariser weight.") var noiseReg: Float = 1e5
    @Option(name: .customLong("image-loss-scale"),
            help: "Factor on the image loss against the noise regulariser (default (255/2)²: the loss in NVIDIA's [0, 255] units).")
    var imageLossScale: Float = ProjectorOptions.defaultImageLossScale
    @Option(help: "Random seed (latent noise, noise-map init).") var seed: Int = 0
    @Option(name: .customLong("init-latent"), help: "Start from this latent (.npz with 'w', or .npy) instead of w_avg.") var initLatent: String?
    @Option(name: .customLong("early-stop"), help: "Stop when the loss improves < 0.1 % over this many steps.") var earlyStop: Int?
    @Option(name: .customLong("w-avg-samples"), help: "z samples for w_avg / w_std.") var wAvgSamples: Int = 10_000

    func validate() throws {
        if let steps { guard steps > 0 else { throw ValidationError("--steps must be positive") } }
        if let lr { guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") } }
        if let latentNoise { guard latentNoise >= 0, latentNoise.isFinite else { throw ValidationError("--latent-noise must be a non-negative number") } }
        guard seed >= 0 && seed <= Int(UInt32.max) else { throw ValidationError("--seed must be in 0...4294967295") }
        if let e = earlyStop, e < 1 { throw ValidationError("--early-stop must be >= 1") }
        guard wAvgSamples >= 2 else { throw ValidationError("--w-avg-samples must be >= 2") }
        guard noiseReg >= 0, noiseReg.isFinite else { throw ValidationError("--noise-reg must be a non-negative number") }
        guard imageLossScale > 0, imageLossScale.isFinite else { throw ValidationError("--image-loss-scale must be positive") }
    }

    /// - Parameter defaults: what the method gives the settings left unset.
    func projectorOptions(generator G: StyleGAN2Generator, defaults: MethodDefaults = .optimize) throws -> ProjectorOptions {
        var o = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: steps ?? defaults.steps, initialLearningRate: lr ?? defaults.lr,
                                                                 initialNoiseFactor: latentNoise ?? defaults.latentNoise,
                                                                 regularizeNoiseWeight: Double(noiseReg)))
        o.space = space
        o.optimizeNoise = noise
        o.noiseInit = noiseInit ?? defaults.noiseInit
        o.seed = UInt32(seed)
        o.wAvgSamples = wAvgSamples
        o.imageLossScale = imageLossScale
        o.earlyStop = earlyStop.map { EarlyStop(patience: $0) }
        if let path = initLatent { o.initialLatent = try LatentFile.read(path: path, generator: G).ws(generator: G) }
        return o
    }

    /// The settings as run (defaults resolved), so a resume compares what was done.
    /// `latent_noise` appears only when it is not NVIDIA's 0.05, so folders made before the option
    /// existed still resume.
    func record(defaults: MethodDefaults = .optimize) -> [String: RecordValue] {
        var r: [String: RecordValue] = ["steps": .int(steps ?? defaults.steps), "lr": .double(lr ?? defaults.lr), "space": .string(space.rawValue), "noise": .bool(noise),
         "noise_init": .string((noiseInit ?? defaults.noiseInit).rawValue),
         "noise_reg": RecordValue(noiseReg), "image_loss_scale": RecordValue(imageLossScale), "seed": .int(seed), "init_latent": RecordValue(initLatent),
         "early_stop": RecordValue(earlyStop), "w_avg_samples": .int(wAvgSamples)]
        let f = latentNoise ?? defaults.latentNoise
        if f != MethodDefaults.optimize.latentNoise { r["latent_noise"] = .double(f) }
        return r
    }
}

/// Per-method defaults of the optimisation settings a user leaves unset.
struct MethodDefaults {
    var steps: Int
    var lr: Double
    var noiseInit: NoiseInit
    var latentNoise: Double

    static let optimize = MethodDefaults(steps: 1000, lr: ProjectorOptions.defaultInitialLearningRate, noiseInit: .random, latentNoise: 0.05)
    /// Measured on the test scenes with the embedded encoder (Bench/encoders.md).
    static let hybrid = MethodDefaults(steps: 100, lr: 0.1, noiseInit: .const, latentNoise: 0)
}

/// Loss weights shared by `invert` and `project`: a weighted sum of any subset.
struct LossOptions: ParsableArguments {
    @Option(help: "Weight of the pixel L2 (mean squared error on [-1, 1]).") var l2: Float = 1
    @Option(help: "Weight of the pixel L1.") var l1: Float = 0
    @Option(help: "Weight of 1 − MS-SSIM.") var msssim: Float = 0
    @Option(help: "Weight of the focal frequency (spectral) loss.") var fft: Float = 0
    @Option(help: "Weight of LPIPS (needs --lpips-weights).") var lpips: Float = 0
    @Option(name: .customLong("lpips-weights"), help: "LPIPS weights (.safetensors: features.N.*, lin{k}.model.1.weight).") var lpipsWeights: String?
    @Option(name: .customLong("lpips-net"), help: "LPIPS backbone: vgg or alex.") var lpipsNet: LPIPSNet = .vgg

    func validate() throws {
        for (name, w) in [("l2", l2), ("l1", l1), ("msssim", msssim), ("fft", fft), ("lpips", lpips)] {
            guard w >= 0, w.isFinite else { throw ValidationError("--\(name) must be a non-negative weight") }
        }
        guard l2 + l1 + msssim + fft + lpips > 0 else { throw ValidationError("all loss weights are 0: nothing to optimise") }
        if lpips > 0 && lpipsWeights == nil { throw ValidationError("--lpips needs --lpips-weights PATH") }
    }

    func makeLoss() throws -> ImageLoss {
        var terms: [WeightedLoss.Term] = []
        if l2 > 0 { terms.append(WeightedLoss.Term(weight: l2, loss: PixelL2Loss())) }
        if l1 > 0 { terms.append(WeightedLoss.Term(weight: l1, loss: PixelL1Loss())) }
        if msssim > 0 { terms.append(WeightedLoss.Term(weight: msssim, loss: MSSSIMLoss())) }
        if fft > 0 { terms.append(WeightedLoss.Term(weight: fft, loss: FocalFrequencyLoss())) }
        if lpips > 0, let path = lpipsWeights {
            terms.append(WeightedLoss.Term(weight: lpips, loss: LPIPSLoss(try LPIPS(net: lpipsNet, weightsPath: path))))
        }
        return WeightedLoss(terms)
    }

    var record: [String: RecordValue] {
        ["l2": RecordValue(l2), "l1": RecordValue(l1), "msssim": RecordValue(msssim), "fft": RecordValue(fft), "lpips": RecordValue(lpips),
         "lpips_weights": RecordValue(lpipsWeights), "lpips_net": .string(lpipsNet.rawValue)]
    }
}

/// `--crop center|none|x,y,w,h`.
struct CropOption: ParsableArguments {
    @Option(help: "Crop before resizing to the generator's resolution: center, none (squash) or x,y,w,h.") var crop: String = "center"

    /// Checked while parsing, so a bad --crop is a usage error before any work starts.
    func validate() throws { _ = try mode() }

    func mode() throws -> CropMode {
        do { return try CropMode.parse(crop) } catch { throw ValidationError("--crop: \(error)") }
    }
}
