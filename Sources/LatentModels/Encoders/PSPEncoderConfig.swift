import Foundation
import LatentFormats

/// Architecture of a pSp (`GradualStyleEncoder`) or e4e (`Encoder4Editing`) encoder: the `opts`
/// of `models/psp.py` that change the network. Stored as JSON in the `config` metadata of an
/// encoder safetensors file, with the official option names:
///
/// ```json
/// {"encoder_type": "Encoder4Editing", "num_layers": 50, "mode": "ir_se", "stylegan_size": 1024,
///  "input_nc": 3, "start_from_latent_avg": true}
/// ```
///
/// `progressive_stage` (e4e only, default 18 = `ProgressiveStage.Inference`: every delta applied)
/// may be added. The style count is `2·log2(stylegan_size) − 2` for both encoders (e4e computes it
/// so; pSp's training options set `n_styles` the same way from `output_size`).
public struct PSPEncoderConfig: Sendable, Equatable {
    public enum EncoderType: String, Sendable, CaseIterable {
        /// pSp (eladrich/pixel2style2pixel): one GradualStyleBlock per style, no shared w.
        case gradualStyleEncoder = "GradualStyleEncoder"
        /// e4e (omertov/encoder4editing): w0 from the coarsest features plus per-style deltas.
        case encoder4Editing = "Encoder4Editing"
    }
    public enum Mode: String, Sendable, CaseIterable {
        /// `bottleneck_IR` units.
        case ir
        /// `bottleneck_IR_SE` units (squeeze-excitation at the end of each residual branch).
        case irSE = "ir_se"
    }

    public var encoderType: EncoderType
    /// 50, 100 or 152 (`get_blocks`); the official FPN taps fit only 50, see `IRBackbone`.
    public var numLayers: Int
    public var mode: Mode
    /// Output resolution of the generator the codes are for.
    public var styleganSize: Int
    /// Input channels (3 for RGB; pSp's `input_nc` for label maps / sketches).
    public var inputNc: Int
    /// Whether `psp.py` adds `latent_avg` to the codes.
    public var startFromLatentAvg: Bool
    /// e4e `ProgressiveStage` value: deltas 1 ..< min(stage + 1, styleCount) are applied.
    public var progressiveStage: Int

    /// `ProgressiveStage.Inference`.
    public static let inferenceStage = 18

    public init(encoderType: EncoderType, numLayers: Int = 50, mode: Mode = .irSE, styleganSize: Int,
                inputNc: Int = 3, startFromLatentAvg: Bool = true, progressiveStage: Int = PSPEncoderConfig.inferenceStage) {
        self.encoderType = encoderType; self.numLayers = numLayers; self.mode = mode
        self.styleganSize = styleganSize; self.inputNc = inputNc
        self.startFromLatentAvg = startFromLatentAvg; self.progressiveStage = progressiveStage
    }

    /// `2·log2(stylegan_size) − 2` (18 for 1024², 10 for 64²).
    public var styleCount: Int { 2 * Int(log2(Double(styleganSize))) - 2 }

    public func validate(source: String) throws {
        func fail(_ why: String) -> FormatError { FormatError(source, "encoder config: \(why)") }
        guard [50, 100, 152].contains(numLayers) else { throw fail("num_layers must be 50, 100 or 152 (got \(numLayers))") }
        guard styleganSize >= 4, styleganSize & (styleganSize - 1) == 0 else {
            throw fail("stylegan_size must be a power of two >= 4 (got \(styleganSize))")
        }
        guard inputNc >= 1 else { throw fail("input_nc must be positive (got \(inputNc))") }
        guard progressiveStage >= 0 else { throw fail("progressive_stage must be >= 0") }
    }

    /// The config as JSON with the official option names.
    public var json: String {
        "{\"encoder_type\": \"\(encoderType.rawValue)\", \"num_layers\": \(numLayers), \"mode\": \"\(mode.rawValue)\", "
            + "\"stylegan_size\": \(styleganSize), \"input_nc\": \(inputNc), "
            + "\"start_from_latent_avg\": \(startFromLatentAvg), \"progressive_stage\": \(progressiveStage)}"
    }

    /// Parses the `config` JSON. Unknown keys are refused (a typo must not silently pick a default).
    public init(json: String, source: String) throws {
        func fail(_ why: String) -> FormatError { FormatError(source, "encoder config: \(why)") }
        guard let data = json.data(using: .utf8), let obj = try? JSONSerialization.jsonObject(with: data),
              let d = obj as? [String: Any] else { throw fail("metadata 'config' is not a JSON object") }
        let known: Set<String> = ["encoder_type", "num_layers", "mode", "stylegan_size", "input_nc",
                                  "start_from_latent_avg", "progressive_stage"]
        if let extra = d.keys.sorted().first(where: { !known.contains($0) }) { throw fail("unknown key '\(extra)'") }
        func int(_ key: String, _ def: Int?) throws -> Int {
            guard let v = d[key], !(v is NSNull) else {
                if let def { return def }
                throw fail("missing '\(key)'")
            }
            guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) else {
                throw fail("'\(key)' must be an integer")
            }
            return i
        }
        guard let t = d["encoder_type"] as? String, let type = EncoderType(rawValue: t) else {
            throw fail("'encoder_type' must be one of \(EncoderType.allCases.map(\.rawValue).joined(separator: ", ")) (got \(d["encoder_type"].map { "\($0)" } ?? "nothing"))")
        }
        let modeName = d["mode"] as? String ?? "ir_se"
        guard let mode = Mode(rawValue: modeName) else { throw fail("'mode' must be 'ir' or 'ir_se' (got '\(modeName)')") }
        var start = true
        if let v = d["start_from_latent_avg"] {
            guard let b = v as? Bool else { throw fail("'start_from_latent_avg' must be true or false") }
            start = b
        }
        self.init(encoderType: type, numLayers: try int("num_layers", 50), mode: mode,
                  styleganSize: try int("stylegan_size", nil), inputNc: try int("input_nc", 3),
                  startFromLatentAvg: start, progressiveStage: try int("progressive_stage", PSPEncoderConfig.inferenceStage))
        try validate(source: source)
    }
}
