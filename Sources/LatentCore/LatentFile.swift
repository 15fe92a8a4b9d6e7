import Foundation
import LatentTensor
import LatentFormats
import LatentModels

/// A latent file (`latent.npz`), the one format every command and Bench read and write.
///
/// Accepted contents (NVIDIA's `projected_w.npz` is the first case):
/// - `.npz` with exactly one of
///   - `w` `[N, numWs, wDim]` (W+), `[N, wDim]` (one w per latent, used for every ws row) or
///     `[wDim]` (one latent);
///   - `z` `[N, zDim]` or `[zDim]` (mapped by the reader with the caller's truncation);
/// - plus, optionally, `noise.<layer>` maps under the official layer names (`b8.conv0`, …),
///   each `[H, W]` (one latent) or `[N, H, W]`, which replace the generator's const noise for
///   that layer;
/// - plus, optionally, `attachment.<key>` uint8 arrays holding UTF-8 text: what later solvers
///   attach (an encoder name, a generator delta file next to the latent). Unknown arrays are
///   refused, so a typo cannot be ignored.
/// - a bare `.npy`: w when its last dimension is `wDim`, else z (same shapes as above).
///
/// Written files always hold `w` `[N, numWs, wDim]` float32, `noise.<layer>` `[H, W]` for one
/// latent and `[N, H, W]` for several, and the attachments.
public struct LatentFile: Sendable, Equatable {
    /// The codes as stored.
    public enum Codes: Sendable, Equatable {
        /// `[N, numWs, wDim]` (normalised on reading).
        case w(Tensor)
        /// `[N, zDim]`.
        case z(Tensor)
    }

    public var codes: Codes
    /// Stored noise maps, `[N, H, W]` per layer; nil when the file has none.
    public var noise: NoiseMaps?
    /// Text attachments by key (stored as `attachment.<key>`).
    public var attachments: [String: String]

    /// Latents in the file.
    public var count: Int { switch codes { case .w(let t), .z(let t): return t.shape[0] } }

    /// - Parameters:
    ///   - ws: `[N, numWs, wDim]`.
    ///   - noise: maps `[H, W]` or `[N, H, W]` by layer (stored as given, reshaped to `[N, H, W]`).
    public init(ws: Tensor, noise: NoiseMaps? = nil, attachments: [String: String] = [:]) {
        self.codes = .w(ws)
        self.noise = noise.map { n in
            NoiseMaps(n.maps.mapValues { $0.rank == 2 ? $0.reshaped([1] + $0.shape) : $0 })
        }
        self.attachments = attachments
    }

    /// z latents `[N, zDim]`.
    public init(z: Tensor, attachments: [String: String] = [:]) {
        self.codes = .z(z); self.noise = nil; self.attachments = attachments
    }

    /// The ws `[N, numWs, wDim]`: stored w as is, z mapped with the given truncation.
    public func ws(generator G: StyleGAN2Generator, truncationPsi: Float = 1, truncationCutoff: Int? = nil) -> Tensor {
        switch codes {
        case .w(let w): return w
        case .z(let z): return G.mapping(z: z, truncationPsi: truncationPsi, truncationCutoff: truncationCutoff)
        }
    }

    /// Latents `range` of this file (codes and noise maps), e.g. one of a folder batch.
    public func slice(_ range: Range<Int>) -> LatentFile {
        var out = self
        switch codes {
        case .w(let t): out.codes = .w(t.slice(range))
        case .z(let t): out.codes = .z(t.slice(range))
        }
        out.noise = noise.map { NoiseMaps($0.maps.mapValues { $0.slice(range) }) }
        return out
    }

    /// Noise maps for rendering latents `range` with `G`: every layer present, `[n, H, W]`, a layer
    /// without a stored map taking the generator's `noise_const`; nil when nothing is stored (then
    /// the caller's noise mode applies to every layer).
    public func renderNoise(generator G: StyleGAN2Generator, range: Range<Int>? = nil) -> NoiseMaps? {
        guard let noise else { return nil }
        let r = range ?? 0 ..< count
        var out = NoiseMaps()
        for name in G.noiseLayerNames {
            let shape = G.noiseShape(layer: name)!
            if let m = noise[name] {
                out[name] = m.slice(r)
            } else {
                let c = G.constNoise[name]!.reshaped([1] + shape)
                out[name] = Tensor.concatenate(Array(repeating: c, count: r.count))
            }
        }
        return out
    }

    /// Writes the file atomically as an uncompressed `.npz` (see the type's description).
    public func write(to path: String) throws {
        let w: Tensor
        switch codes {
        case .w(let t): w = t
        case .z: throw LatentFileError(path, "a z file cannot be written as a latent.npz; map it to w first")
        }
        var arrays: [(name: String, array: NpyArray)] = [("w", try NpyArray(w))]
        if let noise {
            for name in noise.layerNames {
                let m = noise[name]!
                arrays.append(("noise.\(name)", try NpyArray(count == 1 ? m.reshaped(Array(m.shape.dropFirst())) : m)))
            }
        }
        for key in attachments.keys.sorted() {
            let bytes = Array(attachments[key]!.utf8)
            arrays.append(("attachment.\(key)", try NpyArray(shape: [bytes.count], dtype: .u8, bytes: bytes)))
        }
        try writeNpz(arrays, to: path, compressed: false)
    }

    /// Reads and checks a latent file for generator `G` (see the type's description).
    /// - Throws: `LatentFileError` (or the format's `FormatError`) naming the file: missing, a
    ///   folder, empty, not an npz/npy, unknown arrays, both or neither of w and z, a shape `G`
    ///   cannot use, no latents, or NaN/∞ values.
    public static func read(path: String, generator G: StyleGAN2Generator) throws -> LatentFile {
        try read(path: path, wDim: G.wDim, numWs: G.numWs, zDim: G.zDim,
                 noiseShapes: Dictionary(uniqueKeysWithValues: G.noiseLayerNames.map { ($0, G.noiseShape(layer: $0)!) }))
    }

    /// `read(path:generator:)` for a generator described by its sizes and noise-map shapes `[H, W]`.
    public static func read(path: String, wDim: Int, numWs: Int, zDim: Int, noiseShapes: [String: [Int]]) throws -> LatentFile {
        let kind = try sniffFileKind(path: path)
        let arrays: [String: NpyArray]
        switch kind {
        case .npy: arrays = ["": try readNpy(path: path)]
        case .npz: arrays = try readNpz(path: path)
        default: throw LatentFileError(path, "\(kind.nounWithoutContent), not a latent file (.npz with 'w' or 'z', or .npy)")
        }
        func fail(_ reason: String) -> LatentFileError { LatentFileError(path, reason) }
        let wShapes = "[N, \(numWs), \(wDim)], [N, \(wDim)] or [\(wDim)]"
        func asW(_ t: Tensor, _ what: String) throws -> Tensor {
            switch t.rank {
            case 3 where t.shape[1] == numWs && t.shape[2] == wDim: return t
            case 2 where t.shape[1] == wDim: return broadcastToWs(t, numWs: numWs)
            case 1 where t.shape[0] == wDim: return broadcastToWs(t.reshaped([1, wDim]), numWs: numWs)
            default: throw fail("\(what) has shape \(t.shape); this generator needs w \(wShapes)")
            }
        }
        func asZ(_ t: Tensor, _ what: String) throws -> Tensor {
            switch t.rank {
            case 2 where t.shape[1] == zDim: return t
            case 1 where t.shape[0] == zDim: return t.reshaped([1, zDim])
            default: throw fail("\(what) has shape \(t.shape); this generator needs z [N, \(zDim)] or [\(zDim)]")
            }
        }
        var file: LatentFile
        if kind == .npy {
            let t = arrays[""]!.toTensor()
            guard (1...3).contains(t.rank), t.shape.last == wDim || t.shape.last == zDim else {
                throw fail("the array has shape \(t.shape); a bare .npy must be w \(wShapes) or z [N, \(zDim)]")
            }
            if t.shape.last == wDim { file = LatentFile(ws: try asW(t, "the array (taken as w)")) }
            else { file = LatentFile(z: try asZ(t, "the array (taken as z)")) }
        } else {
            let known = { (k: String) in k == "w" || k == "z" || k.hasPrefix("noise.") || k.hasPrefix("attachment.") }
            let unknown = arrays.keys.filter { !known($0) }.sorted()
            guard unknown.isEmpty else {
                throw fail("unknown array\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); expected 'w' or 'z' (plus optional 'noise.*' maps and 'attachment.*' texts)")
            }
            switch (arrays["w"], arrays["z"]) {
            case (let w?, nil): file = LatentFile(ws: try asW(w.toTensor(), "'w'"))
            case (nil, let z?): file = LatentFile(z: try asZ(z.toTensor(), "'z'"))
            case (_?, _?): throw fail("holds both 'w' and 'z'; keep one")
            case (nil, nil): throw fail("no array named 'w' or 'z' (found: \(arrays.keys.sorted().joined(separator: ", ")))")
            }
            let n = file.count
            var noise = NoiseMaps()
            for (key, a) in arrays where key.hasPrefix("noise.") {
                let layer = String(key.dropFirst("noise.".count))
                guard let hw = noiseShapes[layer] else {
                    throw fail("'\(key)' names no noise layer of this generator (layers: \(noiseShapes.keys.sorted().joined(separator: ", ")))")
                }
                let t = a.toTensor()
                guard t.shape == hw || (n == 1 && t.shape == [1] + hw) || t.shape == [n] + hw else {
                    throw fail("'\(key)' has shape \(t.shape); expected \(hw)\(n > 1 ? " or \([n] + hw)" : "")")
                }
                guard t.isFinite else { throw fail("'\(key)' contains NaN or infinite values") }
                noise[layer] = t.shape == hw && n > 1 ? Tensor.concatenate(Array(repeating: t.reshaped([1] + hw), count: n))
                                                      : t.reshaped([n] + hw)
            }
            if !noise.maps.isEmpty { file.noise = noise }
            for (key, a) in arrays where key.hasPrefix("attachment.") {
                guard a.dtype == .u8, a.shape.count == 1, let text = String(bytes: a.bytes, encoding: .utf8) else {
                    throw fail("'\(key)' is not UTF-8 text (a 1-D uint8 array)")
                }
                file.attachments[String(key.dropFirst("attachment.".count))] = text
            }
        }
        guard file.count > 0 else { throw fail("holds no latents (N = 0)") }
        switch file.codes {
        case .w(let t), .z(let t): guard t.isFinite else { throw fail("the latents contain NaN or infinite values") }
        }
        return file
    }
}

/// A latent file that cannot be used: names the file and the reason.
public struct LatentFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public init(_ path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}
