import XCTest
import LatentTensor
import LatentFormats
import LatentModels
import LatentEncoders
import LatentImageIO
import LatentInversion
import LatentCore
import LatentCLIP
import _TestSupport

/// The trainer on the tiny32 golden generator: the loss falls, a resumed run is bit-identical to
/// a straight one, bad options are refused, ReStyle mode trains.
final class EncoderTrainingTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try temporaryFolder("train") }
    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// Small, fast options for tiny32 (32², 8 ws × 128).
    func smallOptions(steps: Int) -> EncoderTrainingOptions {
        var o = EncoderTrainingOptions()
        o.baseChannels = 8; o.maxChannels = 16; o.convsPerLevel = 1
        o.steps = steps; o.batchSize = 4; o.learningRate = 1e-3
        o.progressiveStepEvery = 4; o.sampleCount = 4
        return o
    }

    func realImages() throws -> [String] {
        try listTrainingImages(folder: packageRoot().appendingPathComponent("Tests/LatentInversionTests/Resources/scenes").path)
    }

    func testLossDecreases() throws {
        let g = try tiny32Generator()
        var o = smallOptions(steps: 40)
        o.rampDown = 0
        let out = dir.appendingPathComponent("E.safetensors").path
        var seen = 0
        let report = try trainEncoder(generator: g, outputPath: out, options: o) { p in
            seen += 1
            XCTAssertEqual(p.step, seen)
            XCTAssertTrue(p.terms.total.isFinite)
        }
        XCTAssertEqual(report.steps, 40)
        let h = report.lossHistory
        let first = h.prefix(5).reduce(0, +) / 5, last = h.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, 0.8 * first, "loss \(first) → \(last)")
        // The files of a run.
        let folder = encoderTrainingFolder(outputPath: out)
        for name in ["checkpoint.safetensors", "loss.png", "psnr.png", "samples.png", "history.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/" + name), name)
        }
        let e = try TrainedEncoder(path: out)
        XCTAssertEqual(e.config.steps, 40)
        XCTAssertEqual(e.config.stage, 7)           // 40 steps / 4 per stage, capped at numWs − 1
        XCTAssertEqual(e.config.generatorFingerprint, g.fingerprint)
        XCTAssertEqual(try e.encode(images: g.synthesis(ws: g.mapping(z: Tensor.zeros([1, g.zDim])))).shape, [1, 8, 128])
    }

    /// The CLIP image-feature term joins the objective when a model and a weight are given, and
    /// the options of checkpoints written before it existed (no `clipWeight` key) still decode.
    func testCLIPTermJoinsTheObjective() throws {
        let g = try tiny32Generator()
        let clip = try CLIPModel(config: tinyCLIPConfig, weights: tinyCLIPWeights())
        var o = smallOptions(steps: 1)
        o.rampDown = 0
        let plain = try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("A.safetensors").path, options: o)
        o.clipWeight = 2
        var terms: EncoderLossTerms?
        let withCLIP = try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("B.safetensors").path, options: o,
                                        clip: clip) { terms = $0.terms }
        // Same initial weights and batch: the first loss grows by 2 · (1 − cos) > 0.
        XCTAssertGreaterThan(withCLIP.lossHistory[0], plain.lossHistory[0] + 1e-6)
        XCTAssertTrue(terms!.total.isFinite)
        var old = o
        old.clipWeight = nil
        XCTAssertFalse(old.json.contains("clipWeight"))
        XCTAssertEqual(try JSONDecoder().decode(EncoderTrainingOptions.self, from: Data(old.json.utf8)), old)
        var bad = o
        bad.clipWeight = -1
        XCTAssertThrowsError(try bad.validate(hasRealImages: false))
    }

    /// N steps straight = k steps, then resume to N: identical weights, Adam and history (the same
    /// computation in the same process and thread count, so bit-equality is the right test).
    func testResumeIsBitExact() throws {
        let g = try tiny32Generator()
        let images = try realImages()
        var o = smallOptions(steps: 7)
        o.realFraction = 0.5
        let a = dir.appendingPathComponent("a/E.safetensors").path
        let straight = try trainEncoder(generator: g, outputPath: a, realImages: images, options: o)
        let b = dir.appendingPathComponent("b/E.safetensors").path
        o.steps = 3
        _ = try trainEncoder(generator: g, outputPath: b, realImages: images, options: o)
        o.steps = 7
        let resumed = try trainEncoder(generator: g, outputPath: b, realImages: images, options: o, resume: true)
        XCTAssertEqual(resumed.resumedFromStep, 3)
        XCTAssertEqual(resumed.stepsThisRun, 4)
        XCTAssertEqual(straight.lossHistory, resumed.lossHistory)
        let fa = try SafeTensorsFile(path: encoderTrainingFolder(outputPath: a) + "/checkpoint.safetensors")
        let fb = try SafeTensorsFile(path: encoderTrainingFolder(outputPath: b) + "/checkpoint.safetensors")
        XCTAssertEqual(fa.names, fb.names)
        for name in fa.names where name != "history" { XCTAssertEqual(try fa.tensor(name), try fb.tensor(name), name) }
        XCTAssertEqual(fa.metadata["rngState"], fb.metadata["rngState"])
        XCTAssertEqual(try TrainedEncoder(path: a).network.parameters, try TrainedEncoder(path: b).network.parameters)
        // Straight on from a finished run: nothing more to do, same weights.
        let again = try trainEncoder(generator: g, outputPath: b, realImages: images, options: o, resume: true)
        XCTAssertEqual(again.stepsThisRun, 0)
    }

    func testBadOptionsRefused() throws {
        let g = try tiny32Generator()
        let out = dir.appendingPathComponent("E.safetensors").path
        func refuses(_ change: (inout EncoderTrainingOptions) -> Void, _ fragment: String, images: [String] = [], resume: Bool = false,
                     line: UInt = #line) {
            var o = smallOptions(steps: 2)
            change(&o)
            XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: out, realImages: images, options: o, resume: resume), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "\(e)", line: line)
                XCTAssertFalse("\(e)".contains("\n"), line: line)
            }
        }
        refuses({ $0.steps = 0 }, "steps must be ≥ 1")
        refuses({ $0.steps = nil }, "give steps or minutes")
        refuses({ $0.minutes = -1 }, "minutes must be positive")
        refuses({ $0.batchSize = 0 }, "batchSize")
        refuses({ $0.learningRate = .nan }, "learningRate")
        refuses({ $0.l2Weight = -1 }, "l2Weight")
        refuses({ $0.realFraction = 1 }, "needs real images")
        refuses({ $0.iterative = true; $0.iterations = 0 }, "iterations")
        refuses({ _ in }, "no checkpoint to resume", resume: true)
        XCTAssertThrowsError(try listTrainingImages(folder: dir.path)) { e in XCTAssertTrue("\(e)".contains("no images under"), "\(e)") }
        // A finished run is not overwritten; a resume with other options is refused.
        _ = try trainEncoder(generator: g, outputPath: out, options: smallOptions(steps: 1))
        refuses({ _ in }, "a checkpoint exists")
        refuses({ $0.learningRate = 2e-3 }, "other training options", resume: true)
    }

    /// Real images with W+ codes (`realLatents`, as `project`/`encode` write them): the latent loss
    /// covers them — with every batch real and no image loss it is the whole objective, it falls,
    /// and the trained (iterative) encoder's codes approach the targets. Without them the same
    /// all-real batches have no latent term. Mismatched options and data are refused.
    func testRealImageLatentsAreRegressed() throws {
        let g = try tiny32Generator()
        let root = packageRoot().appendingPathComponent("Tests/LatentInversionTests/Resources/scenes").path
        let images = try realImages()
        var rng = TestRNG(seed: 5)
        let targets = rng.tensor([images.count, g.numWs, g.wDim], -0.5, 0.5)
        let codes = dir.appendingPathComponent("codes").path
        let folders = outputFolderNames(for: try listImages(root: root))
        for (i, image) in images.enumerated() {
            let folder = codes + "/" + folders[URL(fileURLWithPath: image).lastPathComponent]!
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try LatentFile(ws: targets.slice(i ..< i + 1), noise: g.constNoise).write(to: folder + "/latent.npz")
        }
        let latents = try loadImageLatents(for: images, listedFrom: root, folder: codes, generator: g)
        XCTAssertEqual(latents, targets)
        var o = smallOptions(steps: 40)
        o.iterative = true; o.iterations = 2; o.realFraction = 1; o.realLatents = true
        o.l2Weight = 0; o.msSSIMWeight = 0; o.deltaNormWeight = 0; o.rampDown = 0
        let out = dir.appendingPathComponent("L.safetensors").path
        let report = try trainEncoder(generator: g, outputPath: out, realImages: images, realLatents: latents, options: o)
        let h = report.lossHistory
        XCTAssertLessThan(h.suffix(4).reduce(0, +), 0.5 * h.prefix(4).reduce(0, +), "latent loss \(h.first!) → \(h.last!)")
        let pictures = Tensor.concatenate(try images.map { try loadProjectionTarget(path: $0, resolution: 32).reshaped([1, 3, 32, 32]) })
        let ws = try TrainedEncoder(path: out).encode(images: pictures, generator: g, iterations: 2).last!
        let avg = Tensor.concatenate(Array(repeating: broadcastToWs(g.wAvg.reshaped([1, g.wDim]), numWs: g.numWs), count: images.count))
        XCTAssertLessThan(meanSquaredDifference(ws, targets), 0.5 * meanSquaredDifference(avg, targets))
        // All-real batches without latents: image loss only, the latent column stays 0.
        var plain = smallOptions(steps: 2)
        plain.realFraction = 1
        _ = try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("P.safetensors").path, realImages: images, options: plain)
        let csv = try String(contentsOfFile: encoderTrainingFolder(outputPath: dir.appendingPathComponent("P.safetensors").path) + "/history.csv", encoding: .utf8)
        let latentColumn = csv.split(separator: "\n").dropFirst().map { Double($0.split(separator: ",")[3])! }
        XCTAssertEqual(latentColumn, [0, 0])
        // Options and data must agree.
        func refuses(_ o: EncoderTrainingOptions, latents: Tensor?, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("X.safetensors").path, realImages: images,
                                                  realLatents: latents, options: o), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "\(e)", line: line)
            }
        }
        var off = o; off.realLatents = nil
        refuses(off, latents: latents, "options.realLatents is off")
        refuses(o, latents: nil, "needs the real images' latents")
        refuses(o, latents: latents.slice(0 ..< 1), "real-image latents have shape")
        var noReal = o; noReal.realFraction = 0
        refuses(noReal, latents: latents, "realLatents needs real images")
        try FileManager.default.removeItem(atPath: codes + "/" + folders["scene_002.png"]! + "/latent.npz")
        XCTAssertThrowsError(try loadImageLatents(for: images, listedFrom: root, folder: codes, generator: g)) { e in
            XCTAssertTrue("\(e)".contains("scene_002.png"), "\(e)"); XCTAssertFalse("\(e)".contains("\n"))
        }
    }

    /// `initialEncoder` fine-tunes: the run starts from its weights (not the seed's) and keeps its
    /// progressive stage; a resume of such a run continues; mismatches and init + resume are refused.
    func testFineTuningStartsFromTheInitialEncoder() throws {
        let g = try tiny32Generator()
        var o = smallOptions(steps: 6)                     // 6 steps / 4 per stage: stage 1
        let a = dir.appendingPathComponent("a/E.safetensors").path
        _ = try trainEncoder(generator: g, outputPath: a, options: o)
        let initial = try TrainedEncoder(path: a)
        XCTAssertEqual(initial.config.stage, 1)
        // A step small enough to leave the weights where they start (Adam moves each by ≤ ~lr).
        o.steps = 1; o.seed = 7; o.learningRate = 1e-12
        let b = dir.appendingPathComponent("b/E.safetensors").path
        _ = try trainEncoder(generator: g, outputPath: b, options: o, initialEncoder: initial)
        let tuned = try TrainedEncoder(path: b)
        let fresh = try EncoderNetwork(architecture: initial.config.architecture, seed: 7)
        var fromInitial: Float = 0, fromSeed: Float = 0
        for (name, p) in tuned.network.parameters {
            fromInitial = max(fromInitial, maxAbsDiff(p, initial.network.parameters[name]!))
            fromSeed = max(fromSeed, maxAbsDiff(p, fresh.parameters[name]!))
        }
        XCTAssertLessThan(fromInitial, 1e-6)
        XCTAssertGreaterThan(fromSeed, 1e-2)
        XCTAssertEqual(tuned.config.stage, 1, "the initial encoder's stage is kept (the schedule alone says 0)")
        let checkpoint = try SafeTensorsFile(path: encoderTrainingFolder(outputPath: b) + "/checkpoint.safetensors")
        XCTAssertTrue(checkpoint.metadata.values.contains { $0.contains("an encoder of 6 steps") }, "provenance recorded")
        // Resuming the fine-tuning run needs no initial encoder, and refuses one.
        o.steps = 2
        let resumed = try trainEncoder(generator: g, outputPath: b, options: o, resume: true)
        XCTAssertEqual(resumed.stepsThisRun, 1)
        XCTAssertEqual(resumed.options.initializedFrom, "an encoder of 6 steps", "the run's provenance survives the resume")
        XCTAssertEqual(try TrainedEncoder(path: b).config.stage, 1)
        o.steps = 3
        XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: b, options: o, resume: true, initialEncoder: initial)) {
            XCTAssertTrue("\($0)".contains("continues from its checkpoint"), "\($0)")
        }
        // Another architecture or mode is refused, naming what differs.
        var other = o
        other.baseChannels = 4
        XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("c/E.safetensors").path,
                                              options: other, initialEncoder: initial)) {
            XCTAssertTrue("\($0)".contains("architecture"), "\($0)")
        }
        // An iterative initial encoder cannot start a single-pass run.
        other = o
        other.iterative = true; other.iterations = 1; other.steps = 1
        let widenedPath = dir.appendingPathComponent("d/E.safetensors").path
        _ = try trainEncoder(generator: g, outputPath: widenedPath, options: other, initialEncoder: initial)
        XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("e/E.safetensors").path,
                                              options: o, initialEncoder: try TrainedEncoder(path: widenedPath))) {
            XCTAssertTrue("\($0)".contains("the initial encoder is an iterative"), "\($0)")
        }
    }

    /// A single-pass encoder starts an iterative run: the stem is widened with zero weights for the
    /// reconstruction channels, so the iterative encoder's first pass (from `latent_avg`) gives the
    /// single-pass codes; the provenance says so.
    func testIterativeRunStartsFromASinglePassEncoder() throws {
        let g = try tiny32Generator()
        var o = smallOptions(steps: 5)
        let a = dir.appendingPathComponent("a/E.safetensors").path
        _ = try trainEncoder(generator: g, outputPath: a, options: o)
        let initial = try TrainedEncoder(path: a)
        o.iterative = true; o.iterations = 2; o.steps = 1; o.learningRate = 1e-12
        let b = dir.appendingPathComponent("b/E.safetensors").path
        let report = try trainEncoder(generator: g, outputPath: b, options: o, initialEncoder: initial)
        XCTAssertEqual(report.options.initializedFrom, "an encoder of 5 steps, single-pass, widened for iterative training")
        let iterative = try TrainedEncoder(path: b)
        XCTAssertTrue(iterative.isIterative)
        XCTAssertEqual(iterative.config.architecture.inputChannels, 6)
        XCTAssertEqual(iterative.config.stage, initial.config.stage)
        let images = Tensor(shape: [3, 3, 32, 32], generator: { Float(sin(Double($0) * 0.37)) })
        let single = try initial.encode(images: images)
        let passes = try iterative.encode(images: images, generator: g, iterations: 2)
        XCTAssertLessThan(maxAbsDiff(passes[0], single), 1e-4, "first pass = the single-pass encoder")
        XCTAssertGreaterThan(maxAbsDiff(passes[1], passes[0]), 1e-4, "the second pass moves the codes")
    }

    func testIterativeModeTrains() throws {
        let g = try tiny32Generator()
        var o = smallOptions(steps: 3)
        o.iterative = true; o.iterations = 2; o.batchSize = 2; o.sampleCount = 2
        let out = dir.appendingPathComponent("R.safetensors").path
        let report = try trainEncoder(generator: g, outputPath: out, options: o)
        XCTAssertTrue(report.lossHistory.allSatisfy { $0.isFinite })
        let e = try TrainedEncoder(path: out)
        XCTAssertTrue(e.config.iterative)
        XCTAssertEqual(e.config.architecture.inputChannels, 6)
        let target = g.synthesis(ws: g.mapping(z: Tensor(shape: [2, g.zDim], generator: { Float(sin(Double($0))) })))
        let steps = try e.encode(images: target, generator: g, iterations: 3)
        XCTAssertEqual(steps.count, 3)
        XCTAssertEqual(steps[2].shape, [2, 8, 128])
        XCTAssertGreaterThan(maxAbsDiff(steps[0], steps[1]), 0)   // each iteration moves the codes
    }
}
