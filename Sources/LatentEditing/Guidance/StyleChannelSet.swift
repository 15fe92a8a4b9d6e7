import Foundation
import LatentTensor
import LatentModels

/// A named set of StyleSpace channels of one generator (e.g. its colour channels), as a JSON
/// file with provenance:
///
/// ```json
/// {"format": "latentlab-style-channels", "name": "colour", "generator": "<fingerprint>",
///  "channels": {"b16.torgb": [3, 17, …], "b32.conv0": […], …}, "provenance": {"method": "…", "command": "…"}}
/// ```
///
/// Layer names are those of `StyleGAN2Generator.styleLayers` / `styles(ws:)`. `edit --exemplar
/// IMG --channels FILE` moves these channels to the exemplar's values (`exemplarStyleTransfer`).
public struct StyleChannelSet: Sendable, Equatable {
    public static let formatTag = "latentlab-style-channels"

    public var name: String
    /// Fingerprint of the weights the set was found for.
    public var generatorFingerprint: String
    /// Channel indices by layer name, ascending.
    public var channels: [String: [Int]]
    /// How the set was made (free-form strings: method, command, data, figures).
    public var provenance: [String: String]

    public init(name: String, generatorFingerprint: String, channels: [String: [Int]], provenance: [String: String] = [:]) {
        self.name = name; self.generatorFingerprint = generatorFingerprint
        self.channels = channels.mapValues { $0.sorted() }; self.provenance = provenance
    }

    /// Number of channels in the set.
    public var count: Int { channels.values.reduce(0) { $0 + $1.count } }

    /// Reads a set written by `write(to:)`.
    /// - Throws: `EditingError` naming `path` for anything that is not such a file.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw EditingError("\(path): cannot read the file") }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              obj["format"] as? String == Self.formatTag else {
            throw EditingError("\(path): not a style-channel set (JSON with \"format\": \"\(Self.formatTag)\")")
        }
        guard let name = obj["name"] as? String, let fp = obj["generator"] as? String,
              let raw = obj["channels"] as? [String: Any] else {
            throw EditingError("\(path): a style-channel set needs \"name\", \"generator\" and \"channels\"")
        }
        var channels = [String: [Int]]()
        for (layer, list) in raw {
            guard let values = list as? [Any], let ints = values as? [NSNumber],
                  ints.allSatisfy({ Double($0.intValue) == $0.doubleValue }) else {
                throw EditingError("\(path): the channels of \(layer) must be a list of integers")
            }
            channels[layer] = ints.map(\.intValue)
        }
        let prov = (obj["provenance"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
        self.init(name: name, generatorFingerprint: fp, channels: channels, provenance: prov)
    }

    /// Writes the set atomically (sorted keys, so equal sets give equal files).
    public func write(to path: String) throws {
        let obj: [String: Any] = ["format": Self.formatTag, "name": name, "generator": generatorFingerprint,
                                  "channels": channels, "provenance": provenance]
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted])
        try writeAtomically(data + Data("\n".utf8), to: path)
    }

    /// Checks the set against `generator`'s layers.
    /// - Returns: a note when the set was found for other weights of the same shape, else nil.
    /// - Throws: `EditingError` for an empty set, an unknown layer or a channel outside a layer's width.
    @discardableResult
    public func check(against generator: StyleGAN2Generator) throws -> String? {
        guard count > 0 else { throw EditingError("style-channel set '\(name)' holds no channels") }
        let widths = Dictionary(uniqueKeysWithValues: generator.styleLayers.map { ($0.name, $0.channels) })
        for (layer, list) in channels.sorted(by: { $0.key < $1.key }) {
            guard let width = widths[layer] else {
                throw EditingError("style-channel set '\(name)': the generator has no layer \(layer) (another generator?)")
            }
            if let bad = list.first(where: { $0 < 0 || $0 >= width }) {
                throw EditingError("style-channel set '\(name)': channel \(bad) of \(layer) is outside 0-\(width - 1)")
            }
        }
        return generatorFingerprint == generator.fingerprint ? nil
            : "style-channel set '\(name)' was found for generator \(generatorFingerprint), not this one (\(generator.fingerprint))"
    }
}

/// Exemplar transfer in StyleSpace: the channels of `set` take the exemplar's style values
/// (`s ← s + α (s_exemplar − s)`), every other channel keeps the latent's own, and the result is
/// lowered to a W+ latent (`StyleGAN2Generator.ws(applying:to:)`; exact for the default
/// generator). Where a ws-row crossover carries everything a layer encodes (on scenes64 the
/// colour rows also move the object), a set of colour channels moves the colours alone.
/// - Parameters:
///   - ws: `[N, numWs, wDim]`; `exemplarWs`: `[N or 1, numWs, wDim]`.
///   - alpha: 1 = the exemplar's values, 0 = unchanged.
/// - Returns: the edited ws and the RMS style error of the lowering (0 up to rounding when exact).
/// - Throws: `EditingError` for mismatched shapes, a set that does not fit the generator, a
///   non-finite alpha.
public func exemplarStyleTransfer(generator G: StyleGAN2Generator, ws: Tensor, exemplarWs: Tensor, channels set: StyleChannelSet,
                                  alpha: Float = 1) throws -> (ws: Tensor, styleResidual: Double) {
    guard ws.rank == 3, ws.shape[1] == G.numWs, ws.shape[2] == G.wDim, exemplarWs.rank == 3, exemplarWs.shape[1...] == ws.shape[1...],
          exemplarWs.shape[0] == ws.shape[0] || exemplarWs.shape[0] == 1 else {
        throw EditingError("exemplar latent \(exemplarWs.shape) does not match the latent \(ws.shape) (another generator?)")
    }
    guard alpha.isFinite else { throw EditingError("alpha must be finite") }
    try set.check(against: G)
    return try G.ws(applying: StyleSpaceEdit(targets: G.styles(ws: exemplarWs), channels: set.channels, alpha: alpha), to: ws)
}
