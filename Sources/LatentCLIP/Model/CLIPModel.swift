import Foundation
import LatentTensor
import LatentFormats

/// OpenAI CLIP with a ViT image tower (`clip/model.py` `CLIP`), computed in float32 on the CPU.
///
/// Weights use OpenAI's `state_dict()` names; fp16 checkpoints are converted to fp32 on load,
/// like `clip.load(..., device="cpu")`. Features are unnormalised (`encode_image`,
/// `encode_text`); `logits(image:text:)` is the normalised, scaled product of `CLIP.forward`.
public struct CLIPModel: Sendable {
    public let config: CLIPConfig
    /// The `logit_scale` parameter (a log scale; logits use `exp(logitScale)`).
    public let logitScale: Float
    let visual: VisionTransformer
    let text: TextTransformer

    /// CLIP's image normalisation (`clip.py` `_transform`), per RGB channel.
    public static let imageMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let imageStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Keys an OpenAI state dict may carry besides parameters (`build_model` deletes them).
    static let ignoredKeys: Set<String> = ["input_resolution", "context_length", "vocab_size"]

    /// Builds a model from named weights. Every parameter of `config.parameterShapes` must be
    /// present with that shape; any other key (except `input_resolution`, `context_length`,
    /// `vocab_size`) is an error. `source` names the weights in error messages.
    public init(config: CLIPConfig, weights: [String: Tensor], source: String = "weights") throws {
        try config.validate(source: source)
        let expected = config.parameterShapes
        for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
            guard let t = weights[name] else { throw CLIPError("\(source): missing CLIP parameter '\(name)' \(shape)") }
            guard t.shape == shape else {
                throw CLIPError("\(source): '\(name)' has shape \(t.shape), expected \(shape)")
            }
        }
        let unexpected = weights.keys.filter { expected[$0] == nil && !Self.ignoredKeys.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            throw CLIPError("\(source): unexpected tensors for this CLIP config: \(unexpected.prefix(5).joined(separator: ", "))\(unexpected.count > 5 ? ", …" : "")")
        }
        self.config = config
        self.logitScale = weights["logit_scale"]![flat: 0]
        self.visual = VisionTransformer(weights: weights, config: config)
        self.text = TextTransformer(weights: weights, config: config)
    }

    /// Loads a safetensors checkpoint with OpenAI key names, inferring the architecture from
    /// the tensor shapes as `build_model` does. If the file's metadata carries a `config` JSON
    /// it must agree with the shapes.
    public init(safetensorsPath path: String) throws {
        let file = try SafeTensorsFile(path: path)
        let config = try CLIPConfig.inferred(fromShapes: file.entries.mapValues(\.shape), source: path)
        if let json = file.metadata["config"] {
            let stated = try CLIPConfig.fromJSON(json, source: "\(path) metadata")
            guard stated == config else {
                throw CLIPError("\(path): metadata config \(stated) disagrees with the tensor shapes \(config)")
            }
        }
        var weights: [String: Tensor] = [:]
        for name in file.entries.keys where !Self.ignoredKeys.contains(name) { weights[name] = try file.tensor(name) }
        try self.init(config: config, weights: weights, source: path)
    }

    /// The CLIP trained on the default generator's scenes, shipped in this package
    /// (`Resources/clip-scenes64.safetensors`: 64×64 ViT, patch 8, width 192, 4 layers; text
    /// width 128, 4 layers, context 32; embed dim 128). Loaded once.
    public static func loadDefault() throws -> CLIPModel { try defaultModel.get() }

    private static let defaultModel: Result<CLIPModel, Error> = Result {
        guard let url = Bundle.module.url(forResource: "clip-scenes64", withExtension: "safetensors", subdirectory: "Resources") else {
            throw CLIPError("LatentCLIP bundle: Resources/clip-scenes64.safetensors is missing")
        }
        return try CLIPModel(safetensorsPath: url.path)
    }

    // MARK: Image tower

    /// `encode_image`: unnormalised image embeddings.
    /// - Parameter images: `[N, 3, R, R]`, already normalised (`preprocess`), `R = imageResolution`.
    /// - Returns: `[N, embedDim]`.
    public func encodeImage(_ images: Tensor) throws -> Tensor {
        try checkImages(images, "encodeImage")
        return visual.forward(images, keep: false).0
    }

    /// `encodeImage` keeping what `backwardImage` needs.
    /// - Parameter images: `[N, 3, R, R]`, normalised. - Returns: features `[N, embedDim]`, tape.
    public func encodeImageWithGradient(images: Tensor) throws -> (features: Tensor, tape: CLIPImageTape) {
        try checkImages(images, "encodeImageWithGradient")
        let (f, cache) = visual.forward(images, keep: true)
        return (f, CLIPImageTape(vision: cache!, preprocess: nil))
    }

    /// `preprocess` followed by `encodeImage`, differentiable end to end: `backwardImage` then
    /// returns the gradient w.r.t. these [-1, 1] images (e.g. a generator's output).
    /// - Parameter imagesInMinusOneOne: `[N, 3, H, W]` in [-1, 1]. - Returns: `[N, embedDim]`, tape.
    public func encodeImageWithGradient(imagesInMinusOneOne images: Tensor) throws -> (features: Tensor, tape: CLIPImageTape) {
        let (normalised, record) = try preprocessRecorded(images)
        let (f, cache) = visual.forward(normalised, keep: true)
        return (f, CLIPImageTape(vision: cache!, preprocess: record))
    }

    /// Gradient of a loss w.r.t. the images given to `encodeImageWithGradient` (normalised
    /// images, or [-1, 1] images when preprocessing was included), from its gradient w.r.t.
    /// the features.
    /// - Parameter gradFeatures: `[N, embedDim]`. - Returns: `[N, 3, R, R]` (or `[N, 3, H, W]`).
    public func backwardImage(tape: CLIPImageTape, gradFeatures: Tensor) throws -> Tensor {
        guard gradFeatures.shape == [tape.vision.batch, config.embedDim] else {
            throw CLIPError("backwardImage: gradFeatures has shape \(gradFeatures.shape), expected [\(tape.vision.batch), \(config.embedDim)]")
        }
        let g = visual.backward(gradFeatures, cache: tape.vision)
        guard let record = tape.preprocess else { return g }
        return preprocessBackward(g, record)
    }

    // MARK: Text tower

    /// `token_embedding(text)`: `[N][L]` ids -> `[N, L, transformerWidth]`.
    public func tokenEmbeddings(_ tokens: [[Int32]]) throws -> Tensor {
        try checkTokens(tokens, "tokenEmbeddings")
        return text.embed(tokens)
    }

    /// `encode_text`: unnormalised text embeddings, pooled at each row's highest token id
    /// (the end-of-text token). Rows may be shorter than `contextLength` (equivalent to
    /// padding them, as attention is causal).
    /// - Parameter tokens: `[N][L]` ids from `CLIPTokenizer.tokenize`. - Returns: `[N, embedDim]`.
    public func encodeText(_ tokens: [[Int32]]) throws -> Tensor {
        try checkTokens(tokens, "encodeText")
        return text.forward(embeddings: text.embed(tokens), eotIndices: Self.eotIndices(tokens), keep: false).0
    }

    /// Tokenizes with `tokenizer` at this model's context length, then `encodeText`.
    public func encodeText(_ texts: [String], tokenizer: CLIPTokenizer) throws -> Tensor {
        try encodeText(tokenizer.tokenize(texts, contextLength: config.contextLength))
    }

    /// `encodeText` keeping what `backwardText` needs (gradient w.r.t. the token embeddings).
    public func encodeTextWithGradient(tokens: [[Int32]]) throws -> (features: Tensor, tape: CLIPTextTape) {
        try checkTokens(tokens, "encodeTextWithGradient")
        return try encodeTextWithGradient(embeddings: text.embed(tokens), eotIndices: Self.eotIndices(tokens))
    }

    /// The text tower from token embeddings (e.g. learned prompt vectors).
    /// - Parameters:
    ///   - embeddings: `[N, L, transformerWidth]`, `L ≤ contextLength`, before positional embeddings.
    ///   - eotIndices: the position pooled in each row (`argmax` of the ids for real tokens).
    /// - Returns: `[N, embedDim]`.
    public func encodeText(embeddings: Tensor, eotIndices: [Int]) throws -> Tensor {
        try checkEmbeddings(embeddings, eotIndices)
        return text.forward(embeddings: embeddings, eotIndices: eotIndices, keep: false).0
    }

    public func encodeTextWithGradient(embeddings: Tensor, eotIndices: [Int]) throws -> (features: Tensor, tape: CLIPTextTape) {
        try checkEmbeddings(embeddings, eotIndices)
        let (f, cache) = text.forward(embeddings: embeddings, eotIndices: eotIndices, keep: true)
        return (f, CLIPTextTape(text: cache!))
    }

    /// Gradient w.r.t. the token embeddings `[N, L, transformerWidth]` from the gradient w.r.t.
    /// the text features `[N, embedDim]`.
    public func backwardText(tape: CLIPTextTape, gradFeatures: Tensor) throws -> Tensor {
        guard gradFeatures.shape == [tape.text.batch, config.embedDim] else {
            throw CLIPError("backwardText: gradFeatures has shape \(gradFeatures.shape), expected [\(tape.text.batch), \(config.embedDim)]")
        }
        return text.backward(gradFeatures, cache: tape.text)
    }

    // MARK: Similarity

    /// `logits_per_image` of `CLIP.forward`: `exp(logitScale) · (f_img/‖f_img‖)·(f_txt/‖f_txt‖)ᵀ`.
    /// - Parameters: `image` `[N, embedDim]`, `text` `[M, embedDim]` (unnormalised features).
    /// - Returns: `[N, M]` (transpose it for `logits_per_text`).
    public func logits(image: Tensor, text: Tensor) throws -> Tensor {
        guard image.rank == 2, text.rank == 2, image.shape[1] == config.embedDim, text.shape[1] == config.embedDim else {
            throw CLIPError("logits: features must be [N, \(config.embedDim)] and [M, \(config.embedDim)], got \(image.shape) and \(text.shape)")
        }
        return matmul(Self.l2Normalized(image), Self.l2Normalized(text), transB: true) * Float(Foundation.exp(Double(logitScale)))
    }

    /// Rows divided by their Euclidean norm (`x / x.norm(dim=-1, keepdim=True)`).
    public static func l2Normalized(_ x: Tensor) -> Tensor {
        let rows = x.shape[0], d = x.count / max(rows, 1)
        var out = x
        out.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {
                var s = 0.0
                for i in 0..<d { s += Double(p[r * d + i]) * Double(p[r * d + i]) }
                let inv = Float(1 / s.squareRoot())
                for i in 0..<d { p[r * d + i] *= inv }
            }
        }
        return out
    }

    /// `text.argmax(dim=-1)`: first position of each row's highest id.
    public static func eotIndices(_ tokens: [[Int32]]) -> [Int] {
        tokens.map { row in
            var best = 0
            for (i, t) in row.enumerated() where t > row[best] { best = i }
            return best
        }
    }

    // MARK: Argument checks

    func checkImages(_ images: Tensor, _ name: String) throws {
        let r = config.imageResolution
        guard images.rank == 4, images.shape[1] == 3, images.shape[2] == r, images.shape[3] == r, images.shape[0] > 0 else {
            throw CLIPError("\(name): images must be [N, 3, \(r), \(r)] (normalised, see preprocess), got \(images.shape)")
        }
    }

    func checkTokens(_ tokens: [[Int32]], _ name: String) throws {
        guard let l = tokens.first?.count, l > 0 else { throw CLIPError("\(name): no tokens") }
        guard l <= config.contextLength else {
            throw CLIPError("\(name): token rows have length \(l), more than context_length \(config.contextLength)")
        }
        for (i, row) in tokens.enumerated() {
            guard row.count == l else { throw CLIPError("\(name): token row \(i) has length \(row.count), row 0 has \(l)") }
            if let bad = row.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw CLIPError("\(name): token row \(i) holds id \(bad), outside 0..<\(config.vocabSize)")
            }
        }
    }

    func checkEmbeddings(_ e: Tensor, _ eot: [Int]) throws {
        guard e.rank == 3, e.shape[0] > 0, e.shape[1] > 0, e.shape[1] <= config.contextLength, e.shape[2] == config.transformerWidth else {
            throw CLIPError("encodeText(embeddings:): embeddings must be [N, L ≤ \(config.contextLength), \(config.transformerWidth)], got \(e.shape)")
        }
        guard eot.count == e.shape[0], eot.allSatisfy({ $0 >= 0 && $0 < e.shape[1] }) else {
            throw CLIPError("encodeText(embeddings:): need one eotIndex in 0..<\(e.shape[1]) per row, got \(eot)")
        }
    }
}

/// What `backwardImage` needs from `encodeImageWithGradient`.
public struct CLIPImageTape: Sendable {
    let vision: VisionTransformer.Cache
    let preprocess: CLIPPreprocessRecord?
    /// Batch size of the recorded forward pass.
    public var batch: Int { vision.batch }
}

/// What `backwardText` needs from `encodeTextWithGradient`.
public struct CLIPTextTape: Sendable {
    let text: TextTransformer.Cache
    public var batch: Int { text.batch }
}
