import XCTest
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentEncoders
import LatentCore
import LatentInversion
import _TestSupport

/// Guidance maps (decoding, resizing, refusals) and the trainer's paired path (`--pairs`): loss
/// decreases, resume is exact, the file records what it reads; translation writes its outputs and
/// resumes.
final class GuidanceEncoderTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try temporaryFolder("guidance") }
    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// An 8-bit gray PNG whose values are `ids` (`[h·w]`, row-major).
    func writeGray(_ ids: [Int], h: Int, w: Int, to path: String) throws {
        try saveImage(Tensor(shape: [1, h, w], data: ids.map { Float($0) / 127.5 - 1 }), to: path)
    }

    /// A paired folder for tiny32 (32²): photos are generator renders, seg maps are their
    /// luminance in three bands (so the map carries the layout of the photo), sketches the
    /// boundaries between bands.
    func makePairs(count: Int) throws -> String {
        let g = try tiny32Generator()
        let root = dir.appendingPathComponent("pairs").path
        for sub in ["seg", "sketch", "photo"] { try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true) }
        var rng = SplitMix64(seed: 9)
        let z = Tensor(shape: [count, g.zDim], generator: { _ in Float(Double(rng.next() >> 11) / 9_007_199_254_740_992.0 * 2 - 1) })
        let photos = g.synthesis(ws: g.mapping(z: z, truncationPsi: 0.7)).map { min(max($0, -1), 1) }
        for i in 0..<count {
            let p = photos.row(i)
            let name = String(format: "%03d.png", i)
            try saveImage(p, to: root + "/photo/" + name)
            var ids = [Int](repeating: 0, count: 1024)
            for k in 0..<1024 {
                let lum: Float = (p.storage[k] + p.storage[1024 + k] + p.storage[2048 + k]) / 3
                ids[k] = lum < -0.2 ? 0 : lum < 0.2 ? 1 : 2
            }
            try writeGray(ids, h: 32, w: 32, to: root + "/seg/" + name)
            var edges = [Int](repeating: 0, count: 1024)
            for k in 0..<1024 {
                let x = k % 32, y = k / 32
                let right = x + 1 < 32 && ids[k + 1] != ids[k], down = y + 1 < 32 && ids[k + 32] != ids[k]
                edges[k] = right || down ? 255 : 0
            }
            try writeGray(edges, h: 32, w: 32, to: root + "/sketch/" + name)
        }
        return root
    }

    func testGuidanceMapsDecodeResizeAndRefuse() throws {
        let path = dir.appendingPathComponent("m.png").path
        // 4×4 map with classes 0…3 in quadrants, read at 8×8: nearest neighbour keeps the ids.
        try writeGray([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3], h: 4, w: 4, to: path)
        let m = try loadGuidanceMap(path: path, kind: .seg, classes: 4, resolution: 8)
        XCTAssertEqual(m.tensor.shape, [4, 8, 8])
        XCTAssertEqual(m.resizedFrom?.width, 4)
        XCTAssertEqual(m.classIds![0], 0); XCTAssertEqual(m.classIds![7], 1); XCTAssertEqual(m.classIds![56], 2); XCTAssertEqual(m.classIds![63], 3)
        // One-hot: exactly one channel is 1 per pixel.
        for p in 0..<64 { XCTAssertEqual((0..<4).map { m.tensor.storage[$0 * 64 + p] }.reduce(0, +), 1) }
        XCTAssertEqual(m.tensor.storage[1 * 64 + 7], 1)
        // Ids the encoder has no channel for: one line naming the file and the id.
        XCTAssertThrowsError(try loadGuidanceMap(path: path, kind: .seg, classes: 3, resolution: 8)) { e in
            XCTAssertTrue("\(e)".hasPrefix(path) && "\(e)".contains("class id 3"), "\(e)")
        }
        // A colour image is not a segmentation map.
        let colour = dir.appendingPathComponent("c.png").path
        try saveImage(Tensor(shape: [3, 2, 2], data: [1, 1, 1, 1, -1, -1, -1, -1, 0, 0, 0, 0]), to: colour)
        XCTAssertThrowsError(try loadGuidanceMap(path: colour, kind: .seg, classes: 7, resolution: 2)) { e in XCTAssertTrue("\(e)".contains("gray"), "\(e)") }
        // Sketch: intensity in [0, 1], area-resized.
        let sketch = dir.appendingPathComponent("s.png").path
        try writeGray([255, 0, 0, 0], h: 2, w: 2, to: sketch)
        let s = try loadGuidanceMap(path: sketch, kind: .sketch, classes: 7, resolution: 1)
        XCTAssertEqual(s.tensor.shape, [1, 1, 1])
        XCTAssertEqual(s.tensor.storage[0], 0.25, accuracy: 1e-6)
        // Not an image.
        let text = dir.appendingPathComponent("t.png").path
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertThrowsError(try loadGuidanceMap(path: text, kind: .seg, classes: 7, resolution: 8)) { e in
            XCTAssertTrue("\(e)".hasPrefix(text), "\(e)"); XCTAssertFalse("\(e)".contains("\n"))
        }
    }

    func options(steps: Int, kind: GuidanceKind) -> EncoderTrainingOptions {
        var o = EncoderTrainingOptions()
        o.baseChannels = 8; o.maxChannels = 16; o.convsPerLevel = 0
        o.steps = steps; o.batchSize = 4; o.learningRate = 1e-3; o.rampDown = 0
        o.progressiveStepEvery = 0; o.sampleCount = 3; o.msSSIMWeight = 0
        o.guidance = kind; o.classes = kind == .seg ? 3 : nil
        return o
    }

    func testPairedTrainingLearnsAndResumesExactly() throws {
        let g = try tiny32Generator()
        let root = try makePairs(count: 6)
        let pairs = try GuidancePairs(folder: root, kind: .seg, classes: 3)
        XCTAssertEqual(pairs.maps.count, 6)
        let out = dir.appendingPathComponent("seg/E.safetensors").path
        let report = try trainEncoder(generator: g, outputPath: out, options: options(steps: 30, kind: .seg), pairs: pairs)
        let h = report.lossHistory
        let first = h.prefix(4).reduce(0, +) / 4, last = h.suffix(4).reduce(0, +) / 4
        XCTAssertLessThan(last, 0.8 * first, "loss \(first) → \(last)")
        let e = try TrainedEncoder(path: out)
        XCTAssertEqual(e.config.guidance, .seg)
        XCTAssertEqual(e.config.classes, 3)
        XCTAssertEqual(e.config.architecture.inputChannels, 3)
        XCTAssertThrowsError(try e.encode(images: Tensor.zeros([1, 3, 32, 32]))) { err in XCTAssertTrue("\(err)".contains("guidance"), "\(err)") }
        // Map in, image out.
        let map = try loadGuidanceMap(path: pairs.maps[0], kind: .seg, classes: 3, resolution: 32)
        let (ws, images) = try translateMaps(map.tensor.reshaped([1, 3, 32, 32]), encoder: e, generator: g)
        XCTAssertEqual(ws.shape, [1, 8, 128]); XCTAssertEqual(images.shape, [1, 3, 32, 32])
        XCTAssertTrue(FileManager.default.fileExists(atPath: encoderTrainingFolder(outputPath: out) + "/samples.png"))

        // Sketch: 4 steps straight = 2 + resume to 4.
        let sketchPairs = try GuidancePairs(folder: root, kind: .sketch, classes: 1)
        let a = dir.appendingPathComponent("a/E.safetensors").path, b = dir.appendingPathComponent("b/E.safetensors").path
        let straight = try trainEncoder(generator: g, outputPath: a, options: options(steps: 4, kind: .sketch), pairs: sketchPairs)
        _ = try trainEncoder(generator: g, outputPath: b, options: options(steps: 2, kind: .sketch), pairs: sketchPairs)
        let resumed = try trainEncoder(generator: g, outputPath: b, options: options(steps: 4, kind: .sketch), pairs: sketchPairs, resume: true)
        XCTAssertEqual(straight.lossHistory, resumed.lossHistory)
        XCTAssertEqual(try TrainedEncoder(path: a).network.parameters, try TrainedEncoder(path: b).network.parameters)
        XCTAssertEqual(try TrainedEncoder(path: a).config.architecture.inputChannels, 1)
        // Options and data must agree.
        XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("x/E.safetensors").path,
                                              options: options(steps: 1, kind: .seg), pairs: sketchPairs))
    }

    /// `--pair-latents`: the photos' W+ codes (as `encode` writes them, one folder per photo) are
    /// regressed; with no image loss the trainer learns from them alone and the codes approach the
    /// targets. Missing or unusable latent files and mismatched options are refused.
    func testPairLatentsAreRegressed() throws {
        let g = try tiny32Generator()
        let root = try makePairs(count: 6)
        var pairs = try GuidancePairs(folder: root, kind: .seg, classes: 3)
        // Targets: arbitrary W+ codes per photo (what the encoder should learn to output).
        var rng = TestRNG(seed: 77)
        let targets = rng.tensor([6, g.numWs, g.wDim], -0.5, 0.5)
        let codes = dir.appendingPathComponent("codes").path
        for i in 0..<6 {
            let folder = codes + String(format: "/%03d", i)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try LatentFile(ws: targets.slice(i ..< i + 1), noise: g.constNoise).write(to: folder + "/latent.npz")
        }
        try pairs.attachLatents(folder: codes, generator: g)
        XCTAssertEqual(pairs.latents, targets)
        var o = options(steps: 40, kind: .seg)
        o.l2Weight = 0; o.msSSIMWeight = 0; o.pairLatents = true; o.deltaNormWeight = 0
        let out = dir.appendingPathComponent("lat/E.safetensors").path
        let report = try trainEncoder(generator: g, outputPath: out, options: o, pairs: pairs)
        let h = report.lossHistory
        XCTAssertLessThan(h.suffix(4).reduce(0, +), 0.5 * h.prefix(4).reduce(0, +), "latent loss \(h.first!) → \(h.last!)")
        // The trained encoder's codes for the maps are closer to the targets than latent_avg is.
        let maps = Tensor.concatenate(try pairs.maps.map { try loadGuidanceMap(path: $0, kind: .seg, classes: 3, resolution: 32).tensor.reshaped([1, 3, 32, 32]) })
        let (ws, _) = try translateMaps(maps, encoder: try TrainedEncoder(path: out), generator: g)
        let avgRow = broadcastToWs(g.wAvg.reshaped([1, g.wDim]), numWs: g.numWs)
        let avg = Tensor.concatenate(Array(repeating: avgRow, count: 6))
        XCTAssertLessThan(meanSquaredDifference(ws, targets), 0.5 * meanSquaredDifference(avg, targets))
        // Given rows: rendered from the photo's code, so no image gradient reaches the encoder's
        // own rows there — with the latent loss off, their head keeps its initial weights exactly.
        var gr = options(steps: 5, kind: .seg)
        gr.pairLatents = true; gr.latentWeight = 0; gr.deltaNormWeight = 0; gr.givenRows = [g.numWs - 1]
        let grOut = dir.appendingPathComponent("given/E.safetensors").path
        let trained = try TrainedEncoder(path: { _ = try trainEncoder(generator: g, outputPath: grOut, options: gr, pairs: pairs); return grOut }())
        let initial = try EncoderNetwork(architecture: trained.config.architecture, seed: gr.seed)
        let last = "head.delta\(g.numWs - 1).weight", other = "head.delta\(g.numWs - 2).weight"
        XCTAssertEqual(trained.network.parameters[last], initial.parameters[last])
        XCTAssertNotEqual(trained.network.parameters[other], initial.parameters[other])
        // The file says which rows were given; translation renders them from seeded samples.
        XCTAssertEqual(trained.config.givenRows, [g.numWs - 1])
        let own = try trained.encode(maps: maps)
        let (filled, _) = try translateMaps(maps, encoder: trained, generator: g, openRowSeeds: [3, 3, 4, 5, 6, 7])
        let fresh = g.mapping(z: zFromSeeds([3, 4], zDim: g.zDim))
        let d = g.wDim, lastRow = g.numWs - 1
        func row(_ t: Tensor, _ i: Int, _ r: Int) -> [Float] { Array(t.storage[((i * g.numWs + r) * d)..<((i * g.numWs + r + 1) * d)]) }
        // Other batch sizes and positions: equal up to GEMM rounding (kernels differ per CPU).
        func close(_ a: [Float], _ b: [Float], _ what: String) {
            let scale = b.reduce(Float(0)) { max($0, abs($1)) }
            let err = zip(a, b).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThanOrEqual(err, 1e-5 * max(scale, 1), what)
        }
        close(row(filled, 0, lastRow), row(fresh, 0, lastRow), "map 0: seed 3's row"); close(row(filled, 1, lastRow), row(fresh, 0, lastRow), "map 1: seed 3's row")
        close(row(filled, 2, lastRow), row(fresh, 1, lastRow), "map 2: seed 4's row")
        XCTAssertGreaterThan(zip(row(filled, 2, lastRow), row(own, 2, lastRow)).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }, 0.01, "the encoder's own row was replaced")
        for r in 0..<lastRow { close(row(filled, 2, r), row(own, 2, r), "map 2 row \(r): the encoder's") }
        XCTAssertThrowsError(try translateMaps(maps, encoder: trained, generator: g, openRowSeeds: [1]))
        gr.givenRows = [g.numWs]
        XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("given2/E.safetensors").path, options: gr, pairs: pairs)) { e in
            XCTAssertTrue("\(e)".contains("outside"), "\(e)")
        }
        // Options and data must agree; a missing latent names its photo.
        o.pairLatents = nil
        XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("y/E.safetensors").path, options: o, pairs: pairs)) { e in
            XCTAssertTrue("\(e)".contains("pairLatents is off"), "\(e)")
        }
        XCTAssertThrowsError(try trainEncoder(generator: g, outputPath: dir.appendingPathComponent("y/E.safetensors").path, options: o,
                                              pairs: try GuidancePairs(folder: root, kind: .seg, classes: 3))) { e in
            XCTAssertTrue("\(e)".contains("image loss"), "\(e)")
        }
        try FileManager.default.removeItem(atPath: codes + "/004/latent.npz")
        XCTAssertThrowsError(try pairs.attachLatents(folder: codes, generator: g)) { e in
            XCTAssertTrue("\(e)".contains("004.png"), "\(e)"); XCTAssertFalse("\(e)".contains("\n"))
        }
    }

    func testBatchTranslationWritesOutputsAndResumes() throws {
        let g = try tiny32Generator()
        let root = try makePairs(count: 3)
        let pairs = try GuidancePairs(folder: root, kind: .seg, classes: 3)
        let enc = dir.appendingPathComponent("E.safetensors").path
        _ = try trainEncoder(generator: g, outputPath: enc, options: options(steps: 1, kind: .seg), pairs: pairs)
        let e = try TrainedEncoder(path: enc)
        // One bad map among the good ones: class id 5 ≥ 3.
        try writeGray([Int](repeating: 5, count: 32 * 32), h: 32, w: 32, to: root + "/seg/zz_bad.png")
        let out = dir.appendingPathComponent("out").path
        let r = try runBatchTranslation(encoder: e, generator: g, inputDir: root + "/seg", outputDir: out, batchSize: 2)
        XCTAssertEqual(r.translated, 3)
        XCTAssertEqual(r.failures.count, 1)
        XCTAssertTrue(r.failures[0].error.contains("class id 5"), r.failures[0].error)
        for f in ["output.png", "latent.npz", "strip.png", "translate.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/000/" + f), f)
        }
        // The latent reproduces the output (const noise stored with it).
        let w = try readNpz(path: out + "/000/latent.npz")["w"]!.toTensor()
        let single = try translateMaps(try loadGuidanceMap(path: root + "/seg/000.png", kind: .seg, classes: 3, resolution: 32).tensor.reshaped([1, 3, 32, 32]),
                                       encoder: e, generator: g)
        XCTAssertLessThanOrEqual(maxAbsDiff(w, single.ws), 1e-4)
        let again = try runBatchTranslation(encoder: e, generator: g, inputDir: root + "/seg", outputDir: out, batchSize: 2)
        XCTAssertEqual(again.skipped, 3)
        XCTAssertEqual(again.translated, 0)
        // An image encoder is refused.
        let imageEncoder = TrainedEncoder(network: e.network, config: EncoderFileConfig(architecture: e.config.architecture,
                                          generatorFingerprint: g.fingerprint, iterative: false, trainingIterations: 1, stage: 0, steps: 1),
                                          latentAvg: g.wAvg)
        XCTAssertThrowsError(try runBatchTranslation(encoder: imageEncoder, generator: g, inputDir: root + "/seg", outputDir: out))
    }
}
