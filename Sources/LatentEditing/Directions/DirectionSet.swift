import Foundation
import LatentTensor
import LatentFormats

/// A set of named latent directions in W, stored as one safetensors file with provenance.
///
/// File layout: tensor `directions` `[K, wDim]` (unit vectors), tensor `scales` `[K]`
/// (eigenvalue, σ or boundary accuracy — see `scaleMeaning`), optional tensor `mean` `[wDim]`,
/// and metadata: `format` = `latentlab-directions`, `names` (JSON list), `method`,
/// `generator` (fingerprint of the weights they were found for), `space` (`w`),
/// `layers` (default ws rows `a-b` to apply them to), `samples`, `seed`, `label_source`,
/// `held_out_accuracy` (JSON list, InterFaceGAN), `scale_meaning`, `created`.
public struct DirectionSet: Sendable {
    public var names: [String]
    /// `[K, wDim]` unit directions.
    public var directions: Tensor
    public var scales: [Float]
    public var mean: Tensor?
    public var method: String
    public var generatorFingerprint: String
    /// Default ws rows (half-open) to apply the directions to.
    public var layers: Range<Int>
    public var info: [String: String]

    public init(names: [String], directions: Tensor, scales: [Float], mean: Tensor? = nil, method: String,
                generatorFingerprint: String, layers: Range<Int>, info: [String: String] = [:]) {
        self.names = names; self.directions = directions; self.scales = scales; self.mean = mean
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

    public func save(to path: String) throws {
        var meta = info
        meta["format"] = "latentlab-directions"
        meta["names"] = String(data: try JSONEncoder().encode(names), encoding: .utf8)!
        meta["method"] = method
        meta["generator"] = generatorFingerprint
        meta["space"] = "w"
        meta["layers"] = "\(layers.lowerBound)-\(layers.upperBound - 1)"
        var tensors: [(name: String, tensor: Tensor)] = [("directions", directions), ("scales", Tensor(shape: [scales.count], data: scales))]
        if let mean { tensors.append(("mean", mean)) }
        try writeSafeTensors(tensors, metadata: meta, to: path)
    }

    public static func load(path: String) throws -> DirectionSet {
        let f = try SafeTensorsFile(path: path)
        guard f.metadata["format"] == "latentlab-directions" else {
            throw EditingError("\(path): not a LatentLab direction file (metadata format is '\(f.metadata["format"] ?? "missing")')")
        }
        let dirs = try f.tensor("directions")
        guard dirs.rank == 2 else { throw EditingError("\(path): directions must be [K, wDim], got \(dirs.shape)") }
        let names = try f.metadata["names"].flatMap { try JSONDecoder().decode([String].self, from: Data($0.utf8)) }
            ?? (0..<dirs.shape[0]).map { "\($0)" }
        guard names.count == dirs.shape[0] else { throw EditingError("\(path): \(names.count) names for \(dirs.shape[0]) directions") }
        let scales = f.contains("scales") ? try f.tensor("scales").storage : [Float](repeating: 1, count: names.count)
        let layerText = f.metadata["layers"] ?? "0-0"
        let parts = layerText.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { throw EditingError("\(path): bad layers '\(layerText)'") }
        var info = f.metadata
        for k in ["format", "names", "method", "generator", "space", "layers"] { info[k] = nil }
        return DirectionSet(names: names, directions: dirs, scales: scales,
                            mean: f.contains("mean") ? try f.tensor("mean") : nil,
                            method: f.metadata["method"] ?? "unknown", generatorFingerprint: f.metadata["generator"] ?? "",
                            layers: parts[0] ..< parts[1] + 1, info: info)
    }
}
