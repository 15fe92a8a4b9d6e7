import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentCLIP
import LatentInversion

/// What `trainEncoder` reports after each step.
public struct EncoderTrainingProgress: Sendable {
    public var step: Int
    /// Total steps when the run is bounded by steps (else nil).
    public var totalSteps: Int?
    public var terms: EncoderLossTerms
    public var stage: Int
    public var learningRate: Float
    /// Training seconds so far (including those before a resume).
    public var elapsedSeconds: Double
    /// Estimated seconds to the end (from the mean step time of this run).
    public var etaSeconds: Double?
    /// True when a checkpoint was written after this step.
    public var checkpointWritten: Bool
}

/// The outcome of `trainEncoder`.
public struct EncoderTrainingReport: Sendable {
    public var encoder: TrainedEncoder
    public var steps: Int
    /// Steps run by this call (after any resumed ones).
    public var stepsThisRun: Int
    public var resumedFromStep: Int?
    public var elapsedSeconds: Double
    /// Per-step total loss over the whole run (resumed steps included).
    public var lossHistory: [Double]
    /// The files written: the encoder, the checkpoint, the loss curve, the sample strip, the history.
    public var files: [String]
    /// The run's options as the checkpoint keeps them (a resumed fine-tuning run's included:
    /// `initializedFrom`, `initialStage`).
    public var options: EncoderTrainingOptions
}

/// Where `trainEncoder` keeps its checkpoint and figures for an encoder written to `outputPath`:
/// `E.safetensors` → `E.training/`.
public func encoderTrainingFolder(outputPath: String) -> String {
    let url = URL(fileURLWithPath: outputPath)
    let stem = url.pathExtension.isEmpty ? url.lastPathComponent : url.deletingPathExtension().lastPathComponent
    return url.deletingLastPathComponent().appendingPathComponent(stem + ".training").path
}

/// Trains an e4e-style encoder (`EncoderArchitecture`) for `generator` on the CPU.
///
/// Each step draws a batch (generator samples with their known ws, and real images when given),
/// encodes it, renders the codes and minimises `l2·MSE + msSSIM·(1 − MS-SSIM) [+ lpips·LPIPS]` on
/// the images, `latent·MSE(codes, ws)` on the samples (and on the real images whose W+ codes are
/// given, `realLatents`) and e4e's delta-norm regulariser, with
/// Adam; e4e's progressive stages add one delta every `progressiveStepEvery` steps. Iterative
/// (ReStyle) mode: see `TrainingObjective`.
///
/// Files: the encoder at `outputPath` (also refreshed at every checkpoint); in
/// `encoderTrainingFolder(outputPath)`: `checkpoint.safetensors` (every `checkpointMinutes` and at
/// the end, atomically), `loss.png` (total loss, log scale), `psnr.png` (−10·log10 of the pixel
/// MSE: higher is better), `samples.png` (pairs target | reconstruction) and `history.csv`.
///
/// Resuming (`resume: true` with a checkpoint present) continues bit-exactly: N steps straight
/// and k steps + resume + N − k steps give identical weights on the same machine and thread
/// counts. Only `steps`, `minutes` and `checkpointMinutes` may differ from the checkpoint's options.
///
/// - Parameters:
///   - generator: the StyleGAN2 generator (its resolution sets the encoder's input size).
///   - outputPath: the encoder file to write (`.safetensors`).
///   - realImages: image files (see `listTrainingImages`), may be empty.
///   - realLatents: `[realImages.count, numWs, wDim]` W+ codes of the real images
///     (`loadImageLatents`), latent targets for them when `options.realLatents`; nil otherwise.
///   - options: see `EncoderTrainingOptions`.
///   - lpips: an LPIPS network for the LPIPS loss (nil: no LPIPS term).
///   - clip: a CLIP model for the CLIP image-feature loss (nil: no CLIP term).
///   - pairs: paired guidance maps → photos for a guidance encoder (`options.guidance` and
///     `options.classes` must name the same kind and class count); `realImages` is then unused.
///   - resume: continue from the folder's checkpoint (an error when there is none).
///   - initialEncoder: fine-tune this encoder instead of starting from `options.seed`'s weights
///     (fresh Adam state, step 0; its architecture, generator and mode must be the run's).
///     Not with `resume`, which continues from the checkpoint's weights.
///   - progress: called after every step.
/// - Throws: `EncoderError` for bad options, an existing checkpoint without `resume` (nothing is
///   overwritten), a checkpoint from other options or another generator, a non-finite loss; file
///   errors naming the path.
public func trainEncoder(generator: StyleGAN2Generator, outputPath: String, realImages: [String] = [],
                         realLatents: Tensor? = nil, options: EncoderTrainingOptions, lpips: LPIPS? = nil, clip: CLIPModel? = nil,
                         pairs: GuidancePairs? = nil, resume: Bool = false, initialEncoder: TrainedEncoder? = nil,
                         progress: ((EncoderTrainingProgress) -> Void)? = nil) throws -> EncoderTrainingReport {
    var options = options
    try options.validate(hasRealImages: !realImages.isEmpty || pairs != nil)
    guard options.guidance == pairs?.kind, options.guidance != .seg || options.classes == pairs?.classes else {
        throw EncoderError(pairs == nil ? "options.guidance needs paired data" : "the paired data (\(pairs!.kind.rawValue), \(pairs!.classes) classes) and options.guidance/classes disagree")
    }
    if let pairs {
        guard (options.pairLatents == true) == (pairs.latents != nil) else {
            throw EncoderError(pairs.latents == nil ? "options.pairLatents needs the photos' latents (GuidancePairs.attachLatents)" : "the pairs carry latents but options.pairLatents is off")
        }
        if let rows = options.givenRows, let bad = rows.first(where: { $0 >= generator.numWs }) {
            throw EncoderError("given row \(bad) is outside the generator's \(generator.numWs) ws rows")
        }
        if let l = pairs.latents, l.shape != [pairs.photos.count, generator.numWs, generator.wDim] {
            throw EncoderError("photo latents have shape \(l.shape), need [\(pairs.photos.count), \(generator.numWs), \(generator.wDim)]")
        }
    }
    guard (options.realLatents == true) == (realLatents != nil) else {
        throw EncoderError(realLatents == nil ? "options.realLatents needs the real images' latents (loadImageLatents)" : "real-image latents were given but options.realLatents is off")
    }
    if let l = realLatents, l.shape != [realImages.count, generator.numWs, generator.wDim] {
        throw EncoderError("real-image latents have shape \(l.shape), need [\(realImages.count), \(generator.numWs), \(generator.wDim)]")
    }
    let folder = encoderTrainingFolder(outputPath: outputPath)
    let checkpointPath = (folder as NSString).appendingPathComponent("checkpoint.safetensors")
    let inputChannels = pairs.map { $0.kind.inputChannels(classes: $0.classes) } ?? (options.iterative ? 6 : 3)
    let architecture = EncoderArchitecture(resolution: generator.resolution, inputChannels: inputChannels,
                                           baseChannels: options.baseChannels, maxChannels: options.maxChannels,
                                           convsPerLevel: options.convsPerLevel, numWs: generator.numWs, wDim: generator.wDim)
    try architecture.validate()
    guard generator.imgChannels == 3 else { throw EncoderError("the encoder trainer needs an RGB generator, this one has \(generator.imgChannels) channels") }

    let exists = FileManager.default.fileExists(atPath: checkpointPath)
    var state: TrainingCheckpoint
    if resume {
        guard initialEncoder == nil else {
            throw EncoderError("an initial encoder starts a run; a resumed run continues from its checkpoint's weights")
        }
        guard exists else { throw EncoderError("\(checkpointPath): no checkpoint to resume from") }
        state = try TrainingCheckpoint(path: checkpointPath)
        guard state.generatorFingerprint == generator.fingerprint else {
            throw EncoderError("\(checkpointPath): trained with another generator (fingerprint \(state.generatorFingerprint), this one \(generator.fingerprint))")
        }
        // What a fine-tuning run started from belongs to the run, not to the resuming call.
        options.initializedFrom = state.options.initializedFrom
        options.initialStage = state.options.initialStage
        guard state.options.computationDefining == options.computationDefining, state.architecture == architecture else {
            throw EncoderError("\(checkpointPath): saved with other training options; only steps, minutes and checkpointMinutes may change on resume")
        }
        state.options = options
    } else {
        guard !exists else {
            throw EncoderError("\(checkpointPath): a checkpoint exists; resume it or remove the folder \(folder)")
        }
        let network: EncoderNetwork
        if var initial = initialEncoder {
            let widened = options.iterative && !initial.config.iterative && initial.config.guidance == nil
            if widened { initial = try widenedForIterativeTraining(initial) }
            try checkInitialEncoder(initial, architecture: architecture, generator: generator, options: options)
            network = initial.network
            options.initialStage = initial.config.stage
            if options.initializedFrom == nil { options.initializedFrom = "an encoder of \(initial.config.steps) steps" }
            if widened { options.initializedFrom! += ", single-pass, widened for iterative training" }
        } else {
            network = try EncoderNetwork(architecture: architecture, seed: options.seed)
        }
        state = TrainingCheckpoint(options: options, architecture: architecture, generatorFingerprint: generator.fingerprint,
                                   step: 0, parameters: network.parameters, adam: Adam(learningRate: options.learningRate),
                                   rng: GaussianStream(seed: options.seed &+ 0x9E37_79B9_7F4A_7C15), elapsedSeconds: 0, history: [])
    }
    let resumedFrom = resume ? state.step : nil
    let data = TrainingData(generator: generator, realImages: realImages, batchSize: options.batchSize,
                            realFraction: options.realFraction, pairs: pairs, realLatents: realLatents)
    let objective = TrainingObjective(generator: generator, imageLoss: trainingImageLoss(options: options, lpips: lpips, clip: clip),
                                      options: options, latentAvg: generator.wAvg)
    // (`validate` counts the LPIPS weight; it only applies with an LPIPS network.)
    if pairs != nil && pairs!.latents == nil && objective.imageLoss.terms.allSatisfy({ $0.weight == 0 }) {
        throw EncoderError("a guidance encoder without photo latents needs an image loss weight > 0")
    }
    let sampleTargets = try data.sampleTargets(count: options.sampleCount, seed: options.seed)
    let names = architecture.parameterShapes.map(\.name)
    var network = try EncoderNetwork(architecture: architecture, parameters: state.parameters)
    var files = [String]()

    func stage(at step: Int) -> Int {
        let scheduled = options.progressiveStepEvery == 0 ? generator.numWs - 1 : min(generator.numWs - 1, step / options.progressiveStepEvery)
        return max(scheduled, options.initialStage ?? 0)
    }
    /// Fraction of the run done (by steps when bounded by steps, else by time).
    func fraction(step: Int, elapsed: Double) -> Double {
        if let steps = options.steps { return Double(step) / Double(steps) }
        return elapsed / (options.minutes! * 60)
    }
    func learningRate(_ t: Double) -> Float {
        guard options.rampDown > 0, t > 1 - options.rampDown else { return options.learningRate }
        let r = min(1, (t - (1 - options.rampDown)) / options.rampDown)
        return options.learningRate * Float(0.5 + 0.5 * cos(Double.pi * r))
    }
    func encoderNow() -> TrainedEncoder {
        var config = EncoderFileConfig(architecture: architecture, generatorFingerprint: generator.fingerprint,
                                       iterative: options.iterative, trainingIterations: options.iterative ? options.iterations : 1,
                                       stage: stage(at: max(state.step - 1, 0)), steps: state.step,
                                       guidance: options.guidance, classes: options.guidance == .seg ? options.classes : nil)
        config.givenRows = options.givenRows
        return TrainedEncoder(network: network, config: config, latentAvg: generator.wAvg)
    }
    func save() throws {
        state.parameters = network.parameters
        try state.write(to: checkpointPath)
        try encoderNow().write(to: outputPath)
        files = [outputPath, checkpointPath]
        files += try writeTrainingFigures(folder: folder, history: state.history, encoder: encoderNow(),
                                          generator: generator, sampleTargets: sampleTargets)
    }

    let runStart = Date()
    let elapsedBefore = state.elapsedSeconds
    var lastCheckpoint = Date()
    let startStep = state.step
    while true {
        let elapsed = elapsedBefore + Date().timeIntervalSince(runStart)
        if let steps = options.steps, state.step >= steps { break }
        if let minutes = options.minutes, elapsed >= minutes * 60 { break }
        let st = stage(at: state.step)
        let lr = learningRate(fraction(step: state.step, elapsed: elapsed))
        let batch = try data.batch(rng: &state.rng)
        let (terms, grads) = try objective.evaluate(network: network, batch: batch, stage: st)
        guard terms.total.isFinite else {
            throw EncoderError("training diverged at step \(state.step + 1) (loss \(terms.total)); lower the learning rate (the last checkpoint is kept)")
        }
        var params = names.map { network.parameters[$0]! }
        state.adam.step(&params, grads: names.map { grads[$0]! }, learningRate: lr)
        for (k, name) in names.enumerated() { network.parameters[name] = params[k] }
        state.step += 1
        state.elapsedSeconds = elapsedBefore + Date().timeIntervalSince(runStart)
        state.history.append([terms.total, terms.image, terms.latent, terms.deltaNorm, terms.pixelMSE,
                              Double(lr), Double(st), state.elapsedSeconds].map { Float($0) })
        var wrote = false
        if Date().timeIntervalSince(lastCheckpoint) >= options.checkpointMinutes * 60 {
            try save()
            lastCheckpoint = Date()
            wrote = true
        }
        let perStep = Date().timeIntervalSince(runStart) / Double(state.step - startStep)
        var eta: Double? = nil
        if let steps = options.steps { eta = perStep * Double(steps - state.step) }
        else if let minutes = options.minutes { eta = max(0, minutes * 60 - state.elapsedSeconds) }
        progress?(EncoderTrainingProgress(step: state.step, totalSteps: options.steps, terms: terms, stage: st,
                                          learningRate: lr, elapsedSeconds: state.elapsedSeconds, etaSeconds: eta,
                                          checkpointWritten: wrote))
    }
    try save()
    return EncoderTrainingReport(encoder: encoderNow(), steps: state.step, stepsThisRun: state.step - startStep,
                                 resumedFromStep: resumedFrom, elapsedSeconds: state.elapsedSeconds,
                                 lossHistory: state.history.map { Double($0[0]) }, files: files, options: state.options)
}

/// A single-pass image encoder as the start of an iterative (ReStyle) run: the stem gains input
/// channels 3…5 (the current reconstruction) with zero weights, and the codes are added to the
/// current codes instead of `latent_avg`. The first pass starts from `latent_avg`, so on it the
/// widened encoder computes exactly what the single-pass one did; training then teaches the
/// reconstruction channels the residual. (ReStyle's own code copies its backbone's pretrained
/// RGB filters the same way and draws the extra ones at random; zeros keep the first pass intact.)
func widenedForIterativeTraining(_ e: TrainedEncoder) throws -> TrainedEncoder {
    var c = e.config
    guard !c.iterative, c.guidance == nil, c.architecture.inputChannels == 3 else {
        throw EncoderError("only a single-pass RGB encoder can be widened for iterative training")
    }
    var architecture = c.architecture
    architecture.inputChannels = 6
    var parameters = e.network.parameters
    let stem = parameters["stem.weight"]!                 // [co, 3, 3, 3] → [co, 6, 3, 3]
    parameters["stem.weight"] = concatenateChannels(stem, Tensor.zeros(stem.shape))
    c.architecture = architecture
    c.iterative = true
    c.trainingIterations = 1
    let network = try EncoderNetwork(architecture: architecture, parameters: parameters)
    return TrainedEncoder(network: network, config: c, latentAvg: e.latentAvg)
}

/// Refuses an initial encoder the run could not continue: another generator, architecture
/// (channels, depth, input channels, resolution, ws) or mode (checked first: it explains the
/// input channels). A single-pass encoder reaches an iterative run widened (`widenedForIterativeTraining`).
func checkInitialEncoder(_ e: TrainedEncoder, architecture: EncoderArchitecture, generator: StyleGAN2Generator,
                         options: EncoderTrainingOptions) throws {
    func describe(_ a: EncoderArchitecture) -> String {
        "\(a.resolution)², \(a.inputChannels) input channels, channels \(a.baseChannels)…\(a.maxChannels), \(a.convsPerLevel) convs per level, \(a.numWs) × \(a.wDim) codes"
    }
    func mode(iterative: Bool, guidance: GuidanceKind?) -> String {
        guidance.map { "a \($0.rawValue) guidance encoder" } ?? (iterative ? "an iterative (ReStyle) encoder" : "a single-pass image encoder")
    }
    let c = e.config
    guard c.generatorFingerprint == generator.fingerprint else {
        throw EncoderError("the initial encoder was trained with another generator (fingerprint \(c.generatorFingerprint), this one \(generator.fingerprint))")
    }
    guard c.iterative == options.iterative, c.guidance == options.guidance, c.classes == (options.guidance == .seg ? options.classes : nil) else {
        throw EncoderError("the initial encoder is \(mode(iterative: c.iterative, guidance: c.guidance)), the run trains \(mode(iterative: options.iterative, guidance: options.guidance))")
    }
    guard c.architecture == architecture else {
        throw EncoderError("the initial encoder's architecture (\(describe(c.architecture))) differs from the run's (\(describe(architecture))); give the same channel and depth options")
    }
}

/// `loss.png`, `psnr.png`, `samples.png` (pairs target | reconstruction, four pairs per row) and
/// `history.csv` in `folder`, each written atomically. Returns their paths.
func writeTrainingFigures(folder: String, history: [[Float]], encoder: TrainedEncoder, generator: StyleGAN2Generator,
                          sampleTargets: (targets: Tensor, inputs: Tensor?)?) throws -> [String] {
    func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
    var written = [String]()
    try saveImage(lossCurveImage(history.map { Double($0[0]) }), to: path("loss.png"))
    // PSNR rises as MSE falls: plot 1/MSE on the log scale (= PSNR up to a factor 10).
    try saveImage(lossCurveImage(history.map { $0[4] > 0 ? 1 / Double($0[4]) : .nan }, color: (0.6, -0.6, -0.6)), to: path("psnr.png"))
    written += [path("loss.png"), path("psnr.png")]
    if let (targets, inputs) = sampleTargets {
        // Guidance encoders render as `translate` does (open rows from seeded samples).
        let recon = try inputs.map { try translateMaps($0, encoder: encoder, generator: generator,
                                                       openRowSeeds: (0..<$0.shape[0]).map { UInt32($0) }).images }
            ?? generator.synthesis(ws: try encoder.encode(images: targets, generator: generator, iterations: encoder.config.trainingIterations).last!)
        var tiles = [Tensor]()
        for i in 0..<targets.shape[0] {
            // Guidance encoders: map | photo | output triples.
            if let inputs, let kind = encoder.config.guidance {
                let m = inputs.row(i)
                let ids = kind == .seg ? (0..<(m.shape[1] * m.shape[2])).map { p in (0..<m.shape[0]).first { m.storage[$0 * m.shape[1] * m.shape[2] + p] > 0.5 } ?? 0 } : nil
                tiles.append(guidanceMapPicture(GuidanceMap(tensor: m, classIds: ids, resizedFrom: nil), kind: kind))
            }
            tiles.append(targets.row(i)); tiles.append(recon.row(i).map { min(max($0, -1), 1) })
        }
        try saveImage(imageGrid(tiles, columns: inputs == nil ? 8 : 9, padding: 2), to: path("samples.png"))
        written.append(path("samples.png"))
    }
    var csv = "step," + TrainingHistory.columns.joined(separator: ",") + "\n"
    for (i, row) in history.enumerated() { csv += "\(i + 1)," + row.map { "\($0)" }.joined(separator: ",") + "\n" }
    try writeAtomically(Data(csv.utf8), to: path("history.csv"))
    written.append(path("history.csv"))
    return written
}
