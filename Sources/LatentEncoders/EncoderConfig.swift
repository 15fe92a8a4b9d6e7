import Foundation
import LatentFormats

/// The architecture of a CPU-sized e4e-style encoder (Tov et al. 2021, "Designing an Encoder for
/// StyleGAN Image Manipulation"): a convolutional pyramid whose coarsest features give one code
/// `w0` and whose coarse / middle / fine levels give per-layer offsets `Δi`, so
/// `codes[:, i] = base[:, i] + w0 + Δi` (`Δ0 = 0`; base = `latent_avg` for a plain encoder, the
/// current codes for a ReStyle-style iterative one). Stored as JSON in the file's `config` metadata.
///
/// Pyramid (R = `resolution`, ch(r) = min(baseChannels · R / r, maxChannels)):
/// - `stem`: 3×3 conv, `inputChannels` → ch(R), bias + leaky ReLU (α 0.2, gain √2);
/// - for r = R/2, R/4, …, 4: `b{r}.down` 3×3 conv stride 2 ch(2r) → ch(r), then `convsPerLevel`
///   3×3 convs `b{r}.conv{k}` ch(r) → ch(r), each with bias + leaky ReLU.
/// - heads: a level's last features average-pooled to 4×4, flattened, one linear layer to `wDim`:
///   `head.w0` reads the 4×4 level; `head.delta{i}` reads the level of style i's group (e4e's
///   coarse / middle / fine split of the styles: 3 / 4 / rest of 18, scaled to `numWs`), coarse
///   = 4×4, middle = 8×8, fine = 16×16 (clamped to R).
public struct EncoderArchitecture: Codable, Sendable, Equatable {
    /// Input side R (the generator's resolution; a power of two ≥ 4).
    public var resolution: Int
    /// 3 (RGB) or 6 (RGB + the current reconstruction, iterative mode).
    public var inputChannels: Int
    /// Channels at full resolution; doubled per halving up to `maxChannels`.
    public var baseChannels: Int
    public var maxChannels: Int
    /// Stride-1 convs after each stride-2 conv.
    public var convsPerLevel: Int
    /// Styles (`numWs`) and their width (`wDim`) of the generator the encoder serves.
    public var numWs: Int
    public var wDim: Int

    public init(resolution: Int, inputChannels: Int = 3, baseChannels: Int = 32, maxChannels: Int = 128,
                convsPerLevel: Int = 1, numWs: Int, wDim: Int) {
        self.resolution = resolution; self.inputChannels = inputChannels; self.baseChannels = baseChannels
        self.maxChannels = maxChannels; self.convsPerLevel = convsPerLevel; self.numWs = numWs; self.wDim = wDim
    }

    /// Throws `EncoderError` for sizes the pyramid cannot be built from.
    public func validate() throws {
        guard resolution >= 4, resolution & (resolution - 1) == 0 else {
            throw EncoderError("resolution must be a power of two ≥ 4, got \(resolution)")
        }
        // 3: images; 6: images + reconstructions (ReStyle); other counts: guidance maps (one-hot
        // segmentation classes, a 1-channel sketch).
        guard (1...256).contains(inputChannels) else {
            throw EncoderError("inputChannels must be in 1...256 (3 images, 6 images + reconstructions, or a guidance map's channels), got \(inputChannels)")
        }
        guard baseChannels >= 1, maxChannels >= baseChannels, convsPerLevel >= 0, convsPerLevel <= 8 else {
            throw EncoderError("need 1 ≤ baseChannels ≤ maxChannels and 0 ≤ convsPerLevel ≤ 8, got \(baseChannels), \(maxChannels), \(convsPerLevel)")
        }
        guard numWs >= 1, numWs <= 64, wDim >= 1, wDim <= 4096 else {
            throw EncoderError("numWs must be in 1...64 and wDim in 1...4096, got \(numWs), \(wDim)")
        }
    }

    /// Channels of the level at side `r`.
    public func channels(at r: Int) -> Int { min(baseChannels * (resolution / r), maxChannels) }

    /// Sides of the pyramid levels, finest first: R, R/2, …, 4.
    public var levels: [Int] {
        var out = [Int](), r = resolution
        while r >= 4 { out.append(r); r /= 2 }
        return out
    }

    /// The level (its side) whose features style `i` reads: e4e's coarse (first 3 of 18), middle
    /// (next 4) and fine (rest) groups, scaled to `numWs`, read the 4×4, 8×8 and 16×16 levels.
    public func headLevel(style i: Int) -> Int {
        let coarseEnd = max(1, Int((Double(numWs) * 3 / 18).rounded()))
        let middleEnd = max(coarseEnd, Int((Double(numWs) * 7 / 18).rounded()))
        let side = i < coarseEnd ? 4 : (i < middleEnd ? 8 : 16)
        return min(side, resolution)
    }

    /// Every parameter with its shape, in a fixed order (the order of the file and of Adam).
    public var parameterShapes: [(name: String, shape: [Int])] {
        var out = [(String, [Int])]()
        func conv(_ name: String, _ ci: Int, _ co: Int) {
            out.append((name + ".weight", [co, ci, 3, 3]))
            out.append((name + ".bias", [co]))
        }
        conv("stem", inputChannels, channels(at: resolution))
        for r in levels.dropFirst() {
            conv("b\(r).down", channels(at: 2 * r), channels(at: r))
            for k in 0..<convsPerLevel { conv("b\(r).conv\(k)", channels(at: r), channels(at: r)) }
        }
        for (name, side) in [("head.w0", 4)] + (1..<numWs).map({ ("head.delta\($0)", headLevel(style: $0)) }) {
            out.append((name + ".weight", [wDim, channels(at: side) * 16]))
            out.append((name + ".bias", [wDim]))
        }
        return out
    }

    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) } }
}

/// What the encoder file's `config` metadata holds: the architecture and what the encoder was
/// trained for.
public struct EncoderFileConfig: Codable, Sendable, Equatable {
    /// Always "latentlab-e4e" (tells this file from converted official pSp/e4e encoders).
    public var format: String
    public var architecture: EncoderArchitecture
    /// `StyleGAN2Generator.fingerprint` of the generator it was trained with.
    public var generatorFingerprint: String
    public var numWs: Int
    public var wDim: Int
    /// Trained as a ReStyle-style residual encoder (6-channel input).
    public var iterative: Bool
    /// Iterations used in training (1 when not iterative).
    public var trainingIterations: Int
    /// Active deltas (e4e progressive stage): `Δ1 … Δstage` are used; `numWs − 1` = all.
    public var stage: Int
    /// Training steps taken.
    public var steps: Int
    /// A guidance encoder's input (`seg`: one-hot class maps; `sketch`: boundary maps); nil for
    /// an image encoder. Optional, so files written before guidance existed still load.
    public var guidance: GuidanceKind?
    /// Segmentation classes (channels of the one-hot input) of a `seg` encoder.
    public var classes: Int?
    /// ws rows a guidance encoder was trained with the photos' own codes in (`--given-rows`: what
    /// the map leaves open, e.g. the colours); its own outputs there are only their regressed
    /// mean, so `translateMaps` renders those rows from a sampled w instead. Nil = none.
    public var givenRows: [Int]?

    public static let formatName = "latentlab-e4e"

    /// The input channels this config implies.
    var expectedInputChannels: Int {
        switch guidance {
        case .seg?: return classes ?? 0
        case .sketch?: return 1
        case nil: return iterative ? 6 : 3
        }
    }

    public init(architecture: EncoderArchitecture, generatorFingerprint: String, iterative: Bool,
                trainingIterations: Int, stage: Int, steps: Int, guidance: GuidanceKind? = nil, classes: Int? = nil) {
        format = Self.formatName
        self.guidance = guidance; self.classes = classes
        self.architecture = architecture; self.generatorFingerprint = generatorFingerprint
        numWs = architecture.numWs; wDim = architecture.wDim
        self.iterative = iterative; self.trainingIterations = trainingIterations; self.stage = stage; self.steps = steps
    }

    var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(data: try! e.encode(self), encoding: .utf8)!
    }

    init(json: String, source: String) throws {
        do { self = try JSONDecoder().decode(Self.self, from: Data(json.utf8)) }
        catch { throw EncoderError("\(source): 'config' metadata is not an encoder config (\(error))") }
        guard format == Self.formatName else { throw EncoderError("\(source): config format '\(format)' is not \(Self.formatName)") }
        do { try architecture.validate() } catch let e as EncoderError { throw EncoderError("\(source): \(e.description)") }
        guard numWs == architecture.numWs, wDim == architecture.wDim, stage >= 0, stage < numWs,
              (givenRows ?? []).allSatisfy({ (0..<numWs).contains($0) }),
              architecture.inputChannels == expectedInputChannels, trainingIterations >= 1, guidance == nil || !iterative else {
            throw EncoderError("\(source): inconsistent encoder config (numWs/wDim/stage/inputChannels)")
        }
    }
}

/// A bad encoder file, configuration or training option: one line naming the culprit.
public struct EncoderError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ message: String) { description = message }
}
