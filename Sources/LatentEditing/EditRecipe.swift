import Foundation
import LatentTensor
import LatentCore

/// A reusable edit, stored as JSON in `Edits/`: one or more linear moves, each naming a
/// direction file and entry, a strength and the ws rows it applies to.
///
/// ```json
/// { "name": "larger-object",
///   "description": "Grow the object; leave colours and position.",
///   "steps": [ { "direction": "Latents/interfacegan-scenes64.safetensors:size",
///                "strength": 2.0, "layers": "0-5" } ] }
/// ```
/// `layers` is optional (the direction file's default range is used); `"mask": "wall"` (or
/// `object`, `floor`, or a mask image next to the recipe) confines the edit to that region. Relative direction
/// paths are resolved against the recipe's folder's parent (the repository root for `Edits/`)
/// first, then the working directory.
public struct EditRecipe: Codable, Sendable {
    public struct Step: Codable, Sendable {
        public var direction: String
        public var strength: Float
        public var layers: String?
        public init(direction: String, strength: Float, layers: String? = nil) {
            self.direction = direction; self.strength = strength; self.layers = layers
        }
    }
    public var name: String
    public var description: String?
    public var steps: [Step]
    /// Optional region the edit is confined to (`edit --mask` semantics): `object`, `wall`,
    /// `floor` (computed from each image, see `SceneRegion`) or a mask image path relative to
    /// the recipe's folder. `edit --mask` overrides it.
    public var mask: String?

    public init(name: String, description: String? = nil, steps: [Step], mask: String? = nil) {
        self.name = name; self.description = description; self.steps = steps; self.mask = mask
    }

    public static func load(path: String) throws -> EditRecipe {
        let data: Data
        do { data = try readInputFile(path: path, maxBytes: InputFileLimit.text) } catch { throw EditingError("\(error)") }
        let recipe: EditRecipe
        do { recipe = try JSONDecoder().decode(EditRecipe.self, from: data) }
        catch { throw EditingError("\(path): not a valid edit recipe (\(decodingErrorReason(error)))") }
        guard !recipe.steps.isEmpty else { throw EditingError("\(path): recipe '\(recipe.name)' has no steps") }
        for (i, step) in recipe.steps.enumerated() {
            guard step.strength.isFinite else { throw EditingError("\(path): step \(i) has a non-finite strength") }
            guard !step.direction.isEmpty else { throw EditingError("\(path): step \(i) names no direction") }
        }
        return recipe
    }
}

/// Splits `FILE[:name|index]` into the file and the entry (nil = the first direction).
public func parseDirectionReference(_ ref: String) -> (path: String, entry: String?) {
    if let colon = ref.lastIndex(of: ":"), !ref[ref.index(after: colon)...].contains("/") {
        return (String(ref[..<colon]), String(ref[ref.index(after: colon)...]))
    }
    return (ref, nil)
}

/// Applies every step of a recipe to `ws` `[N, numWs, wDim]`, each step's strength multiplied
/// by `scale` (so `--strength -1` undoes a recipe and `0.5` does half of it).
///
/// Direction paths are resolved by `DirectionLibrary.resolve`: against the recipe's folder, its
/// parent (the repository root for `Edits/`), the working directory, then the shipped library.
/// Only direction files are opened (see `DirectionSet.load`).
public func applyRecipe(_ recipe: EditRecipe, ws: Tensor, recipeDirectory: String?, scale: Float = 1) throws -> Tensor {
    var out = ws
    let numWs = ws.shape[1]
    let bases = recipeDirectory.map { [$0, ($0 as NSString).deletingLastPathComponent] } ?? []
    for (k, step) in recipe.steps.enumerated() {
        let loaded: (set: DirectionSet, index: Int, path: String)
        do { loaded = try DirectionLibrary.load(reference: step.direction, relativeTo: bases) } catch {
            throw EditingError("recipe '\(recipe.name)' step \(k): \(error)")
        }
        let layers: Range<Int>
        do { layers = try step.layers.map { try parseWsRange($0, numWs: numWs) } ?? loaded.set.layers.clamped(to: 0 ..< numWs) } catch {
            throw EditingError("recipe '\(recipe.name)' step \(k): \(error)")
        }
        out = try applyDirection(ws: out, direction: loaded.set.direction(loaded.index), strength: step.strength * scale, layers: layers)
    }
    return out
}
