import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import _TestSupport

/// `latentlab generate`: outputs and records for each --out kind, seeds = numpy's RandomState,
/// latents in every accepted layout, truncation, mixing and noise modes against the library and
/// NVIDIA's golden outputs, and clear errors for bad latents and non-generators.
final class GenerateCommandTests: CLITestCase {
    /// The default generator, loaded once for the library-side expectations.
    private static let defaultG = Result { try StyleGAN2Generator.loadDefault() }
    private func G() throws -> StyleGAN2Generator { try Self.defaultG.get() }

    private func readImages(_ path: String) throws -> Tensor { try readNpy(path: path).toTensor() }

    private func golden() throws -> SafeTensorsFile { try SafeTensorsFile(path: modelsFixture("tiny32_golden.safetensors")) }

    // MARK: outputs

    /// --seeds 0,2-3 --out DIR: one PNG per seed, a 2×2 grid, DIR/generate.json, nothing else.
    func testSeedsToFolder() throws {
        let r = try runOK(["generate", "--seeds", "0,2-3", "--out", temp("out")])
        XCTAssertEqual(tempListing(), ["out", "out/generate.json", "out/grid.png", "out/seed0000.npz", "out/seed0000.png", "out/seed0002.npz",
                                       "out/seed0002.png", "out/seed0003.npz", "out/seed0003.png"])
        XCTAssertTrue(r.stdout.contains("3 images"), r.stdout)
        for s in ["0000", "0002", "0003"] {
            let img = try loadImage(path: temp("out/seed\(s).png"))
            XCTAssertEqual(img.tensor.shape, [3, 64, 64])
        }
        XCTAssertEqual(try loadImage(path: temp("out/grid.png")).tensor.shape, [3, 128, 128])
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("out/generate.json")))) as! [String: Any]
        XCTAssertEqual(record["command"] as? String, "generate")
        XCTAssertEqual(record["seeds"] as? String, "0,2-3")
        XCTAssertEqual(record["network"] as? String, "default:scenes64")
        XCTAssertEqual(record["noise_mode"] as? String, "const")
        XCTAssertEqual(record["generator"] as? String, try G().fingerprint)
        // Numbers are numbers (one RunRecord type for every command).
        XCTAssertEqual(record["trunc"] as? Double, 1)
        XCTAssertEqual(record["images"] as? Int, 3)
        XCTAssertTrue(record["trunc_cutoff"] is NSNull)
        // Each sample's latent renders it again: seed0002.npz → the same image, within one 8-bit step (rendered
        // alone instead of in a batch of three: FMA GEMM kernels may round a value across a quantisation step).
        try runOK(["generate", "--latent-in", temp("out/seed0002.npz"), "--out", temp("again.png")])
        XCTAssertLessThanOrEqual(maxAbsDiff(try loadImage(path: temp("again.png")).tensor, try loadImage(path: temp("out/seed0002.png")).tensor),
                                 2.0 / 255 + 1e-6)
        try FileManager.default.removeItem(atPath: temp("again.png")); try FileManager.default.removeItem(atPath: temp("again.png.json"))

        // The PNG is the .npy image quantised to 8 bits (clamped to [-1, 1]).
        try runOK(["generate", "--seeds", "2", "--out", temp("seed2.npy")])
        let raw = try readImages(temp("seed2.npy")).row(0)
        let png = try loadImage(path: temp("out/seed0002.png")).tensor
        var worst: Float = 0
        for i in 0..<raw.count { worst = max(worst, abs(min(max(raw[flat: i], -1), 1) - png[flat: i])) }
        XCTAssertLessThanOrEqual(worst, 0.5 / 127.5 + 1e-5)
    }

    /// --out FILE.npy: [N, 3, 64, 64] float32 with FILE.npy.json beside it; --out FILE.png: one
    /// image with FILE.png.json; a single-image file for several images is refused before any work.
    func testFileOutputsAndRecords() throws {
        try runOK(["generate", "--seeds", "1,4", "--out", temp("imgs.npy")])
        let npy = try readNpy(path: temp("imgs.npy"))
        XCTAssertEqual(npy.dtype, .f32)
        XCTAssertEqual(npy.shape, [2, 3, 64, 64])
        // Nominally [-1, 1]: the raw output is not clamped, but a trained model stays close.
        let values = npy.floats()
        XCTAssertTrue(values.allSatisfy { $0.isFinite && abs($0) < 1.5 })
        XCTAssertGreaterThan(Double(values.filter { abs($0) <= 1 }.count) / Double(values.count), 0.99)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("imgs.npy.json")))) as! [String: Any]
        XCTAssertEqual(record["seeds"] as? String, "1,4")
        XCTAssertEqual(record["images"] as? Int, 2)

        try runOK(["generate", "--seeds", "4", "--out", temp("one.png")])
        let one = try loadImage(path: temp("one.png")).tensor
        XCTAssertEqual(one.shape, [3, 64, 64])
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("one.png.json")))
        XCTAssertEqual(tempListing(), ["imgs.npy", "imgs.npy.json", "one.png", "one.png.json"])

        try runFails(["generate", "--seeds", "1,4", "--out", temp("two.png")], contains: ["holds one image but 2"])
        FileManager.default.createFile(atPath: temp("plainfile"), contents: Data("x".utf8))
        try runFails(["generate", "--seeds", "1", "--out", temp("plainfile")], contains: ["plainfile", "not a folder"])
        XCTAssertEqual(tempListing(), ["imgs.npy", "imgs.npy.json", "one.png", "one.png.json", "plainfile"])
    }

    /// Two runs give byte-identical PNGs (and grid).
    func testReproducible() throws {
        try runOK(["generate", "--seeds", "5-6", "--out", temp("a")])
        try runOK(["generate", "--seeds", "5-6", "--out", temp("b")])
        for f in ["seed0005.png", "seed0006.png", "grid.png"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: temp("a/" + f))),
                           try Data(contentsOf: URL(fileURLWithPath: temp("b/" + f))), f)
        }
    }

    // MARK: seeds and latents

    /// Seeds give numpy's RandomState(seed).randn(1, 512): the fixture holds numpy's z for seeds 0
    /// and 3, and generating from it equals generating from the seeds.
    func testSeedsAreNumpyRandomState() throws {
        let z = try readNpz(path: cliFixture("numpy_randn_seeds.npz"))["z"]!.toTensor()
        XCTAssertEqual(z.shape, [2, 512])
        // np.random.RandomState(0).randn(1, 512)[0, [0, 1, 2, 511]] and RandomState(3)[0, :4], numpy 2.4.6.
        let seed0: [(Int, Double)] = [(0, 1.764052345967664), (1, 0.4001572083672233), (2, 0.9787379841057392), (511, 1.3749640663929898)]
        let seed3: [Double] = [1.7886284734303186, 0.43650985051198943, 0.09649746807200862, -1.8634927033644908]
        for (i, v) in seed0 {
            XCTAssertEqual(z[0, i], Float(v))
            XCTAssertEqual(zFromSeed(0, zDim: 512)[0, i], Float(v))
        }
        for (i, v) in seed3.enumerated() {
            XCTAssertEqual(z[1, i], Float(v))
            XCTAssertEqual(zFromSeed(3, zDim: 512)[0, i], Float(v))
        }
        try runOK(["generate", "--seeds", "0,3", "--out", temp("seeds.npy")])
        try runOK(["generate", "--latent-in", cliFixture("numpy_randn_seeds.npz"), "--out", temp("z.npy")])
        XCTAssertLessThanOrEqual(maxAbsDiff(try readImages(temp("seeds.npy")), try readImages(temp("z.npy"))), 1e-6)
    }

    /// w written with writeNpz (as [N, numWs, wDim], as [N, wDim], and as a bare .npy) generates
    /// the same images as the seeds it was mapped from.
    func testLatentInRoundTrip() throws {
        let G = try G()
        let ws = G.mapping(z: Tensor.concatenate([zFromSeed(7, zDim: G.zDim), zFromSeed(11, zDim: G.zDim)]))
        XCTAssertEqual(ws.shape, [2, G.numWs, G.wDim])
        try writeNpz(["w": ws], to: temp("w.npz"))
        // Without truncation every row of a mapped w is the same: [N, wDim] broadcasts back to it.
        let w2 = Tensor(shape: [2, G.wDim], data: Array(ws.storage[0..<G.wDim]) + Array(ws.storage[G.numWs * G.wDim ..< (G.numWs + 1) * G.wDim]))
        try writeNpz(["w": w2], to: temp("w2.npz"))
        try writeNpy(NpyArray(ws), to: temp("w.npy"))
        try runOK(["generate", "--seeds", "7,11", "--out", temp("seeds.npy")])
        let expected = try readImages(temp("seeds.npy"))
        XCTAssertEqual(expected.shape, [2, 3, 64, 64])
        for input in ["w.npz", "w2.npz", "w.npy"] {
            try runOK(["generate", "--latent-in", temp(input), "--out", temp(input + ".out.npy")])
            XCTAssertLessThanOrEqual(maxAbsDiff(try readImages(temp(input + ".out.npy")), expected), 1e-6, input)
        }
        // Folder output names images by index.
        try runOK(["generate", "--latent-in", temp("w.npz"), "--out", temp("dir")])
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("dir/latent0000.png")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("dir/latent0001.png")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("dir/generate.json")))
    }

    /// A bare .npy whose last dimension is not wDim is z: the tiny32 generator (z 64, w 128) from
    /// NVIDIA's golden z gives NVIDIA's golden images.
    func testBareNpyAsZAgainstGolden() throws {
        let g = try golden()
        try writeNpy(NpyArray(try g.tensor("z")), to: temp("z.npy"))
        try runOK(["generate", "--network", modelsFixture("tiny32_weights.safetensors"), "--latent-in", temp("z.npy"),
                   "--out", temp("img.npy")])
        XCTAssertLessThanOrEqual(maxAbsDiff(try readImages(temp("img.npy")), try g.tensor("img_const")), 1e-4)
    }

    /// Bad latent files: one clear line each, exit 1, nothing written.
    func testLatentInErrors() throws {
        let G = try G()
        try writeNpz(["w": Tensor.zeros([1, 7, G.wDim])], to: temp("wrongshape.npz"))
        try writeNpz(["latents": Tensor.zeros([1, G.wDim])], to: temp("unknownkey.npz"))
        try writeNpz(["w": Tensor.zeros([1, G.wDim]), "extra": Tensor.zeros([1])], to: temp("extrakey.npz"))
        try writeNpz(["w": Tensor.zeros([1, G.wDim]), "z": Tensor.zeros([1, G.zDim])], to: temp("both.npz"))
        try writeNpz(["z": Tensor.zeros([1, 100])], to: temp("wrongz.npz"))
        try writeNpz(["w": Tensor.zeros([0, G.wDim])], to: temp("empty.npz"))
        var nan = Tensor.zeros([1, G.wDim]); nan[0, 3] = .nan
        try writeNpz(["w": nan], to: temp("nan.npz"))
        try writeNpy(NpyArray(Tensor.zeros([2, 77])), to: temp("odd.npy"))
        try writeNpy(NpyArray(Tensor.zeros([2, 3, 4, G.wDim])), to: temp("rank4.npy"))
        try writeNpy(NpyArray(Tensor.zeros([2, 3, G.wDim])), to: temp("fewws.npy"))
        let cases: [(String, [String])] = [
            ("wrongshape.npz", ["'w' has shape [1, 7, 512]", "[N, \(G.numWs), 512], [N, 512] or [512]"]),
            ("unknownkey.npz", ["unknown array 'latents'", "expected 'w' or 'z'"]),
            ("extrakey.npz", ["unknown array 'extra'"]),
            ("both.npz", ["both 'w' and 'z'"]),
            ("wrongz.npz", ["'z' has shape [1, 100]", "z [N, 512]"]),
            ("empty.npz", ["no latents"]),
            ("nan.npz", ["NaN"]),
            ("odd.npy", ["shape [2, 77]", "bare .npy"]),
            ("rank4.npy", ["shape [2, 3, 4, 512]", "bare .npy"]),
            ("fewws.npy", ["the array (taken as w) has shape [2, 3, 512]"]),
            ("missing.npz", ["no such file"]),
        ]
        for (name, parts) in cases {
            try runFails(["generate", "--latent-in", temp(name), "--out", temp("x.npy")], contains: [temp(name)] + parts)
        }
        // Text named .npz.
        FileManager.default.createFile(atPath: temp("text.npz"), contents: Data("just some text\n".utf8))
        try runFails(["generate", "--latent-in", temp("text.npz"), "--out", temp("x.npy")], contains: [temp("text.npz")])
        // Truncation is for z: asking for it with w is an error, not silently ignored.
        try writeNpz(["w": Tensor.zeros([1, G.wDim])], to: temp("w.npz"))
        try runFails(["generate", "--latent-in", temp("w.npz"), "--trunc", "0.7", "--out", temp("x.npy")], contains: ["--trunc"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("x.npy")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("x.npy.json")))
    }

    /// --network that is not a generator: clear errors, exit 1.
    func testNetworkNotAGenerator() throws {
        let clip = packageRoot().appendingPathComponent("Sources/LatentCLIP/Resources/clip-scenes64.safetensors").path
        FileManager.default.createFile(atPath: temp("notes.txt"), contents: Data("hello, not a model\n".utf8))
        try FileManager.default.createDirectory(atPath: temp("folder"), withIntermediateDirectories: true)
        let cases: [(String, [String])] = [
            (clip, ["not a StyleGAN2 generator", "openai-clip"]),
            (temp("notes.txt"), ["a text file", "not a generator checkpoint"]),
            (cliFixture("rgb8.png"), ["a PNG image, not a generator checkpoint"]),
            (modelsFixture("tiny32_nvlabs.pkl"), ["must be converted first", "latentlab convert"]),
            (temp("folder"), ["is a folder"]),
            (temp("missing.safetensors"), ["no such file"]),
            (cliFixture("empty.png"), ["empty file"]),
        ]
        for (path, parts) in cases {
            try runFails(["generate", "--network", path, "--seeds", "0", "--out", temp("x.npy")], contains: [path] + parts)
        }
        // A safetensors file of the right kind but missing tensors.
        let weights = try SafeTensorsFile(path: modelsFixture("tiny32_weights.safetensors"))
        let kept = weights.names.filter { $0 != "synthesis.b8.conv0.weight" }
        try writeSafeTensors(try kept.map { ($0, try weights.tensor($0)) }, metadata: weights.metadata, to: temp("partial.safetensors"))
        try runFails(["generate", "--network", temp("partial.safetensors"), "--seeds", "0", "--out", temp("x.npy")],
                     contains: ["partial.safetensors", "synthesis.b8.conv0.weight"])
    }

    // MARK: truncation, mixing, noise

    /// ψ = 0.7 from z against NVIDIA's golden image; the cutoff path equals generating from the
    /// golden truncated ws; ψ = 0 sends every seed to w_avg.
    func testTruncation() throws {
        let g = try golden(), tiny = modelsFixture("tiny32_weights.safetensors")
        try writeNpz(["z": try g.tensor("z")], to: temp("z.npz"))
        try runOK(["generate", "--network", tiny, "--latent-in", temp("z.npz"), "--trunc", "0.7", "--out", temp("psi07.npy")])
        XCTAssertLessThanOrEqual(maxAbsDiff(try readImages(temp("psi07.npy")), try g.tensor("img_psi0.7_const")), 1e-4)

        try writeNpz(["w": try g.tensor("ws_psi0.5_cutoff2")], to: temp("wcut.npz"))
        try runOK(["generate", "--network", tiny, "--latent-in", temp("z.npz"), "--trunc", "0.5", "--trunc-cutoff", "2", "--out", temp("cut.npy")])
        try runOK(["generate", "--network", tiny, "--latent-in", temp("wcut.npz"), "--out", temp("cut_golden_ws.npy")])
        try runOK(["generate", "--network", tiny, "--latent-in", temp("z.npz"), "--trunc", "0.5", "--out", temp("nocut.npy")])
        let cut = try readImages(temp("cut.npy"))
        XCTAssertLessThanOrEqual(maxAbsDiff(cut, try readImages(temp("cut_golden_ws.npy"))), 1e-4)
        XCTAssertGreaterThan(maxAbsDiff(cut, try readImages(temp("nocut.npy"))), 1e-2, "the cutoff changed nothing")

        try runOK(["generate", "--seeds", "0,1", "--trunc", "0", "--out", temp("psi0.npy")])
        let psi0 = try readImages(temp("psi0.npy"))
        // ψ = 0 maps every seed to w_avg: the same image at two batch positions, equal within float
        // tolerance (OpenBLAS's FMA kernels may round batch positions differently).
        XCTAssertLessThanOrEqual(maxAbsDiff(psi0.row(0), psi0.row(1)), 1e-5)
        try runOK(["generate", "--seeds", "0,1", "--out", temp("psi1.npy")])
        XCTAssertGreaterThan(maxAbsDiff(psi0, try readImages(temp("psi1.npy"))), 1e-2)
    }

    /// --mix-seed S --mix-layers a-b equals the library's mixStyles of the mapped seeds.
    func testStyleMixing() throws {
        let G = try G()
        try runOK(["generate", "--seeds", "1,2", "--mix-seed", "9", "--mix-layers", "0-3", "--out", temp("mix.npy")])
        let ws = G.mapping(z: Tensor.concatenate([zFromSeed(1, zDim: G.zDim), zFromSeed(2, zDim: G.zDim)]))
        let mixed = G.mixStyles(ws: ws, mixWs: G.mapping(z: zFromSeed(9, zDim: G.zDim)), layers: 0..<4)
        let expected = G.synthesis(ws: mixed, noiseMode: .const)
        let got = try readImages(temp("mix.npy"))
        XCTAssertLessThanOrEqual(maxAbsDiff(got, expected), 1e-6)
        try runOK(["generate", "--seeds", "1,2", "--out", temp("plain.npy")])
        XCTAssertGreaterThan(maxAbsDiff(got, try readImages(temp("plain.npy"))), 1e-2, "mixing changed nothing")
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("mix.npy.json")))) as! [String: Any]
        XCTAssertEqual(record["mix_seed"] as? Int, 9)
        XCTAssertEqual(record["mix_layers"] as? String, "0-3")

        try runFails(["generate", "--seeds", "1", "--mix-seed", "9", "--mix-layers", "0-\(G.numWs)", "--out", temp("x.npy")],
                     contains: ["--mix-layers", "within 0-\(G.numWs - 1)"])
        try runUsageError(["generate", "--seeds", "1", "--mix-seed", "9", "--mix-layers", "a-b", "--out", temp("x.npy")],
                          contains: ["not of the form a-b"])
        try runUsageError(["generate", "--seeds", "1", "--mix-seed", "9", "--out", temp("x.npy")], contains: ["go together"])
    }

    /// none equals NVIDIA's img_none; const differs from none; random is reproducible, differs
    /// from const, and an image's noise depends only on its own seed.
    func testNoiseModes() throws {
        let g = try golden(), tiny = modelsFixture("tiny32_weights.safetensors")
        try writeNpz(["z": try g.tensor("z")], to: temp("z.npz"))
        try runOK(["generate", "--network", tiny, "--latent-in", temp("z.npz"), "--noise-mode", "none", "--out", temp("none.npy")])
        try runOK(["generate", "--network", tiny, "--latent-in", temp("z.npz"), "--noise-mode", "const", "--out", temp("const.npy")])
        let none = try readImages(temp("none.npy")), const = try readImages(temp("const.npy"))
        XCTAssertLessThanOrEqual(maxAbsDiff(none, try g.tensor("img_none")), 1e-4)
        XCTAssertLessThanOrEqual(maxAbsDiff(const, try g.tensor("img_const")), 1e-4)
        XCTAssertGreaterThan(maxAbsDiff(none, const), 1e-2)

        try runOK(["generate", "--network", tiny, "--seeds", "1,2", "--noise-mode", "random", "--out", temp("r12.npy")])
        try runOK(["generate", "--network", tiny, "--seeds", "1,2", "--noise-mode", "random", "--out", temp("r12b.npy")])
        try runOK(["generate", "--network", tiny, "--seeds", "2", "--noise-mode", "random", "--out", temp("r2.npy")])
        try runOK(["generate", "--network", tiny, "--seeds", "1,2", "--out", temp("c12.npy")])
        let r12 = try readImages(temp("r12.npy"))
        // The same call twice on one machine and thread count is bit-exact; seed 2 alone (batch 1) against
        // seed 2 at batch position 1 goes through other GEMM shapes: equal within float tolerance.
        XCTAssertEqual(try readImages(temp("r12b.npy")), r12)
        XCTAssertLessThanOrEqual(maxAbsDiff(r12.row(1), try readImages(temp("r2.npy")).row(0)), 1e-5)
        XCTAssertGreaterThan(maxAbsDiff(r12, try readImages(temp("c12.npy"))), 1e-2)
    }

    // MARK: command-line errors

    /// Malformed command lines: ArgumentParser's usage error (exit 64) with generate's usage.
    func testUsageErrors() throws {
        try runUsageError(["generate", "--out", temp("x")], contains: ["exactly one of --seeds or --latent-in"])
        try runUsageError(["generate", "--seeds", "0", "--latent-in", "a.npz", "--out", temp("x")], contains: ["exactly one"])
        try runUsageError(["generate", "--seeds", "a", "--out", temp("x")], contains: ["--seeds", "cannot parse 'a'"])
        try runUsageError(["generate", "--seeds", "5-3", "--out", temp("x")], contains: ["runs backwards"])
        try runUsageError(["generate", "--seeds", "3,-1", "--out", temp("x")], contains: ["0...4294967295"])
        try runUsageError(["generate", "--seeds", "0-4000000000", "--out", temp("x")], contains: ["more than 1000000"])
        try runUsageError(["generate", "--seeds", "0", "--noise-mode", "loud", "--out", temp("x")], contains: ["--noise-mode"])
        try runUsageError(["generate", "--seeds", "0", "--trunc-cutoff=-2", "--out", temp("x")], contains: ["--trunc-cutoff"])
        try runUsageError(["generate", "--seeds", "0"], contains: ["--out"])
        XCTAssertEqual(tempListing(), [])
    }
}
