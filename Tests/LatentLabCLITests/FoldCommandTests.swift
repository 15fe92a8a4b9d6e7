import XCTest
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentCore
import LatentEditing
import _TestSupport

/// The options that used to be ignored, the shared latent file, the library found from
/// anywhere, and the outputs people look at (issue 13), run as processes in a temporary folder
/// outside the checkout.
final class FoldCommandTests: CLITestCase {
    /// An inversion of a fixture image, quick (few steps, few w_avg samples).
    @discardableResult
    func invertFixture(_ out: String, steps: Int = 6) throws -> CLIResult {
        try runOK(["invert", cliFixture("rgb8.png"), "--out", out, "--steps", "\(steps)", "--w-avg-samples", "64"])
    }

    /// `generate --latent-in` of an inverted latent renders with its noise maps: the image equals
    /// reconstruction.png within 8-bit rounding (it dropped the maps before: 34.5 dB).
    func testInvertedLatentRendersAsItsReconstruction() throws {
        try invertFixture(temp("inv"))
        try runOK(["generate", "--latent-in", temp("inv/latent.npz"), "--out", temp("again.png")])
        let a = try loadImage(path: temp("again.png")).tensor, b = try loadImage(path: temp("inv/reconstruction.png")).tensor
        XCTAssertEqual(a.shape, b.shape)
        XCTAssertLessThanOrEqual(maxAbsDiff(a, b), 1.0 / 127.5 + 1e-6)
        // The stored maps are not the const ones (noise was optimised from random starts).
        let stored = try readNpz(path: temp("inv/latent.npz"))
        XCTAssertTrue(stored.keys.contains { $0.hasPrefix("noise.") })
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("inv/metrics.json")))) as! [String: Any]
        XCTAssertEqual((record["arguments"] as! [String: Any])["steps"] as? Int, 6)
    }

    /// `generate` stores each sample's latent with the noise it was rendered with: a random-noise
    /// sample renders the same again from its .npz.
    func testGeneratedLatentsKeepTheirNoise() throws {
        try runOK(["generate", "--seeds", "4,9", "--noise-mode", "random", "--out", temp("g")])
        XCTAssertTrue(try readNpz(path: temp("g/seed0009.npz")).keys.contains { $0.hasPrefix("noise.") })
        try runOK(["generate", "--latent-in", temp("g/seed0009.npz"), "--out", temp("again.png")])
        XCTAssertLessThanOrEqual(maxAbsDiff(try loadImage(path: temp("again.png")).tensor, try loadImage(path: temp("g/seed0009.png")).tensor),
                                 1.0 / 127.5 + 1e-6)
        // Const noise needs no maps stored.
        try runOK(["generate", "--seeds", "4", "--out", temp("c")])
        XCTAssertEqual(try readNpz(path: temp("c/seed0004.npz")).keys.sorted(), ["w"])
    }

    /// A poor reconstruction says the image is likely outside the generator's domain.
    func testInvertWarnsWhenOutOfDomain() throws {
        let r = try runOK(["invert", cliFixture("rgb8.png"), "--out", temp("inv"), "--steps", "1", "--w-avg-samples", "8", "--no-noise", "--lr", "1e-9"])
        XCTAssertTrue(r.stderr.contains("likely outside the generator's domain"), r.stderr)
    }

    /// `--recipe R --strength s` scales every step: 0 leaves the latent, -1 mirrors +1.
    func testRecipeStrengthScalesTheRecipe() throws {
        try runOK(["generate", "--seeds", "5", "--out", temp("g")])
        let recipe = packageRoot().appendingPathComponent("Edits/larger-object.json").path
        func edited(_ s: String) throws -> Tensor {
            try runOK(["edit", "--latent-in", temp("g/seed0005.npz"), "--recipe", recipe, "--strength", s, "--out", temp("e" + s)])
            return try readNpz(path: temp("e\(s)/latent.npz"))["w"]!.toTensor()
        }
        let w0 = try readNpz(path: temp("g/seed0005.npz"))["w"]!.toTensor()
        XCTAssertEqual(try edited("0"), w0)
        let plus = try edited("1"), minus = try edited("-1"), half = try edited("0.5")
        XCTAssertGreaterThan(maxAbsDiff(plus, w0), 0.1)
        XCTAssertLessThanOrEqual(maxAbsDiff(plus - w0, w0 - minus), 1e-5)
        XCTAssertLessThanOrEqual(maxAbsDiff((plus - w0) * 0.5, half - w0), 1e-5)
        for name in ["original.png", "edited.png", "strip.png", "latent.npz", "edit.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("e1/" + name)), name)
        }
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("e0.5/edit.json")))) as! [String: Any]
        XCTAssertEqual(record["strength"] as? Double, 0.5)
    }

    /// Options that cannot apply are refused with one line and the usage, exit 64.
    func testInapplicableOptionsAreRefused() throws {
        // --mask now confines any edit (issue 15); its blend resolution needs it.
        try runUsageError(["edit", "--latent-in", "x.npz", "--direction", "sefa:0", "--blend-res", "16", "--out", temp("o")],
                          contains: ["--blend-res applies with --mask"])
        try runUsageError(["edit", "--latent-in", "x.npz", "--exemplar", "e.npz", "--strength", "2", "--out", temp("o")],
                          contains: ["--strength"])
        try runUsageError(["edit", "--latent-in", "x.npz", "--text", "a red cube", "--strength", "2", "--out", temp("o")],
                          contains: ["--strength"])
        try runUsageError(["edit", "--latent-in", "x.npz", "--recipe", "r.json", "--strength", "1,2", "--out", temp("o")],
                          contains: ["one --strength"])
        try runUsageError(["invert", "a.png", "--space", "w++", "--out", temp("o")], contains: ["--space"])
        try runUsageError(["generate", "--seeds", "0", "--scale", "0", "--out", temp("o")], contains: ["--scale"])
    }

    /// An unknown subcommand is a usage error (exit 64), not the parent's help with exit 0; `--version` exists.
    func testUnknownSubcommandAndVersion() throws {
        for args in [["clip", "encode", "--help"], ["directions", "verify"], ["nonsense"]] {
            let r = try run(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: '\(args[args.count > 1 && args[0] != "nonsense" ? 1 : 0])' is not a subcommand"), r.stderr)
            XCTAssertTrue(r.stderr.contains("Usage: latentlab"), r.stderr)
            XCTAssertEqual(r.stdout, "")
        }
        let v = try runOK(["--version"])
        XCTAssertFalse(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    /// The shipped library from a folder outside the checkout: list, `sefa:0`, a preview grid.
    func testShippedLibraryFromAnywhere() throws {
        let list = try runOK(["directions", "list"])
        XCTAssertTrue(list.stdout.contains("sefa.safetensors: sefa"), list.stdout)
        try runOK(["directions", "show", "sefa"])
        try runOK(["generate", "--seeds", "1", "--out", temp("g")])
        try runOK(["edit", "--latent-in", temp("g/seed0001.npz"), "--direction", "sefa:0", "--strength", "-2,2", "--scale", "2", "--out", temp("e")])
        for name in ["original.png", "edited_-2.00.png", "edited_+2.00.png", "latent_-2.00.npz", "latent_+2.00.npz", "strip.png", "edit.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("e/" + name)), name)
        }
        XCTAssertEqual(try loadImage(path: temp("e/original.png")).tensor.shape, [3, 128, 128])
        try runOK(["directions", "preview", "sefa:0", "--seeds", "0-1", "--strength", "-3,0,3", "--out", temp("p.png")])
        // 2 rows × 3 columns of 64×64 with 1-pixel padding.
        let grid = try loadImage(path: temp("p.png")).tensor
        XCTAssertEqual(grid.shape[1], 2 * 64 + 1)
        XCTAssertEqual(grid.shape[2], 3 * 64 + 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: temp("p.png.json")))
    }

    /// Folder-mode edit: a bad latent is listed and skipped (exit 2), the others are edited, no
    /// folder holds a latent without its images, and a contact sheet shows the results.
    func testFolderEditIsolatesFailures() throws {
        try runOK(["generate", "--seeds", "2", "--out", temp("g")])
        for name in ["a", "c"] {
            try FileManager.default.createDirectory(atPath: temp("in/\(name)"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: temp("g/seed0002.npz"), toPath: temp("in/\(name)/latent.npz"))
        }
        try FileManager.default.createDirectory(atPath: temp("in/b"), withIntermediateDirectories: true)
        try Data("zzTOPSECRETzz".utf8).write(to: URL(fileURLWithPath: temp("in/b/latent.npz")))
        let r = try run(["edit", "--latent-in", temp("in"), "--direction", "sefa:1", "--strength", "3", "--out", temp("out")])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("failed: \(temp("in/b/latent.npz"))"), r.stderr)
        XCTAssertFalse(r.stderr.contains("TOPSECRET"), "echoed the file's bytes: \(r.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("out/b")))
        for name in ["a", "c"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("out/\(name)/edited_+3.00.png")))
            XCTAssertTrue(FileManager.default.fileExists(atPath: temp("out/\(name)/latent_+3.00.npz")))
        }
        let sheet = try loadImage(path: temp("out/contact_sheet.png")).tensor
        XCTAssertEqual(sheet.shape[1], 2 * (64 + labelBandHeight) + 1)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("out/edit.json")))) as! [String: Any]
        XCTAssertEqual((summary["latents"] as! [Any]).count, 2)
        XCTAssertEqual((summary["failed"] as! [Any]).count, 1)
    }

    /// A recipe's direction path opens only direction files and never echoes another file's bytes.
    func testRecipeDirectionPathsReadOnlyDirectionFiles() throws {
        try runOK(["generate", "--seeds", "3", "--out", temp("g")])
        try Data("SECRET=hunter2\n".utf8).write(to: URL(fileURLWithPath: temp("secret.txt")))
        let recipe = #"{ "name": "sneaky", "steps": [ { "direction": "\#(temp("secret.txt")):0", "strength": 1 } ] }"#
        try Data(recipe.utf8).write(to: URL(fileURLWithPath: temp("r.json")))
        let message = try runFails(["edit", "--latent-in", temp("g/seed0003.npz"), "--recipe", temp("r.json"), "--out", temp("o")],
                                   contains: ["secret.txt", "not a direction file"])
        XCTAssertFalse(message.contains("hunter2") || message.contains("SECRET"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp("o/latent.npz")))
    }

    /// A `project` rerun with other settings names them and refuses; `--redo` redoes; a contact sheet is written.
    func testProjectRerunWithOtherSettings() throws {
        try FileManager.default.createDirectory(atPath: temp("imgs"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: cliFixture("rgb8.png"), toPath: temp("imgs/a.png"))
        try FileManager.default.copyItem(atPath: cliFixture("rgb8.png"), toPath: temp("imgs/b.png"))
        let common = ["project", temp("imgs"), "--out", temp("proj"), "--w-avg-samples", "16"]
        try runOK(common + ["--steps", "2"])
        // One labelled row (target | reconstruction) per image: two rows of 64×64 images.
        let sheet = try loadImage(path: temp("proj/contact_sheet.png")).tensor
        XCTAssertGreaterThan(sheet.shape[1], 2 * 64, "\(sheet.shape)")
        // Batch and shard do not change results: a rerun with another --batch is fine (nothing to do).
        let same = try runOK(common + ["--steps", "2", "--batch", "4"])
        XCTAssertTrue(same.stdout.contains("2 already done"), same.stdout)
        let message = try runFails(common + ["--steps", "3"], contains: ["steps 2 → 3", "--redo"])
        XCTAssertFalse(message.contains("batch"), message)
        let redo = try runOK(common + ["--steps", "3", "--redo"])
        XCTAssertTrue(redo.stdout.contains("2 inverted"), redo.stdout)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp("proj/a/metrics.json")))) as! [String: Any]
        XCTAssertEqual((record["metrics"] as! [String: Any])["steps"] as? Int, 3)
    }
}

/// `directions discover --method interfacegan --labels CSV` (the library's discovery, a thin command).
final class DiscoverCommandTests: CLITestCase {
    func testInterFaceGANFromCSVLabels() throws {
        // Labels a linear boundary in W can find: w[0] above its median, for 300 seeds of tiny32 (z 64, w 128).
        let G = try StyleGAN2Generator(path: modelsFixture("tiny32_weights.safetensors"))
        let w = mapFirstRows(generator: G, z: zFromSeeds((0..<300).map { UInt32($0) }, zDim: G.zDim))
        let first = (0..<300).map { w[$0, 0] }
        let median = first.sorted()[150]
        var csv = "seed,label\n"
        for s in 0..<300 { csv += "\(s),\(first[s] >= median ? 1 : 0)\n" }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: temp("labels.csv")))
        let r = try runOK(["directions", "discover", "--network", modelsFixture("tiny32_weights.safetensors"), "--method", "interfacegan",
                           "--labels", temp("labels.csv"), "--name", "zsign", "--out", temp("d.safetensors")])
        XCTAssertTrue(r.stdout.contains("zsign: held-out accuracy"), r.stdout)
        let f = try SafeTensorsFile(path: temp("d.safetensors"))
        XCTAssertEqual(f.metadata["label_source"], "csv:labels.csv")
        XCTAssertNotNil(f.metadata["projection_std"].flatMap(Double.init))
        let acc = try XCTUnwrap(f.metadata["held_out_accuracy"].flatMap { try? JSONDecoder().decode([Double].self, from: Data($0.utf8)) }?.first)
        XCTAssertGreaterThan(acc, 0.7)
        try Data("seed,label\n1,maybe\n".utf8).write(to: URL(fileURLWithPath: temp("bad.csv")))
        try runFails(["directions", "discover", "--method", "interfacegan", "--labels", temp("bad.csv"), "--out", temp("x.safetensors")],
                     contains: ["bad.csv:2", "label must be 0/1"])
        try runUsageError(["directions", "discover", "--method", "pca", "--out", temp("x.safetensors")], contains: ["--method"])
    }

    func testRegressionFromLatentFolders() throws {
        // 120 latent folders of tiny32 (numWs 8, w 128); two attributes linear in the mean of rows 0-3.
        let G = try StyleGAN2Generator(path: modelsFixture("tiny32_weights.safetensors"))
        let n = 120
        let w = mapFirstRows(generator: G, z: zFromSeeds((0..<UInt32(n)).map { $0 }, zDim: G.zDim))
        var csv = "latent,first,sum\n"
        for i in 0..<n {
            var ws = Tensor(shape: [1, G.numWs, G.wDim], repeating: 0)
            for r in 0..<G.numWs { for j in 0..<G.wDim { ws[flat: r * G.wDim + j] = w[i, j] + (r < 4 ? 0.1 * Float(r) : 0) } }
            try FileManager.default.createDirectory(atPath: temp("lat/s\(i)"), withIntermediateDirectories: true)
            try LatentFile(ws: ws).write(to: temp("lat/s\(i)/latent.npz"))
            let m0 = w[i, 0] + 0.15, m5 = (0..<5).reduce(Float(0)) { $0 + w[i, $1] } + 0.75
            csv += "s\(i),\(m0),\(m5)\n"
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: temp("attrs.csv")))
        let r = try runOK(["directions", "discover", "--network", modelsFixture("tiny32_weights.safetensors"), "--method", "regression",
                           "--latents", temp("lat"), "--labels", temp("attrs.csv"), "--layers", "0-3", "--out", temp("reg.safetensors")])
        XCTAssertTrue(r.stdout.contains("first: held-out R²"), r.stdout)
        let set = try DirectionSet.load(path: temp("reg.safetensors"))
        XCTAssertEqual(set.names, ["first", "sum"])
        XCTAssertEqual(set.layersText, "0-3")
        XCTAssertEqual(set.info["label_source"], "csv:attrs.csv")
        let r2 = try XCTUnwrap(set.info["held_out_r2"].flatMap { try? JSONDecoder().decode([Double].self, from: Data($0.utf8)) })
        XCTAssertGreaterThan(r2.min()!, 0.9, "\(r2)")
        // The readout predicts the attribute of a latent it has seen.
        let probe = try LatentFile.read(path: temp("lat/s7/latent.npz"), generator: G).ws(generator: G)
        XCTAssertEqual(set.predictedAttribute(0, at: meanWsRows(probe, layers: 0 ..< 4))!, Double(w[7, 0] + 0.15), accuracy: 0.05)
        try Data("latent,first\ns0,1\nmissing,2\ns1,3\n".utf8).write(to: URL(fileURLWithPath: temp("bad.csv")))
        try runFails(["directions", "discover", "--network", modelsFixture("tiny32_weights.safetensors"), "--method", "regression",
                      "--latents", temp("lat"), "--labels", temp("bad.csv"), "--out", temp("x.safetensors")], contains: ["bad.csv row 3"])
        try runFails(["directions", "discover", "--network", modelsFixture("tiny32_weights.safetensors"), "--method", "regression",
                      "--labels", temp("attrs.csv"), "--out", temp("x.safetensors")], contains: ["--latents DIR"])
        // A seed table needs no latents: each seed's mapped w.
        var seedCSV = "seed,first\n"
        for s in 0..<n { seedCSV += "\(s),\(w[s, 0] * 2 - 1)\n" }
        try Data(seedCSV.utf8).write(to: URL(fileURLWithPath: temp("seeds.csv")))
        _ = try runOK(["directions", "discover", "--network", modelsFixture("tiny32_weights.safetensors"), "--method", "regression",
                       "--labels", temp("seeds.csv"), "--out", temp("seeds.safetensors")])
        let bySeed = try DirectionSet.load(path: temp("seeds.safetensors"))
        XCTAssertEqual(bySeed.predictedAttribute(0, at: (0..<G.wDim).map { w[3, $0] })!, Double(w[3, 0] * 2 - 1), accuracy: 0.05)
    }
}
