import Foundation
import LatentTensor
import LatentModels
import LatentCore
import LatentInversion
import LatentEditing
import _LatentVerification

/// A latent as `edit` renders it: its ws and noise, with the folder's generator delta applied
/// to `base` when there is one (PTI).
struct RenderableLatent {
    var generator: StyleGAN2Generator
    var ws: Tensor
    var noise: NoiseMaps?
    var tuned: Bool

    init(path: String, base: StyleGAN2Generator) throws {
        let deltaPath = GeneratorDelta.path(besideLatent: path)
        tuned = deltaPath != nil
        generator = try deltaPath.map { try GeneratorDelta.read(path: $0).applied(to: base) } ?? base
        let file = try LatentFile.read(path: path, generator: generator)
        ws = file.ws(generator: generator)
        noise = file.renderNoise(generator: generator)
    }

    /// A W latent of the base generator itself (a seed's mapped z), const noise.
    init(ws: Tensor, generator: StyleGAN2Generator) { self.ws = ws; self.generator = generator; noise = nil; tuned = false }

    func render(_ ws: Tensor? = nil) -> Tensor { generator.synthesis(ws: ws ?? self.ws, noise: noise).row(0) }
}

/// `LatentBench scene-factors --latents DIR|seeds --out FILE.csv [--network G.safetensors] [--samples N --base-seed B]
/// [--perturb S --copies M --rows a-b --seed K --out-latents DIR2]`: measures
/// the recipe criteria's scene factors (`sceneFactors`: object height and centre x as image
/// fractions, object and wall hue as cos/sin of 2π·hue) on the 8-bit reconstruction of every
/// latent.npz under DIR, and writes them as the `--labels` table of
/// `latentlab directions discover --method regression` (column `latent` = the folder, relative to DIR).
/// `--latents seeds` measures the generator's own samples of seeds B ..< B + N instead (`seed` column;
/// with `--perturb`, perturbed copies of their W latents, named `seedK-pC`).
///
/// With `--perturb S`, each latent is also written to DIR2 in M copies, each moved on ws rows a-b
/// by S · (w(z₁) − w(z₂)) / √2 (two mapped seeds: a step with W's own covariance, so it stays on
/// the generator's manifold), and the table lists those copies (relative to DIR2) with their
/// factors. Why: codes from an encoder or a projector carry information the generator barely
/// renders; regressing factors on them finds directions along which the *codes* vary with the
/// factor, not ones the *generator* responds to. Random steps independent of the image make the
/// regression measure the generator's response (its average Jacobian at that step size).
func runSceneFactorsBench(arguments: [String]) {
    func value(_ flag: String) -> String? { arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } }
    guard let root = value("--latents"), let out = value("--out") else {
        print("usage: LatentBench scene-factors --latents DIR --out FILE.csv [--network G.safetensors]"); exit(2)
    }
    do {
        let base = try value("--network").map { try StyleGAN2Generator(path: $0) } ?? StyleGAN2Generator.loadDefault()
        var csv = (root == "seeds" && value("--perturb") == nil ? "seed" : "latent") + ",height,cx,object_hue_cos,object_hue_sin,wall_hue_cos,wall_hue_sin\n"
        func row(_ name: String, _ image: Tensor) {
            let f = sceneFactors(image: image)
            let cells = [f.objectHeight, f.centreX, cos(2 * .pi * f.objectHue), sin(2 * .pi * f.objectHue), cos(2 * .pi * f.wallHue), sin(2 * .pi * f.wallHue)]
            csv += name + "," + cells.map { String(format: "%.6f", $0) }.joined(separator: ",") + "\n"
        }
        let start = Date()
        let perturb = value("--perturb").flatMap(Float.init)
        let copies = value("--copies").flatMap(Int.init) ?? 1
        let seed = value("--seed").flatMap(UInt32.init) ?? 0
        let rows = try parseWsRange(value("--rows") ?? "0-\(base.numWs - 1)", numWs: base.numWs)
        let baseSeed = value("--base-seed").flatMap(Int.init) ?? 0
        let samples = value("--samples").flatMap(Int.init) ?? 4000
        let outLatents = value("--out-latents")
        guard perturb == nil || outLatents != nil else { print("--perturb needs --out-latents DIR2"); exit(2) }
        if root == "seeds" && perturb == nil {
            // The generator's own samples: seeds --base-seed ..< + --samples, const noise, psi 1.
            let n = samples
            for b in stride(from: 0, to: n, by: 16) {
                let seeds = (b ..< min(n, b + 16)).map { UInt32(truncatingIfNeeded: baseSeed + $0) }
                let images = base.synthesis(ws: base.mapping(z: zFromSeeds(seeds, zDim: base.zDim)))
                for (k, s) in seeds.enumerated() { row("\(s)", images.row(k)) }
            }
            try writeAtomically(Data(csv.utf8), to: out)
            print("wrote \(out): \(n) seeds"); return
        }
        // (name, latent) sources: the latent files under DIR, or (with --perturb) the seeds' own W latents.
        let files: [(name: String, path: String)] = root == "seeds" ? (0 ..< samples).map { ("seed\(baseSeed + $0)", "") }
                                                                    : try findLatentFiles(root)
        guard !files.isEmpty else { print("no latent.npz under \(root)"); exit(1) }
        for (i, (folder, path)) in files.enumerated() {
            let latent = root == "seeds"
                ? RenderableLatent(ws: base.mapping(z: zFromSeeds([UInt32(truncatingIfNeeded: baseSeed + i)], zDim: base.zDim)), generator: base)
                : try RenderableLatent(path: path, base: base)
            if let perturb, let outRoot = outLatents {
                let seeds = (0..<(2 * copies)).map { UInt32(truncatingIfNeeded: Int(seed) + 2 * copies * i + $0) }
                let w = mapFirstRows(generator: base, z: zFromSeeds(seeds, zDim: base.zDim))   // [2M, wDim]
                for c in 0..<copies {
                    var ws = latent.ws
                    let d = base.wDim
                    for r in rows { for j in 0..<d {
                        ws[flat: r * d + j] += perturb * (w[flat: 2 * c * d + j] - w[flat: (2 * c + 1) * d + j]) / Float(2).squareRoot()
                    } }
                    let name = folder + "-p\(c)"
                    try FileManager.default.createDirectory(atPath: outRoot + "/" + name, withIntermediateDirectories: true)
                    try LatentFile(ws: ws).write(to: outRoot + "/" + name + "/latent.npz")
                    row(name, latent.render(ws))
                }
            } else {
                row(folder, latent.render())
            }
            if (i + 1) % 500 == 0 { print("\(i + 1)/\(files.count) latents, \(Int(Date().timeIntervalSince(start))) s") }
        }
        try writeAtomically(Data(csv.utf8), to: out)
        print("wrote \(out): \(files.count) latents")
    } catch {
        print("scene-factors: \(error)"); exit(1)
    }
}
