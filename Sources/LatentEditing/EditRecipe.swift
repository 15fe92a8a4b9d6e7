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
/// A step on a regression direction (one with a readout) may say `"change": d` or `"target": v`
/// instead of a fixed strength: `{ "direction": "Latents/regression-colour.safetensors:wall_hue_cos",
/// "target": 1, "layers": "0-9" }`; the strength is then computed per image (and `strength`,
/// default 1, is the share of the way).
/// `layers` is optional (the direction file's default range is used); `"mask": "wall"` (or
/// `object`, `floor`, or a mask image next to the recipe) confines the edit to that region
/// (`"feather": σ` sets how it fades in at the region's edge). Relative direction
/// paths are resolved against the recipe's folder's parent (the repository root for `Edits/`)
/// first, then the working directory.
public struct EditRecipe: Codable, Sendable {
    public struct Step: Codable, Sendable {
        public var direction: String
        /// Step along the unit direction (a distance in W); with `target` or `change`, the share
        /// of the way to go (default 1).
        public var strength: Float
        public var layers: String?
        /// Set the direction's attribute to this value (directions with a readout, i.e.
        /// `directions discover --method regression`): the strength is computed per image from
        /// the readout's prediction at the mean of the step's ws rows.
        public var target: Float?
        /// Change the direction's attribute by this amount (in the attribute's units).
        public var change: Float?
        public init(direction: String, strength: Float = 1, layers: String? = nil, target: Float? = nil, change: Float? = nil) {
            self.direction = direction; self.strength = strength; self.layers = layers; self.target = target; self.change = change
        }
        enum CodingKeys: String, CodingKey { case direction, strength, layers, target, change }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            direction = try c.decode(String.self, forKey: .direction)
            target = try c.decodeIfPresent(Float.self, forKey: .target)
            change = try c.decodeIfPresent(Float.self, forKey: .change)
            layers = try c.decodeIfPresent(String.self, forKey: .layers)
            if target == nil && change == nil { strength = try c.decode(Float.self, forKey: .strength) }
            else { strength = try c.decodeIfPresent(Float.self, forKey: .strength) ?? 1 }
        }
    }
    public var name: String
    public var description: String?
    public var steps: [Step]
    /// Optional region the edit is confined to (`edit --mask` semantics): `object`, `wall`,
    /// `floor` (computed from each image, see `SceneRegion`) or a mask image path relative to
    /// the recipe's folder. `edit --mask` overrides it.
    public var mask: String?
    /// With a mask: Gaussian σ in pixels over which the edit fades in inside the mask's edge
    /// (`edit --feather`, which overrides it; default 1). 0 = a hard edge, for a region whose
    /// edge is a real edge of the scene (the wall meets the object and the floor there).
    public var feather: Double?

    public init(name: String, description: String? = nil, steps: [Step], mask: String? = nil, feather: Double? = nil) {
        self.name = name; self.description = description; self.steps = steps; self.mask = mask; self.feather = feather
    }

    public static func load(path: String) throws -> EditRecipe {
        let data: Data
        do { data = try readInputFile(path: path, maxBytes: InputFileLimit.text) } catch { throw EditingError("\(error)") }
        let recipe: EditRecipe
        do { recipe = try JSONDecoder().decode(EditRecipe.self, from: data) }
        catch { throw EditingError("\(path): not a valid edit recipe (\(decodingErrorReason(error)))") }
        guard !recipe.steps.isEmpty else { throw EditingError("\(path): recipe '\(recipe.name)' has no steps") }
        if let f = recipe.feather, !(0...64).contains(f) { throw EditingError("\(path): feather must be 0-64 pixels, got \(f)") }
        for (i, step) in recipe.steps.enumerated() {
            guard step.strength.isFinite else { throw EditingError("\(path): step \(i) has a non-finite strength") }
            guard !step.direction.isEmpty else { throw EditingError("\(path): step \(i) names no direction") }
            guard step.target == nil || step.change == nil else { throw EditingError("\(path): step \(i) has both a target and a change") }
            guard step.target?.isFinite ?? true, step.change?.isFinite ?? true else { throw EditingError("\(path): step \(i) has a non-finite target or change") }
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
    let bases = recipeDirectory.map { [$0, parentPath($0)] } ?? []
    for (k, step) in recipe.steps.enumerated() {
        let loaded: (set: DirectionSet, index: Int, path: String)
        do { loaded = try DirectionLibrary.load(reference: step.direction, relativeTo: bases) } catch {
            throw EditingError("recipe '\(recipe.name)' step \(k): \(error)")
        }
        let layers: Range<Int>
        do { layers = try step.layers.map { try parseWsRange($0, numWs: numWs) } ?? loaded.set.layers.clamped(to: 0 ..< numWs) } catch {
            throw EditingError("recipe '\(recipe.name)' step \(k): \(error)")
        }
        let direction = loaded.set.direction(loaded.index)
        guard step.target != nil || step.change != nil else {
            out = try applyDirection(ws: out, direction: direction, strength: step.strength * scale, layers: layers)
            continue
        }
        guard let perUnit = loaded.set.attributeChangePerUnit(loaded.index), abs(perUnit) > 1e-12 else {
            throw EditingError("recipe '\(recipe.name)' step \(k): \(loaded.path) has no attribute readout, so it cannot take a target or change (only --method regression directions do)")
        }
        guard direction.count == ws.shape[2] else { throw EditingError("direction has \(direction.count) entries, latents have wDim \(ws.shape[2])") }
        // Per image: the readout at the mean of the moved rows says how far the attribute is from where it should go.
        var rows: [Tensor] = []
        for i in 0..<ws.shape[0] {
            let one = out.slice(i ..< i + 1)
            let amount: Double
            if let change = step.change { amount = Double(change) }
            else { amount = Double(step.target!) - loaded.set.predictedAttribute(loaded.index, at: meanWsRows(one, layers: layers))! }
            rows.append(try applyDirection(ws: one, direction: direction, strength: Float(amount / perUnit) * step.strength * scale, layers: layers))
        }
        out = Tensor.concatenate(rows)
    }
    return out
}

/// Mean of `ws` `[1, numWs, wDim]` over the rows `layers`, as `[wDim]` values.
public func meanWsRows(_ ws: Tensor, layers: Range<Int>) -> [Float] {
    let d = ws.shape[2]
    var m = [Double](repeating: 0, count: d)
    for r in layers { for j in 0..<d { m[j] += Double(ws[flat: r * d + j]) } }
    return m.map { Float($0 / Double(layers.count)) }
}
