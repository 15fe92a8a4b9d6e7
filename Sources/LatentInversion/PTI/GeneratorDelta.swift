import Foundation
import LatentTensor
import LatentFormats
import LatentModels

/// Tuned weights stored as differences against the base generator they were tuned from (the
/// base named by its fingerprint), so a tuned image costs its changed layers — or, with a rank,
/// two thin factors per layer — instead of a full generator copy.
///
/// File layout (`generator-delta.safetensors`, F32): per tuned parameter either `NAME` (the full
/// difference, same shape as the parameter) or, for a weight `[O, I, k, k]` stored at rank r,
/// `NAME.left` `[O, r]` and `NAME.right` `[r, I·k·k]` with difference = left · right. Metadata:
/// `format` = `latentlab-generator-delta`, `base_fingerprint`, `layers` (comma-separated parameter
/// names), `rank` (`full` or r), `dtype` (`f32`, or `f16` for a delta rounded to half precision).
public struct GeneratorDelta: Sendable, Equatable {
    public static let fileName = "generator-delta.safetensors"

    /// The delta file in the folder of the latent at `latentPath` (a `--method pti` output), nil
    /// when there is none: that latent reproduces its image only with base + this delta.
    public static func path(besideLatent latentPath: String) -> String? {
        let dir = parentPath(latentPath)
        let path = (dir.isEmpty ? "." : dir) + "/" + fileName
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
    public static let formatName = "latentlab-generator-delta"

    /// One parameter's difference.
    public enum Difference: Sendable, Equatable {
        /// Same shape as the parameter.
        case full(Tensor)
        /// `left` `[O, r]`, `right` `[r, I·k·k]`; the difference is `left · right` reshaped to `[O, I, k, k]`.
        case lowRank(left: Tensor, right: Tensor, shape: [Int])
    }

    /// Fingerprint of the base generator.
    public var baseFingerprint: String
    /// Parameter name → difference.
    public var differences: [String: Difference]
    /// Rank of the weight factors; nil for full differences.
    public var rank: Int?
    /// Stored as F16 (every value already a float16 number, so reading it back is exact).
    public var halfPrecision: Bool

    public init(baseFingerprint: String, differences: [String: Difference], rank: Int?, halfPrecision: Bool = false) {
        self.baseFingerprint = baseFingerprint; self.differences = differences; self.rank = rank
        self.halfPrecision = halfPrecision
    }

    /// Every stored value rounded to the nearest float16 (half the bytes on disk; the delta
    /// applied is then exactly the one read back).
    public func roundedToHalf() -> GeneratorDelta {
        func r(_ t: Tensor) -> Tensor { t.map { Float(Float16($0)) } }
        var out = self
        out.halfPrecision = true
        out.differences = differences.mapValues {
            switch $0 {
            case .full(let t): return .full(r(t))
            case .lowRank(let l, let rt, let shape): return .lowRank(left: r(l), right: r(rt), shape: shape)
            }
        }
        return out
    }

    /// The difference between `tuned` parameters and `base`'s, full or truncated to `rank` per
    /// weight (the best rank-r approximation of the `[O, I·k·k]` matrix, from the eigenvectors of
    /// D·Dᵀ in Double). 1-D parameters (biases) are always stored in full.
    /// - Throws: `FormatError` for a name `base` does not have or a shape mismatch; a rank < 1.
    public init(base: StyleGAN2Generator, tuned: [String: Tensor], rank: Int? = nil) throws {
        if let rank, rank < 1 { throw FormatError("generator delta", "rank must be ≥ 1, got \(rank)") }
        var diffs = [String: Difference]()
        for (name, t) in tuned {
            guard let b = base.parameters[name], b.shape == t.shape else {
                throw FormatError("generator delta", "'\(name)' is not a parameter of the base generator with shape \(t.shape)")
            }
            var d = t
            for i in 0..<d.count { d.storage[i] = t.storage[i] - b.storage[i] }
            if let rank, d.rank == 4 {
                diffs[name] = try lowRankDifference(d, rank: rank)
            } else {
                diffs[name] = .full(d)
            }
        }
        self.init(baseFingerprint: base.fingerprint, differences: diffs, rank: rank)
    }

    /// The parameter names in sorted order.
    public var layers: [String] { differences.keys.sorted() }

    /// The difference of `name` as a dense tensor (low-rank products in Double, then rounded:
    /// the same numbers on every call).
    public func dense(_ name: String) -> Tensor? {
        guard let d = differences[name] else { return nil }
        switch d {
        case .full(let t): return t
        case .lowRank(let left, let right, let shape):
            let o = left.shape[0], r = left.shape[1], k = right.shape[1]
            var out = Tensor.zeros(shape)
            for row in 0..<o {
                for col in 0..<k {
                    var s: Double = 0
                    for q in 0..<r { s += Double(left.storage[row * r + q]) * Double(right.storage[q * k + col]) }
                    out.storage[row * k + col] = Float(s)
                }
            }
            return out
        }
    }

    /// The tuned parameters: base + difference for every stored name.
    public func tunedParameters(base: StyleGAN2Generator) throws -> [String: Tensor] {
        try checkBase(base)
        var out = [String: Tensor]()
        for name in layers {
            guard var p = base.parameters[name], let d = dense(name), d.shape == p.shape else {
                throw FormatError("generator delta", "'\(name)' does not match a parameter of the base generator")
            }
            for i in 0..<p.count { p.storage[i] += d.storage[i] }
            out[name] = p
        }
        return out
    }

    /// `base` with the differences added.
    /// - Throws: `FormatError` when `base` is not the generator the delta was made from (one line
    ///   naming both fingerprints), or a stored name/shape does not fit it.
    public func applied(to base: StyleGAN2Generator) throws -> StyleGAN2Generator {
        try base.replacingParameters(try tunedParameters(base: base))
    }

    func checkBase(_ base: StyleGAN2Generator) throws {
        guard base.fingerprint == baseFingerprint else {
            throw FormatError("generator delta", "made for base generator \(baseFingerprint), not this one (\(base.fingerprint)); use --network with that generator")
        }
    }

    /// The safetensors bytes (see the type's documentation).
    public func encoded() throws -> Data {
        var w = SafeTensorsWriter(metadata: ["format": Self.formatName, "base_fingerprint": baseFingerprint,
                                             "layers": layers.joined(separator: ","), "rank": rank.map(String.init) ?? "full",
                                             "dtype": halfPrecision ? "f16" : "f32"])
        let dtype: DType = halfPrecision ? .f16 : .f32
        for name in layers {
            switch differences[name]! {
            case .full(let t): try w.add(name, t, dtype: dtype)
            case .lowRank(let left, let right, _):
                try w.add(name + ".left", left, dtype: dtype)
                try w.add(name + ".right", right, dtype: dtype)
            }
        }
        return w.encoded()
    }

    /// Reads a delta file's bytes.
    /// - Parameter name: names the source in errors (a path).
    /// - Throws: `FormatError` for another kind of safetensors file or missing/ill-shaped factors.
    public static func decode(data: Data, name: String) throws -> GeneratorDelta {
        try decode(file: try SafeTensorsFile(data: data, name: name), name: name)
    }

    static func decode(file: SafeTensorsFile, name: String) throws -> GeneratorDelta {
        guard file.metadata["format"] == formatName, let base = file.metadata["base_fingerprint"],
              let layerList = file.metadata["layers"], let rankText = file.metadata["rank"] else {
            throw FormatError(name, "not a generator delta (no '\(formatName)' metadata)")
        }
        let rank: Int?
        if rankText == "full" { rank = nil } else {
            guard let r = Int(rankText), r >= 1 else { throw FormatError(name, "generator delta: bad rank '\(rankText)'") }
            rank = r
        }
        var diffs = [String: Difference]()
        for layer in layerList.split(separator: ",").map(String.init) {
            if file.contains(layer) {
                diffs[layer] = .full(try file.tensor(layer))
            } else if file.contains(layer + ".left"), file.contains(layer + ".right") {
                let l = try file.tensor(layer + ".left"), r = try file.tensor(layer + ".right")
                guard l.rank == 2, r.rank == 2, l.shape[1] == r.shape[0], l.shape[1] == rank, r.shape[1] % 9 == 0 else {
                    throw FormatError(name, "generator delta: factors of '\(layer)' have shapes \(l.shape), \(r.shape)")
                }
                // Weights are 3×3 convolutions: [O, I·9] → [O, I, 3, 3].
                diffs[layer] = .lowRank(left: l, right: r, shape: [l.shape[0], r.shape[1] / 9, 3, 3])
            } else {
                throw FormatError(name, "generator delta: '\(layer)' is listed but not stored")
            }
        }
        return GeneratorDelta(baseFingerprint: base, differences: diffs, rank: rank, halfPrecision: file.metadata["dtype"] == "f16")
    }

    /// Reads `path`.
    public static func read(path: String) throws -> GeneratorDelta {
        try decode(file: try SafeTensorsFile(path: path), name: path)
    }
}

/// The best rank-`rank` approximation of `d` `[O, I, k, k]` viewed as `[O, I·k·k]`: the top
/// eigenvectors U of D·Dᵀ (`[O, O]`, Double) give left = U `[O, r]`, right = Uᵀ·D `[r, I·k·k]`.
func lowRankDifference(_ d: Tensor, rank: Int) throws -> GeneratorDelta.Difference {
    let o = d.shape[0], k = d.count / o
    let r = min(rank, o, k)
    var gram = [Double](repeating: 0, count: o * o)
    let dd = d.storage.map(Double.init)
    for a in 0..<o {
        for b in a..<o {
            var s: Double = 0
            for c in 0..<k { s += dd[a * k + c] * dd[b * k + c] }
            gram[a * o + b] = s; gram[b * o + a] = s
        }
    }
    let (_, vectors) = try symmetricEigen(gram, n: o)
    var left = Tensor.zeros([o, rank]), right = Tensor.zeros([rank, k])
    for q in 0..<r {
        let u = vectors[q]
        for a in 0..<o { left.storage[a * rank + q] = Float(u[a]) }
        for c in 0..<k {
            var s: Double = 0
            for a in 0..<o { s += u[a] * dd[a * k + c] }
            right.storage[q * k + c] = Float(s)
        }
    }
    return .lowRank(left: left, right: right, shape: d.shape)
}
