import XCTest
import LatentTensor
import LatentFormats
import LatentModels
import LatentCore
import LatentInversion
import LatentEncoders
import _TestSupport

/// The encoder and hybrid solvers behind `--method encoder|hybrid`, and the official-encoder
/// adapter, on the tiny32 generator (32², 8 ws of width 128) with small random encoders.
final class EncoderSolverTests: XCTestCase {
    func encoder(for G: StyleGAN2Generator, iterative: Bool = false, seed: UInt64 = 5) throws -> TrainedEncoder {
        let a = EncoderArchitecture(resolution: G.resolution, inputChannels: iterative ? 6 : 3, baseChannels: 3, maxChannels: 6,
                                    convsPerLevel: 0, numWs: G.numWs, wDim: G.wDim)
        var net = try EncoderNetwork(architecture: a, seed: seed)
        // Small codes: the random heads would otherwise throw w far from the generator's range.
        for (name, t) in net.parameters where name.hasPrefix("head") { net.parameters[name] = t.map { $0 * 0.05 } }
        let config = EncoderFileConfig(architecture: a, generatorFingerprint: G.fingerprint, iterative: iterative,
                                       trainingIterations: iterative ? 3 : 1, stage: G.numWs - 1, steps: 1)
        return TrainedEncoder(network: net, config: config, latentAvg: G.wAvg)
    }

    /// In-domain targets: renders of mapped z, `[n, 3, 32, 32]`.
    func targets(_ G: StyleGAN2Generator, n: Int) -> Tensor {
        var rng = SplitMix64(seed: 11)
        let z = Tensor(shape: [n, G.zDim], generator: { _ in Float(Double(rng.next() >> 11) / 9_007_199_254_740_992.0 * 2 - 1) })
        return G.synthesis(ws: G.mapping(z: z, truncationPsi: 0.7))
    }

    func testEncoderSolverIsOneEncoderPassRenderedWithConstNoise() throws {
        let G = try tiny32Generator()
        let e = try encoder(for: G)
        let x = targets(G, n: 3)
        let solved = try EncoderSolver(generator: G, encoder: e).invert(targets: x, mask: nil, progress: nil)
        let r = solved.result
        // The same computation as encoding alone: bit-equal.
        XCTAssertEqual(r.ws, try e.encode(images: x))
        XCTAssertLessThanOrEqual(maxAbsDiff(r.reconstruction, G.synthesis(ws: r.ws)), 1e-6)
        // The stored noise maps are the const buffers, per image: rendering with them gives the same image.
        XCTAssertEqual(r.noise.maps.count, G.noiseLayerNames.count)
        for (name, m) in r.noise.maps { XCTAssertEqual(m.shape, [3] + G.noiseShape(layer: name)!) }
        XCTAssertLessThanOrEqual(maxAbsDiff(G.synthesis(ws: r.ws, noise: r.noise), r.reconstruction), 1e-5)
        // The loss is the pixel MSE on [-1, 1].
        let mse = try ImageMetrics.mse(r.reconstruction, x)
        for i in 0..<3 { XCTAssertEqual(Double(r.finalLoss[i]), 4 * mse[i], accuracy: 1e-6 * max(1, 4 * mse[i])) }
        XCTAssertEqual(r.stepsRun, 1)
        XCTAssertThrowsError(try EncoderSolver(generator: G, encoder: e).invert(targets: x, mask: Tensor.zeros([1, 1, 32, 32]) + 1, progress: nil)) { err in
            XCTAssertTrue("\(err)".contains("mask"), "\(err)")
        }
    }

    func testIterativeSolverRunsTheRequestedRefinements() throws {
        let G = try tiny32Generator()
        let e = try encoder(for: G, iterative: true)
        let x = targets(G, n: 2)
        var steps: [Int] = []
        let r = try EncoderSolver(generator: G, encoder: e, iterations: 3).invert(targets: x, mask: nil) { steps.append($0.step) }.result
        XCTAssertEqual(r.ws, try e.encode(images: x, generator: G, iterations: 3).last!)
        XCTAssertEqual(r.stepsRun, 3)
        XCTAssertEqual(steps, [3])
        // A plain encoder refuses refinements instead of silently running one pass.
        XCTAssertThrowsError(try EncoderSolver(generator: G, encoder: try encoder(for: G), iterations: 2)) { err in
            XCTAssertTrue("\(err)".contains("--iterative"), "\(err)")
        }
    }

    func testHybridRefinesTheEncodersCode() throws {
        let G = try tiny32Generator()
        let e = try encoder(for: G)
        let x = targets(G, n: 2)
        var o = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: 30, initialLearningRate: 0.05, initialNoiseFactor: 0))
        o.noiseInit = .const
        o.wAvgSamples = 200
        let encoderSolver = try EncoderSolver(generator: G, encoder: e)
        let hybrid = try HybridSolver(encoderSolver: encoderSolver, loss: PixelL2Loss(), options: o)
        let solved = try hybrid.invert(targets: x, mask: nil, progress: nil)
        let encoded = try encoderSolver.invert(targets: x, mask: nil, progress: nil).result
        let before = try ImageMetrics.psnr(encoded.reconstruction, x)
        let after = try ImageMetrics.psnr(solved.result.reconstruction, x)
        for i in 0..<2 {
            XCTAssertGreaterThan(after[i], before[i] + 0.5, "image \(i): hybrid \(after[i]) dB vs encoder \(before[i]) dB")
            // The record carries the encoder-only PSNR the optimisation started from.
            guard case .double(let p)? = solved.extraRecord[i]["encoder_psnr"] else { return XCTFail("no encoder_psnr") }
            XCTAssertEqual(p, before[i], accuracy: 1e-9)
        }
        XCTAssertEqual(solved.result.stepsRun, 30)
        var w = o
        w.space = .w
        XCTAssertThrowsError(try HybridSolver(encoderSolver: encoderSolver, loss: PixelL2Loss(), options: w))
    }

    func testEncoderOfAnotherShapeIsRefused() throws {
        let G = try tiny32Generator()
        let a = EncoderArchitecture(resolution: 32, baseChannels: 3, maxChannels: 6, convsPerLevel: 0, numWs: 6, wDim: G.wDim)
        let config = EncoderFileConfig(architecture: a, generatorFingerprint: "other", iterative: false, trainingIterations: 1, stage: 5, steps: 1)
        let e = TrainedEncoder(network: try EncoderNetwork(architecture: a, seed: 1), config: config, latentAvg: G.wAvg)
        XCTAssertThrowsError(try EncoderSolver(generator: G, encoder: e)) { err in
            XCTAssertTrue("\(err)".contains("6×128"), "\(err)")
        }
        // Same shape, other generator: runs, with a note.
        let same = try encoder(for: G)
        let foreign = TrainedEncoder(network: same.network,
                                     config: EncoderFileConfig(architecture: same.config.architecture, generatorFingerprint: "feedbeef",
                                                               iterative: false, trainingIterations: 1, stage: G.numWs - 1, steps: 1),
                                     latentAvg: G.wAvg)
        XCTAssertTrue(try XCTUnwrap(try checkEncoder(foreign, matches: G)).contains("feedbeef"))
        XCTAssertNil(try checkEncoder(same, matches: G))
    }

    /// `loadLatentEncoder` tells the two file kinds apart and refuses a generator.
    func testLoadLatentEncoderReadsTrainedFilesAndRefusesOthers() throws {
        let dir = try temporaryFolder("load")
        defer { try? FileManager.default.removeItem(at: dir) }
        let G = try tiny32Generator()
        let e = try encoder(for: G)
        let path = dir.appendingPathComponent("E.safetensors").path
        try e.write(to: path)
        let back = try loadLatentEncoder(path: path)
        XCTAssertTrue(back is TrainedEncoder)
        let x = targets(G, n: 1)
        XCTAssertEqual(try back.encode(images: x), try e.encode(images: x))
        let gen = packageRoot().appendingPathComponent("Tests/LatentModelsTests/Resources/tiny32_weights.safetensors").path
        XCTAssertThrowsError(try loadLatentEncoder(path: gen)) { err in
            XCTAssertTrue("\(err)".contains("not an encoder file"), "\(err)")
        }
    }

    /// An official e4e encoder (formula weights of the golden pack, stylegan_size 4) as a
    /// `LatentEncoder`: images at the generator's 4² are resized to 256² (bilinear, antialiased)
    /// and `latent_avg` is added per style.
    func testOfficialEncoderResizesAndAddsLatentAvg() throws {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared is not present") }
        let goldenFile = try SafeTensorsFile(path: shared.appendingPathComponent("golden/e4e_golden.safetensors").path)
        let order = try FormulaWeights.order(json: try XCTUnwrap(goldenFile.metadata["e4e_tensor_order"]))
            .filter { e in !e.name.hasPrefix("styles.") || ["styles.0.", "styles.1."].contains { e.name.hasPrefix($0) } }
        var tensors = FormulaWeights.tensors(order).filter { !$0.key.hasSuffix("num_batches_tracked") }
        let avg = FormulaWeights.sineInput([512], scale: 0.3, frequency: 0.7)
        tensors["latent_avg"] = avg
        let config = PSPEncoderConfig(encoderType: .encoder4Editing, styleganSize: 4)
        let psp = try PSPEncoder(config: config, tensors: tensors, source: "formula")
        let official = try OfficialEncoder(encoder: psp)
        XCTAssertEqual(official.numWs, 2)
        XCTAssertEqual(official.resolution, 4)
        let x = FormulaWeights.sineInput([1, 3, 4, 4], scale: 0.8, frequency: 0.31)
        let codes = try official.encode(images: x)
        var want = try psp.codes(resize(x, height: 256, width: 256, method: .bilinear), addLatentAvg: false)
        want += avg.reshaped([1, 1, 512])
        XCTAssertLessThanOrEqual(maxAbsDiff(codes, want), 1e-5)
        XCTAssertThrowsError(try official.encode(images: Tensor.zeros([1, 3, 8, 8])))
    }
}

