import ArgumentParser
import Foundation
import LatentCore
import LatentTensor
import LatentInversion
import LatentEncoders
import LatentFormats

/// `latentlab train-encoder`: trains an e4e-style encoder for a generator on the CPU.
struct TrainEncoder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-encoder",
        abstract: "Train an image → W+ encoder (e4e design, optional ReStyle iterations) for a generator.",
        discussion: """
        Each step encodes a batch of generator samples (whose w is known: latent loss + image losses) and, with \
        --images, real images (image losses only), renders the codes and updates the encoder with Adam. Image \
        losses: pixel L2, 1 − MS-SSIM, LPIPS with --lpips-weights, CLIP image features with --clip. e4e's progressive stages add one per-style delta \
        every --progressive-every steps; the delta-norm regulariser keeps the codes near one w.
        Writes OUT (the encoder, refreshed at every checkpoint) and OUT's training folder (OUT without .safetensors \
        + .training/): checkpoint.safetensors every --checkpoint-minutes, loss.png, psnr.png, samples.png (pairs \
        target | reconstruction), history.csv, train-encoder.json. --resume continues from the checkpoint exactly \
        (bit-identical to an uninterrupted run on the same machine and thread counts); only --steps, --minutes and \
        --checkpoint-minutes may change. Without --resume an existing checkpoint is never overwritten. \
        --init E fine-tunes an existing encoder (same architecture options and generator) with a fresh optimiser (a single-pass one also starts an --iterative run).
        For the default generator, real renders are what to train on: its z sets colours but hardly the layout.
        """)

    @OptionGroup var net: NetworkOptions
    @Option(help: "The encoder file to write (.safetensors).") var out: String
    @Option(help: "Folder of real training images (.png/.jpg, searched recursively).") var images: String?
    @Option(name: .customLong("image-latents"), help: "With --images: the folder `latentlab project` (e.g. --method hybrid) or `encode` wrote for IMAGES; the encoder also regresses those W+ codes of the real images (weight --latent-weight), not only their pixels.")
    var imageLatents: String?
    @Option(help: "Train for this many minutes in total (counting time before a resume).") var minutes: Double?
    @Option(help: "Train for this many steps in total (counting steps before a resume).") var steps: Int?
    @Flag(help: "Continue from the checkpoint in OUT's training folder.") var resume = false
    @Option(name: .customLong("init"), help: "Fine-tune this encoder (a train-encoder .safetensors, or 'default' for the embedded scenes64 encoder) instead of starting from random weights: fresh Adam state, same architecture options, its progressive stage kept; a single-pass encoder can start an --iterative run (its first pass unchanged). Not with --resume.")
    var initEncoder: String?
    @Flag(help: "ReStyle mode: input = (image, current reconstruction), residual codes.") var iterative = false
    @Option(help: "ReStyle iterations per training step (with --iterative).") var iterations: Int = 3
    @Option(help: "Images per step.") var batch: Int = 8
    @Option(help: "Adam learning rate (cosine ramp-down over the last quarter).") var lr: Float = 2e-4
    @Option(help: "Random seed (initial weights, samples, real-image draws).") var seed: UInt64 = 0
    @Option(name: .customLong("real-fraction"), help: "Share of each batch taken from --images.") var realFraction: Double = 0.5
    @Option(help: "Weight of the pixel L2 loss.") var l2: Float = 1
    @Option(help: "Weight of 1 − MS-SSIM.") var msssim: Float = 0.2
    @Option(help: "Weight of LPIPS (needs --lpips-weights).") var lpips: Float = 0.8
    @Option(name: .customLong("lpips-weights"), help: "LPIPS weights (.safetensors: features.N.*, lin{k}.model.1.weight).") var lpipsWeights: String?
    @Option(name: .customLong("lpips-net"), help: "LPIPS backbone: vgg or alex.") var lpipsNet: LPIPSNet = .vgg
    @Option(help: "Weight of the CLIP image-feature loss 1 − cos(CLIP(x̂), CLIP(x)) (the embedded clip-scenes64, or --clip-model).") var clip: Float = 0
    @Option(name: .customLong("clip-model"), help: "CLIP checkpoint for --clip (.safetensors, OpenAI key names, ViT).") var clipModel: String?
    @Option(help: "Paired folder (pix2pix layout: seg/ or sketch/ next to photo/, files matched by name): train a guidance encoder map → W+ with image losses against photo/.")
    var pairs: String?
    @Option(help: "With --pairs: which maps the encoder reads (seg: one-hot class maps; sketch: boundary maps).") var input: GuidanceKind?
    @Option(help: "With --input seg: number of classes (ids 0…N−1).") var classes: Int = 7
    @Option(name: .customLong("pair-latents"), help: "With --pairs: the folder `latentlab encode` or `project` wrote for PAIRS/photo (or for pictures named like the photos); the encoder also regresses those W+ codes (weight --latent-weight). With --l2 0 --msssim 0 it learns from them alone (no generator backward: about twice the steps per minute).")
    var pairLatents: String?
    @Option(name: .customLong("given-rows"), help: "With --pair-latents: ws rows (a-b or a,b,…) rendered from the photo's own code during training, e.g. the colour rows a seg map cannot know (scenes64: 4-9); the encoder learns them from the latent loss only.")
    var givenRows: String?
    @Option(name: .customLong("latent-weight"), help: "Weight of the latent MSE on generator samples (and on images with --image-latents / --pair-latents).") var latentWeight: Float = 1
    @Option(name: .customLong("delta-norm"), help: "Weight of e4e's delta-norm regulariser.") var deltaNorm: Float = 2e-4
    @Option(name: .customLong("progressive-every"), help: "Steps per progressive stage (0: all deltas from the start).") var progressiveEvery: Int = 100
    @Option(name: .customLong("base-channels"), help: "Encoder channels at full resolution.") var baseChannels: Int = 32
    @Option(name: .customLong("max-channels"), help: "Encoder channel cap.") var maxChannels: Int = 128
    @Option(name: .customLong("convs-per-level"), help: "Stride-1 convs per pyramid level.") var convsPerLevel: Int = 1
    @Option(name: .customLong("checkpoint-minutes"), help: "Minutes between checkpoints.") var checkpointMinutes: Double = 5

    /// `--given-rows` as row numbers (nil when absent or malformed; `validate` reports why).
    var givenRowList: [Int]? { givenRows.flatMap { try? parseIntList($0) } }

    var options: EncoderTrainingOptions {
        var o = EncoderTrainingOptions()
        o.baseChannels = baseChannels; o.maxChannels = maxChannels; o.convsPerLevel = convsPerLevel
        o.iterative = iterative; o.iterations = iterations
        o.steps = steps; o.minutes = minutes; o.checkpointMinutes = checkpointMinutes
        o.batchSize = batch; o.learningRate = lr; o.seed = seed
        o.l2Weight = l2; o.msSSIMWeight = msssim; o.lpipsWeight = lpipsWeights == nil ? 0 : lpips
        o.clipWeight = clip > 0 ? clip : nil
        o.latentWeight = latentWeight; o.deltaNormWeight = deltaNorm; o.progressiveStepEvery = progressiveEvery
        o.realFraction = images == nil ? 0 : realFraction
        o.realLatents = imageLatents != nil ? true : nil
        if pairs != nil, let input {
            o.guidance = input
            o.classes = input == .seg ? classes : nil
            o.realFraction = 0
            o.pairLatents = pairLatents != nil ? true : nil
            o.givenRows = givenRowList
        }
        return o
    }

    func validate() throws {
        guard steps != nil || minutes != nil else { throw ValidationError("give --steps N or --minutes M") }
        guard !out.isEmpty else { throw ValidationError("--out must not be empty") }
        guard clip >= 0, clip.isFinite else { throw ValidationError("--clip must be a non-negative weight") }
        if pairs != nil {
            guard input != nil else { throw ValidationError("--pairs needs --input seg|sketch") }
            guard images == nil, !iterative else { throw ValidationError("--pairs trains a guidance encoder: drop --images and --iterative") }
        } else if input != nil { throw ValidationError("--input needs --pairs DIR") }
        if imageLatents != nil && images == nil { throw ValidationError("--image-latents needs --images DIR") }
        if pairLatents != nil && pairs == nil { throw ValidationError("--pair-latents needs --pairs DIR") }
        if givenRows != nil && pairLatents == nil { throw ValidationError("--given-rows needs --pair-latents DIR") }
        if let givenRows { _ = try parseIntList(givenRows, name: "--given-rows") }
        if clipModel != nil && clip == 0 { throw ValidationError("--clip-model needs --clip W > 0") }
        if initEncoder != nil && resume { throw ValidationError("--init starts a run; --resume continues from the checkpoint's weights: drop one") }
        do { try options.validate(hasRealImages: images != nil || pairs != nil) }
        catch let e as LatentEncoders.EncoderError { throw ValidationError(e.description) }
    }

    func run() throws {
        do {
            let G = try net.loadGenerator()
            let real = try images.map { try listTrainingImages(folder: $0) } ?? []
            let realLatents = try imageLatents.map { try loadImageLatents(for: real, listedFrom: images!, folder: $0, generator: G) }
            var pairData = try pairs.map { try GuidancePairs(folder: $0, kind: input!, classes: classes) }
            if let pairLatents { try pairData!.attachLatents(folder: pairLatents, generator: G) }
            let lpipsNetwork = try lpipsWeights.map { try LPIPS(net: lpipsNet, weightsPath: $0) }
            let clipNetwork = clip > 0 ? try CLIPModelOptions.parse(clipModel.map { ["--model", $0] } ?? []).load() : nil
            var o = options
            var initial: TrainedEncoder?
            if let initEncoder {
                let embedded = initEncoder == "default"
                if !embedded { _ = try sniffFileKind(path: initEncoder) }
                do { initial = try embedded ? DefaultEncoder.load() : TrainedEncoder(path: initEncoder) } catch {
                    throw CommandFailure(error, context: embedded ? "embedded encoder" : initEncoder)
                }
                o.initializedFrom = "\(embedded ? "default:scenes64-encoder" : initEncoder) (\(initial!.config.steps) steps)"
            }
            // A resumed run reports its total steps / seconds: its bars measure their rate from there.
            let bar = o.steps.map { ProgressBar(total: $0, label: "train-encoder", resumed: resume) }
            let minuteBar = o.minutes.map { ProgressBar(total: Int(($0 * 60).rounded()), label: "train-encoder", resumed: resume) }
            let report = try trainEncoder(generator: G, outputPath: out, realImages: real, realLatents: realLatents, options: o, lpips: lpipsNetwork,
                                          clip: clipNetwork, pairs: pairData, resume: resume,
                                          initialEncoder: initial) { p in
                let detail = String(format: "step %d loss %.4g psnr %.2f dB stage %d", p.step, p.terms.total,
                                    -10 * log10(max(p.terms.pixelMSE, 1e-12)), p.stage)
                if let bar { bar.update(p.step, detail: detail) }
                if let minuteBar { minuteBar.update(Int(p.elapsedSeconds), detail: detail) }
            }
            minuteBar?.update(Int.max)
            let folder = encoderTrainingFolder(outputPath: out)
            // The options as their own JSON object, numbers as numbers (one RunRecord like every command's).
            let effective = report.options
            let options = (try? JSONDecoder().decode(RecordValue.self, from: Data(effective.json.utf8))) ?? .string(effective.json)
            var record = RunRecord(command: "train-encoder", [
                "network": .string(net.networkName), "out": .string(out), "images": RecordValue(images), "resume": .bool(resume),
                "init": RecordValue(initEncoder), "pairs": RecordValue(pairs), "input": RecordValue(input?.rawValue), "pair_latents": RecordValue(pairLatents),
                "image_latents": RecordValue(imageLatents),
                "options": options, "steps": .int(report.steps), "steps_this_run": .int(report.stepsThisRun),
                "seconds": RecordValue(report.elapsedSeconds), "final_loss": report.lossHistory.last.map { RecordValue(Double($0)) } ?? .null,
            ])
            if clip > 0 { record.values["clip_model"] = .string(clipModel ?? "default:clip-scenes64") }
            if let lpipsWeights { record.values["lpips_weights"] = .string(lpipsWeights); record.values["lpips_net"] = .string(lpipsNet.rawValue) }
            let recordPath = (folder as NSString).appendingPathComponent("train-encoder.json")
            do { try record.write(to: recordPath) } catch { throw CommandFailure(error, context: recordPath) }
            print("\(out): \(report.steps) steps (\(report.stepsThisRun) this run), \(String(format: "%.0f", report.elapsedSeconds)) s, final loss \(report.lossHistory.last.map { String(format: "%.4g", $0) } ?? "-"); figures in \(folder)")
        } catch let e as CommandFailure {
            throw e
        } catch {
            throw CommandFailure(error)
        }
    }
}
