import Foundation

/// Architecture of an OpenAI CLIP model with a ViT image tower, in the keyword names of
/// `clip/model.py`'s `CLIP.__init__` (camelCased). Head counts are derived as the reference
/// derives them (`width / 64`) unless given explicitly (tiny test models use fewer channels
/// per head).
public struct CLIPConfig: Sendable, Equatable, Codable {
    public var embedDim: Int
    public var imageResolution: Int
    public var visionLayers: Int
    public var visionWidth: Int
    public var visionPatchSize: Int
    public var visionHeads: Int
    public var contextLength: Int
    public var vocabSize: Int
    public var transformerWidth: Int
    public var transformerHeads: Int
    public var transformerLayers: Int

    public init(embedDim: Int, imageResolution: Int, visionLayers: Int, visionWidth: Int, visionPatchSize: Int,
                visionHeads: Int? = nil, contextLength: Int, vocabSize: Int, transformerWidth: Int,
                transformerHeads: Int? = nil, transformerLayers: Int) {
        self.embedDim = embedDim
        self.imageResolution = imageResolution
        self.visionLayers = visionLayers
        self.visionWidth = visionWidth
        self.visionPatchSize = visionPatchSize
        self.visionHeads = visionHeads ?? visionWidth / 64
        self.contextLength = contextLength
        self.vocabSize = vocabSize
        self.transformerWidth = transformerWidth
        self.transformerHeads = transformerHeads ?? transformerWidth / 64
        self.transformerLayers = transformerLayers
    }

    /// Patches per side: `imageResolution / visionPatchSize`.
    public var gridSize: Int { imageResolution / visionPatchSize }

    /// Checks that the sizes describe a buildable model; `source` names the origin in errors.
    public func validate(source: String = "CLIPConfig") throws {
        let positive: [(String, Int)] = [("embed_dim", embedDim), ("image_resolution", imageResolution),
            ("vision_layers", visionLayers), ("vision_width", visionWidth), ("vision_patch_size", visionPatchSize),
            ("vision_heads", visionHeads), ("context_length", contextLength), ("vocab_size", vocabSize),
            ("transformer_width", transformerWidth), ("transformer_heads", transformerHeads),
            ("transformer_layers", transformerLayers)]
        for (name, v) in positive where v <= 0 {
            throw CLIPError("\(source): \(name) must be positive, got \(v)")
        }
        guard imageResolution % visionPatchSize == 0 else {
            throw CLIPError("\(source): image_resolution \(imageResolution) is not a multiple of vision_patch_size \(visionPatchSize)")
        }
        guard visionWidth % visionHeads == 0 else {
            throw CLIPError("\(source): vision_width \(visionWidth) is not divisible by \(visionHeads) heads")
        }
        guard transformerWidth % transformerHeads == 0 else {
            throw CLIPError("\(source): transformer_width \(transformerWidth) is not divisible by \(transformerHeads) heads")
        }
    }

    /// The sizes `build_model` reads from a ViT state dict: `visual.conv1.weight` (width, patch),
    /// the count of `visual.*.attn.in_proj_weight` (layers), `visual.positional_embedding` (grid),
    /// `text_projection` (embed dim), `positional_embedding` (context), `token_embedding.weight`
    /// (vocabulary), `ln_final.weight` (text width) and the distinct `transformer.resblocks.<i>`.
    /// - Parameter shapes: tensor name -> shape, e.g. `SafeTensorsFile.entries`.
    public static func inferred(fromShapes shapes: [String: [Int]], source: String = "state dict") throws -> CLIPConfig {
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let s = shapes[key] else {
                if key == "visual.proj" || key == "visual.conv1.weight" {
                    throw CLIPError("\(source): no '\(key)': only ViT image towers are supported (ModifiedResNet checkpoints are not)")
                }
                throw CLIPError("\(source): missing tensor '\(key)' needed to infer the CLIP architecture")
            }
            guard s.count == rank else { throw CLIPError("\(source): '\(key)' has shape \(s), expected rank \(rank)") }
            return s
        }
        let conv = try shape("visual.conv1.weight", rank: 4)
        _ = try shape("visual.proj", rank: 2)
        let visionLayers = shapes.keys.filter { $0.hasPrefix("visual.") && $0.hasSuffix(".attn.in_proj_weight") }.count
        let pos = try shape("visual.positional_embedding", rank: 2)
        let grid = Int((Double(pos[0] - 1)).squareRoot().rounded())
        guard grid * grid + 1 == pos[0] else {
            throw CLIPError("\(source): visual.positional_embedding has \(pos[0]) rows, not grid² + 1")
        }
        let textProjection = try shape("text_projection", rank: 2)
        let context = try shape("positional_embedding", rank: 2)
        let vocab = try shape("token_embedding.weight", rank: 2)
        let width = try shape("ln_final.weight", rank: 1)
        let layerIndices = Set(shapes.keys.compactMap { key -> Substring? in
            guard key.hasPrefix("transformer.resblocks.") else { return nil }
            return key.split(separator: ".").dropFirst(2).first
        })
        let config = CLIPConfig(embedDim: textProjection[1], imageResolution: conv[3] * grid,
                                visionLayers: visionLayers, visionWidth: conv[0], visionPatchSize: conv[3],
                                contextLength: context[0], vocabSize: vocab[0], transformerWidth: width[0],
                                transformerLayers: layerIndices.count)
        try config.validate(source: source)
        return config
    }

    /// Parses the `config` JSON that our safetensors files carry (`CLIP(**config)` keyword names).
    public static func fromJSON(_ json: String, source: String = "config") throws -> CLIPConfig {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw CLIPError("\(source): config metadata is not a JSON object")
        }
        func int(_ key: String) throws -> Int {
            guard let v = obj[key] as? Int else { throw CLIPError("\(source): config has no integer '\(key)'") }
            return v
        }
        if obj["vision_layers"] is [Any] {
            throw CLIPError("\(source): vision_layers is a list: ModifiedResNet image towers are not supported")
        }
        let config = CLIPConfig(embedDim: try int("embed_dim"), imageResolution: try int("image_resolution"),
                                visionLayers: try int("vision_layers"), visionWidth: try int("vision_width"),
                                visionPatchSize: try int("vision_patch_size"),
                                contextLength: try int("context_length"), vocabSize: try int("vocab_size"),
                                transformerWidth: try int("transformer_width"),
                                transformerHeads: try int("transformer_heads"), transformerLayers: try int("transformer_layers"))
        try config.validate(source: source)
        return config
    }

    /// Every parameter of the model with its shape, under OpenAI's `state_dict()` names.
    public var parameterShapes: [String: [Int]] {
        var s: [String: [Int]] = [
            "visual.conv1.weight": [visionWidth, 3, visionPatchSize, visionPatchSize],
            "visual.class_embedding": [visionWidth],
            "visual.positional_embedding": [gridSize * gridSize + 1, visionWidth],
            "visual.ln_pre.weight": [visionWidth], "visual.ln_pre.bias": [visionWidth],
            "visual.ln_post.weight": [visionWidth], "visual.ln_post.bias": [visionWidth],
            "visual.proj": [visionWidth, embedDim],
            "token_embedding.weight": [vocabSize, transformerWidth],
            "positional_embedding": [contextLength, transformerWidth],
            "ln_final.weight": [transformerWidth], "ln_final.bias": [transformerWidth],
            "text_projection": [transformerWidth, embedDim],
            "logit_scale": [],
        ]
        func block(_ prefix: String, _ w: Int) {
            s[prefix + "attn.in_proj_weight"] = [3 * w, w]
            s[prefix + "attn.in_proj_bias"] = [3 * w]
            s[prefix + "attn.out_proj.weight"] = [w, w]
            s[prefix + "attn.out_proj.bias"] = [w]
            s[prefix + "ln_1.weight"] = [w]; s[prefix + "ln_1.bias"] = [w]
            s[prefix + "ln_2.weight"] = [w]; s[prefix + "ln_2.bias"] = [w]
            s[prefix + "mlp.c_fc.weight"] = [4 * w, w]; s[prefix + "mlp.c_fc.bias"] = [4 * w]
            s[prefix + "mlp.c_proj.weight"] = [w, 4 * w]; s[prefix + "mlp.c_proj.bias"] = [w]
        }
        for i in 0..<visionLayers { block("visual.transformer.resblocks.\(i).", visionWidth) }
        for i in 0..<transformerLayers { block("transformer.resblocks.\(i).", transformerWidth) }
        return s
    }
}
