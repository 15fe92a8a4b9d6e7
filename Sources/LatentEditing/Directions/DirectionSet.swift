import Foundation
import LatentTensor
import LatentFormats
import LatentCore

/// A set of named latent directions in W, stored as one safetensors file with provenance.
///
/// File layout: tensor `directions` `[K, wDim]` (unit vectors), tensor `scales` `[K]`
/// (eigenvalue, σ, boundary accuracy or attribute change per unit — see `scale_meaning`),
/// optional tensors `mean` `[wDim]` and `readout` `[K, wDim]` + `readout_bias` `[K]` (regression),
/// and metadata: `format` = `latentlab-directions`, `names` (JSON list), `method`,
/// `generator` (fingerprint of the weights they were found for), `space` (`w`),
/// `layers` (default ws rows `a-b` to apply them to), and, where they apply, `samples`, `seed`,
/// `label_source`, `held_out_accuracy` (JSON list, one per direction), `scale_meaning`.
public struct DirectionSet: Sendable {
    public var names: [String]
    /// `[K, wDim]` unit directions.
    public var directions: Tensor
    /// `[K]`: what each direction's scale means is in `info["scale_meaning"]`.
    public var scales: [Float]
    /// `[wDim]`: the sample mean (GANSpace), if recorded.
    public var mean: Tensor?
    /// `[K, wDim]` and `[K]`: a linear readout of each direction's attribute from a latent
    /// (`readoutBias[k] + readout[k] · w`, regression directions), so an edit can set the
    /// attribute to a value or change it by an amount (`EditRecipe.Step.target` / `change`).
    public var readout: Tensor?
    public var readoutBias: [Float]?
    public var method: String
    public var generatorFingerprint: String
    /// Default ws rows (half-open) to apply the directions to.
    public var layers: Range<Int>
    /// Every other metadata entry (provenance), e.g. `samples`, `seed`, `label_source`.
    public var info: [String: String]

    /// Metadata keys the format itself defines (not stored in `info`).
    static let reservedKeys = ["format", "names", "method", "generator", "space", "layers"]
    static let formatTag = "latentlab-directions"

    public init(names: [String], directions: Tensor, scales: [Float], mean: Tensor? = nil, method: String,
                generatorFingerprint: String, layers: Range<Int>, info: [String: String] = [:],
                readout: Tensor? = nil, readoutBias: [Float]? = nil) {
        self.names = names; self.directions = directions; self.scales = scales; self.mean = mean
        self.readout = readout; self.readoutBias = readoutBias
        self.method = method; self.generatorFingerprint = generatorFingerprint; self.layers = layers; self.info = info
    }

    public var count: Int { names.count }
    public var wDim: Int { directions.shape[1] }

    /// Direction `i` as `[wDim]`.
    public func direction(_ i: Int) -> Tensor { directions.row(i) }

    /// Index of a direction given by name or by number (`"size"`, `"3"`).
    public func index(of key: String) throws -> Int {
        if let i = names.firstIndex(of: key) { return i }
        if let i = Int(key), i >= 0, i < count { return i }
        throw EditingError("no direction '\(key)' (have: \(names.joined(separator: ", ")))")
    }

    /// The readout's prediction of direction `i`'s attribute at `w` `[wDim]`, nil without a readout.
    public func predictedAttribute(_ i: Int, at w: [Float]) -> Double? {
        guard let readout, let readoutBias else { return nil }
        var s = Double(readoutBias[i])
        readout.withUnsafeBufferPointer { r in for j in 0..<wDim { s += Double(r[i * wDim + j]) * Double(w[j]) } }
        return s
    }

    /// Attribute change per unit of strength along direction `i` (its readout · direction), nil
    /// without a readout. For a regression direction this is `scales[i]`; the other readouts
    /// move by (to first order) nothing.
    public func attributeChangePerUnit(_ i: Int) -> Double? {
        guard let readout else { return nil }
        var s = 0.0
        for j in 0..<wDim { s += Double(readout[flat: i * wDim + j]) * Double(directions[flat: i * wDim + j]) }
        return s
    }

    /// Held-out accuracy of each direction's boundary (InterFaceGAN), if recorded.
    public var heldOutAccuracy: [Double]? {
        info["held_out_accuracy"].flatMap { try? JSONDecoder().decode([Double].self, from: Data($0.utf8)) }
    }

    /// The default ws rows as text, `a-b` inclusive.
    public var layersText: String { wsRangeText(layers) }

    /// Checks the invariants `load` relies on (names per row, finite unit rows, shapes).
    public func validate(source: String = "direction set") throws {
        guard directions.rank == 2, directions.shape[0] >= 1, directions.shape[1] >= 1 else {
            throw EditingError("\(source): directions must be [K, wDim] with K, wDim >= 1, got \(directions.shape)")
        }
        let k = directions.shape[0], d = directions.shape[1]
        guard names.count == k else { throw EditingError("\(source): \(names.count) names for \(k) directions") }
        guard Set(names).count == k else { throw EditingError("\(source): direction names are not unique: \(names)") }
        guard scales.count == k else { throw EditingError("\(source): \(scales.count) scales for \(k) directions") }
        guard directions.isFinite else { throw EditingError("\(source): directions hold NaN or infinity") }
        for i in 0..<k {
            var s = 0.0
            for j in 0..<d { s += Double(directions[flat: i * d + j]) * Double(directions[flat: i * d + j]) }
            guard abs(s.squareRoot() - 1) < 1e-3 else {
                throw EditingError("\(source): direction \(i) ('\(names[i])') has norm \(s.squareRoot()), expected unit length")
            }
        }
        if let mean, mean.shape != [d] || !mean.isFinite {
            throw EditingError("\(source): mean must be finite [\(d)], got \(mean.shape)")
        }
        guard layers.lowerBound >= 0, !layers.isEmpty else { throw EditingError("\(source): empty layer range \(layers)") }
        guard (readout == nil) == (readoutBias == nil) else { throw EditingError("\(source): a readout needs both 'readout' and 'readout_bias'") }
        if let readout, let readoutBias {
            guard readout.shape == [k, d], readoutBias.count == k, readout.isFinite, readoutBias.allSatisfy(\.isFinite) else {
                throw EditingError("\(source): readout must be finite [\(k), \(d)] with \(k) biases, got \(readout.shape) and \(readoutBias.count)")
            }
        }
    }

    /// Writes the set (atomically) as safetensors with its provenance in the metadata.
    public func save(to path: String) throws {
        try validate(source: path)
        var meta = info
        meta["format"] = Self.formatTag
        meta["names"] = String(decoding: try JSONEncoder().encode(names), as: UTF8.self)
        meta["method"] = method
        meta["generator"] = generatorFingerprint
        meta["space"] = "w"
        meta["layers"] = layersText
        var tensors: [(name: String, tensor: Tensor)] = [("directions", directions), ("scales", Tensor(shape: [scales.count], data: scales))]
        if let mean { tensors.append(("mean", mean)) }
        if let readout, let readoutBias {
            tensors.append(("readout", readout)); tensors.append(("readout_bias", Tensor(shape: [readoutBias.count], data: readoutBias)))
        }
        try writeSafeTensors(tensors, metadata: meta, to: path)
    }

    /// Reads a direction file, refusing anything that is not one (other safetensors, other
    /// latent spaces, malformed metadata or tensors) with an error naming the file.
    /// Only a file whose first bytes say safetensors is opened, and errors about other files
    /// name their kind, never their bytes (a recipe may point anywhere).
    public static func load(path: String) throws -> DirectionSet {
        let kind = try sniffFileKind(path: path)
        guard kind == .safetensors else {
            throw EditingError("\(path): \(kind.nounWithoutContent), not a direction file (.safetensors)")
        }
        let f = try SafeTensorsFile(path: path)
        guard f.metadata["format"] == formatTag else {
            throw EditingError("\(path): not a LatentLab direction file (metadata format is '\(f.metadata["format"] ?? "missing")')")
        }
        guard let space = f.metadata["space"], space == "w" else {
            throw EditingError("\(path): directions live in space '\(f.metadata["space"] ?? "missing")'; only 'w' is supported")
        }
        guard f.contains("directions") else { throw EditingError("\(path): no 'directions' tensor") }
        let dirs = try f.tensor("directions")
        guard dirs.rank == 2 else { throw EditingError("\(path): directions must be [K, wDim], got \(dirs.shape)") }
        let names: [String]
        if let text = f.metadata["names"] {
            guard let decoded = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
                throw EditingError("\(path): metadata 'names' is not a JSON list of strings")
            }
            names = decoded
        } else {
            names = (0..<dirs.shape[0]).map { "\($0)" }
        }
        let scales = f.contains("scales") ? try f.tensor("scales").storage : [Float](repeating: 1, count: dirs.shape[0])
        let layerText = f.metadata["layers"] ?? "0-0"
        guard let layers = try? parseWsRange(layerText, numWs: Int.max) else {
            throw EditingError("\(path): metadata layers '\(layerText)' is not a range a-b")
        }
        var info = f.metadata
        for k in reservedKeys { info[k] = nil }
        let set = DirectionSet(names: names, directions: dirs, scales: scales,
                               mean: f.contains("mean") ? try f.tensor("mean") : nil,
                               method: f.metadata["method"] ?? "unknown", generatorFingerprint: f.metadata["generator"] ?? "",
                               layers: layers, info: info,
                               readout: f.contains("readout") ? try f.tensor("readout") : nil,
                               readoutBias: f.contains("readout_bias") ? try f.tensor("readout_bias").storage : nil)
        try set.validate(source: path)
        return set
    }
}
