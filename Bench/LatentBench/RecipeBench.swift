import Foundation
import LatentTensor
import LatentModels
import LatentCore
import LatentInversion
import LatentEditing
import _LatentVerification

/// `LatentBench recipes --latents DIR [--recipes Edits] [--network G.safetensors] [--blend-res R] [--json]`:
/// applies larger-object, move-left, red-object and red-wall (strength 1) to every latent.npz
/// under DIR (any `project` output: W+, W, encoder, hybrid, PTI — a folder holding
/// generator-delta.safetensors renders with base + delta, as `edit` does) and counts the
/// successes of issue 17's criteria (`RecipeCriterion`), measured on the 8-bit edit against the
/// 8-bit reconstruction of the same latent. A recipe with a named-region mask is rendered
/// confined to it, as `edit` renders it.
func runRecipeBench(arguments: [String]) {
    func value(_ flag: String) -> String? { arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } }
    guard let root = value("--latents") else {
        print("usage: LatentBench recipes --latents DIR [--recipes Edits] [--network G.safetensors] [--json]"); exit(2)
    }
    let recipeDir = value("--recipes") ?? "Edits"
    let json = arguments.contains("--json")
    do {
        let base = try value("--network").map { try StyleGAN2Generator(path: $0) } ?? StyleGAN2Generator.loadDefault()
        let recipes = try RecipeCriterion.allCases.map { ($0, try EditRecipe.load(path: recipeDir + "/" + $0.rawValue + ".json")) }
        let files = try findLatentFiles(root)
        let blendResolution = value("--blend-res").flatMap(Int.init)
        guard !files.isEmpty else { print("no latent.npz under \(root)"); exit(1) }
        var counts = [RecipeCriterion: Int](), tunedCount = 0
        if !json { print("latent".padding(toLength: 28, withPad: " ", startingAt: 0) + RecipeCriterion.allCases.map { $0.rawValue.padding(toLength: 23, withPad: " ", startingAt: 0) }.joined() + "generator") }
        for (name, path) in files {
            let rel = name.isEmpty ? "latent.npz" : name + "/latent.npz"
            let latent = try RenderableLatent(path: path, base: base)
            let tuned = latent.tuned
            if tuned { tunedCount += 1 }
            let originalImage = latent.render()
            let original = sceneFactors(image: originalImage)
            var row = [String: Any]()
            var cells = [String]()
            for (criterion, recipe) in recipes {
                let edited = try LinearEditPlan.recipe(recipe, directory: recipeDir, scale: 1).apply(ws: latent.ws)[0].ws
                let e = sceneFactors(image: try render(recipe, latent: latent, edited: edited, original: originalImage,
                                                       blendResolution: blendResolution))
                let ok = criterion.succeeds(original: original, edited: e)
                if ok { counts[criterion, default: 0] += 1 }
                row[criterion.rawValue] = ["ok": ok, "height": e.objectHeight - original.objectHeight, "dx": e.centreX - original.centreX,
                                           "object_hue": e.objectHue, "wall_hue": e.wallHue] as [String: Any]
                cells.append(String(format: "%@ h%+.3f x%+.3f", ok ? "ok  " : "FAIL", e.objectHeight - original.objectHeight, e.centreX - original.centreX)
                    .padding(toLength: 23, withPad: " ", startingAt: 0))
            }
            if json {
                row["latent"] = rel; row["tuned"] = tuned
                print(String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(String(rel.prefix(27)).padding(toLength: 28, withPad: " ", startingAt: 0) + cells.joined() + (tuned ? "base+delta" : "base"))
            }
        }
        let total = RecipeCriterion.allCases.reduce(0) { $0 + (counts[$1] ?? 0) }
        let summary = RecipeCriterion.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)/\(files.count)" }.joined(separator: ", ")
        let line = "\(files.count) latents (\(tunedCount) with a delta): \(summary); total \(total)/\(4 * files.count)"
        if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
    } catch {
        print("recipes: \(error)"); exit(1)
    }
}

/// The edit as `latentlab edit --recipe` renders it: a recipe with a named region (`"mask":
/// "wall"`) is confined to that region of the original by feature blending (`MaskedEdit`, edit's
/// default blend resolution, the recipe's feather or edit's default); otherwise the edited latent as is.
private func render(_ recipe: EditRecipe, latent: RenderableLatent, edited: Tensor, original: Tensor, blendResolution: Int?) throws -> Tensor {
    guard let m = recipe.mask else { return latent.render(edited) }
    guard let region = SceneRegion(rawValue: m) else { throw EditingError("recipes: mask '\(m)' is not a named region (object, wall, floor)") }
    let G = latent.generator
    let masked = try MaskedEdit(mask: region.mask(image: original),
                                blendResolution: blendResolution ?? MaskedEdit.defaultBlendResolution(imageResolution: G.resolution),
                                feather: recipe.feather ?? MaskedEdit.defaultFeather, generator: G)
    return masked.render(generator: G, editedWs: edited, originalWs: latent.ws, noise: latent.noise).row(0)
}
