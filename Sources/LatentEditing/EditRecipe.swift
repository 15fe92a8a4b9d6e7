import Foundation
import LatentTensor

/// A reusable edit, stored as JSON in `Edits/`: one or more linear moves, each naming a
/// direction file and entry, a strength and the ws rows it applies to.
///
/// ```json
/// { "name": "larger-object",
///   "description": "Grow the object; leave colours and position.",
///   "steps": [ { "direction": "Latents/interfacegan-scenes64.safetensors:size",
///                "strength": 2.0, "layers": "0-5" } ] }
/// ```
/// `layers` is optional (the direction file's default range is used). Relative direction
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

    public init(name: String, description: String? = nil, steps: [Step]) {
        self.name = name; self.description = description; self.steps = steps
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

/// Parses an inclusive ws range `a-b` (or `a`) into a half-open range within `0..<numWs`.
public func parseWsRange(_ text: String, numWs: Int) throws -> Range<Int> {
    let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard let first = parts.first, let a = first, parts.allSatisfy({ $0 != nil }) else {
        throw EditingError("layer range '\(text)' is not of the form a-b")
    }
    let b = parts.count == 2 ? parts[1]! : a
    guard a >= 0, b >= a, b < numWs else { throw EditingError("layer range '\(text)' must lie within 0-\(numWs - 1)") }
    return a ..< b + 1
}

/// Applies every step of a recipe to `ws` `[N, numWs, wDim]`.
public func applyRecipe(_ recipe: EditRecipe, ws: Tensor, recipeDirectory: String?) throws -> Tensor {
    var out = ws
    let numWs = ws.shape[1]
    for step in recipe.steps {
        let (file, entry) = parseDirectionReference(step.direction)
        var candidates = [file]
        if let dir = recipeDirectory, !file.hasPrefix("/") {
            candidates.insert(URL(fileURLWithPath: dir).deletingLastPathComponent().appendingPathComponent(file).path, at: 0)
        }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw EditingError("recipe '\(recipe.name)': direction file \(file) not found")
        }
        let set = try DirectionSet.load(path: path)
        let i = try entry.map { try set.index(of: $0) } ?? 0
        let layers = try step.layers.map { try parseWsRange($0, numWs: numWs) } ?? set.layers.clamped(to: 0 ..< numWs)
        out = try applyDirection(ws: out, direction: set.direction(i), strength: step.strength, layers: layers)
    }
    return out
}
