import Foundation
import XCTest
import LatentTensor
import LatentFormats
import LatentModels
import _TestSupport
import LatentCLIP

/// The CLIP towers: fast float32 path vs the Double reference, backward passes vs central
/// finite differences of the reference, loading rules, and the golden outputs of OpenAI's code.
final class CLIPModelTests: XCTestCase {
    static let tinyConfig = tinyCLIPConfig
    static func tinyWeights(seed: UInt64 = 7) -> [String: Tensor] { tinyCLIPWeights(seed: seed) }

    static func tinyModel() throws -> CLIPModel { try CLIPModel(config: tinyConfig, weights: tinyWeights()) }

    // MARK: Fast path vs reference

    func testImageTowerMatchesReference() throws {
        let model = try Self.tinyModel()
        var rng = TestRNG(seed: 11)
        let images = rng.tensor([3, 3, 8, 8], -2, 2)
        let fast = try model.encodeImage(images)
        let ref = Tensor(shape: [3, 5], data: model.encodeImageReference(images: images.doubles, batch: 3).map(Float.init))
        XCTAssertEqual(fast.shape, [3, 5])
        assertClose(fast, ref, atol: 2e-5, rtol: 1e-5)
    }

    func testTextTowerMatchesReference() throws {
        let model = try Self.tinyModel()
        // End-of-text (the highest id) at positions 5, 2 and 3: the fast path cuts at 6 and at 4.
        let tokens: [[Int32]] = [[21, 3, 7, 9, 4, 22], [21, 5, 22, 0, 0, 0], [21, 17, 1, 22, 0, 0]]
        for batch in [tokens, Array(tokens.dropFirst())] {
            let fast = try model.encodeText(batch)
            let emb = try model.tokenEmbeddings(batch)
            let eot = CLIPModel.eotIndices(batch)
            let ref = model.encodeTextReference(embeddings: emb.doubles, batch: batch.count, length: 6, eotIndices: eot)
            assertClose(fast, Tensor(shape: [batch.count, 5], data: ref.map(Float.init)), atol: 2e-5, rtol: 1e-5)
        }
        XCTAssertEqual(CLIPModel.eotIndices(tokens), [5, 2, 3])
    }

    // MARK: Backward vs finite differences (Double reference)

    func testImageBackwardMatchesFiniteDifferences() throws {
        let model = try Self.tinyModel()
        var rng = TestRNG(seed: 12)
        let images = rng.tensor([2, 3, 8, 8], -1.5, 1.5)
        let weight = rng.tensor([2, 5])   // loss = Σ features ⊙ weight
        let (features, tape) = try model.encodeImageWithGradient(images: images)
        assertClose(features, try model.encodeImage(images), atol: 0, rtol: 0)
        let analytic = try model.backwardImage(tape: tape, gradFeatures: weight)
        let numeric = numericalGradient(images.doubles, h: 1e-5) { x in
            zip(model.encodeImageReference(images: x, batch: 2), weight.doubles).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let err = relativeError(analytic, Tensor(shape: images.shape, data: numeric.map(Float.init)))
        XCTAssertLessThan(err, 1e-3, "image gradient vs finite differences")
        print("CLIP image backward vs finite differences: relative error \(err)")
    }

    func testImageBackwardThroughPreprocessMatchesFiniteDifferences() throws {
        let model = try Self.tinyModel()
        var rng = TestRNG(seed: 13)
        let images = rng.tensor([1, 3, 8, 8], -1, 1)
        let weight = rng.tensor([1, 5])
        let (features, tape) = try model.encodeImageWithGradient(imagesInMinusOneOne: images)
        assertClose(features, try model.encodeImage(try model.preprocess(imagesInMinusOneOne: images)), atol: 0, rtol: 0)
        let analytic = try model.backwardImage(tape: tape, gradFeatures: weight)
        let mean = CLIPModel.imageMean.map(Double.init), std = CLIPModel.imageStd.map(Double.init)
        let numeric = numericalGradient(images.doubles, h: 1e-5) { x in
            let normalised = x.enumerated().map { i, v in ((v + 1) / 2 - mean[i / 64 % 3]) / std[i / 64 % 3] }
            return zip(model.encodeImageReference(images: normalised, batch: 1), weight.doubles).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let err = relativeError(analytic, Tensor(shape: images.shape, data: numeric.map(Float.init)))
        XCTAssertLessThan(err, 1e-3, "gradient w.r.t. [-1, 1] images vs finite differences")
    }

    /// Resize (bicubic, shorter side to R) + centre crop + normalise, in Double through the
    /// resize weight matrices, then the reference tower.
    static func preprocessedReference(_ model: CLIPModel, _ x: [Double], h: Int, w: Int) -> [Double] {
        let r = model.config.imageResolution
        let (rh, rw) = h < w ? (r, Int(Double(r) * Double(w) / Double(h))) : (Int(Double(r) * Double(h) / Double(w)), r)
        let wy = ResizeWeights(inputSize: h, outputSize: rh, method: .bicubic).dense
        let wx = ResizeWeights(inputSize: w, outputSize: rw, method: .bicubic).dense
        let top = Int((Double(rh - r) / 2).rounded(.toNearestOrEven)), left = Int((Double(rw - r) / 2).rounded(.toNearestOrEven))
        var out = [Double](repeating: 0, count: 3 * r * r)
        for c in 0..<3 {
            for y in 0..<r {
                for xo in 0..<r {
                    var s = 0.0
                    for iy in 0..<h {
                        let a = rh == h ? (iy == y + top ? 1.0 : 0) : Double(wy[y + top, iy])
                        if a == 0 { continue }
                        for ix in 0..<w {
                            let b = rw == w ? (ix == xo + left ? 1.0 : 0) : Double(wx[xo + left, ix])
                            s += a * b * (x[(c * h + iy) * w + ix] + 1) / 2
                        }
                    }
                    out[(c * r + y) * r + xo] = (s - Double(CLIPModel.imageMean[c])) / Double(CLIPModel.imageStd[c])
                }
            }
        }
        return model.encodeImageReference(images: out, batch: 1)
    }

    func testPreprocessWithResizeAndCropMatchesReference() throws {
        let model = try Self.tinyModel()
        var rng = TestRNG(seed: 15)
        // Square (resize only) and 12×20 (resize to 8×13, crop offset round(2.5) = 2).
        for (h, w) in [(16, 16), (12, 20), (11, 8)] {
            let images = rng.tensor([1, 3, h, w], -1, 1)
            let weight = rng.tensor([1, 5])
            let (features, tape) = try model.encodeImageWithGradient(imagesInMinusOneOne: images)
            let ref = Self.preprocessedReference(model, images.doubles, h: h, w: w)
            assertClose(features, Tensor(shape: [1, 5], data: ref.map(Float.init)), atol: 2e-5, rtol: 1e-5, "\(h)×\(w)")
            let analytic = try model.backwardImage(tape: tape, gradFeatures: weight)
            XCTAssertEqual(analytic.shape, [1, 3, h, w])
            let numeric = numericalGradient(images.doubles, h: 1e-5) { x in
                zip(Self.preprocessedReference(model, x, h: h, w: w), weight.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            }
            let err = relativeError(analytic, Tensor(shape: images.shape, data: numeric.map(Float.init)))
            XCTAssertLessThan(err, 1e-3, "gradient through resize/crop \(h)×\(w)")
        }
    }

    func testTextBackwardMatchesFiniteDifferences() throws {
        let model = try Self.tinyModel()
        var rng = TestRNG(seed: 14)
        let embeddings = rng.tensor([2, 6, 8], -1, 1)
        let eot = [5, 3]
        let weight = rng.tensor([2, 5])
        let (features, tape) = try model.encodeTextWithGradient(embeddings: embeddings, eotIndices: eot)
        assertClose(features, try model.encodeText(embeddings: embeddings, eotIndices: eot), atol: 0, rtol: 0)
        let analytic = try model.backwardText(tape: tape, gradFeatures: weight)
        let numeric = numericalGradient(embeddings.doubles, h: 1e-5) { x in
            zip(model.encodeTextReference(embeddings: x, batch: 2, length: 6, eotIndices: eot), weight.doubles)
                .reduce(0) { $0 + $1.0 * $1.1 }
        }
        let numericT = Tensor(shape: embeddings.shape, data: numeric.map(Float.init))
        let err = relativeError(analytic, numericT)
        XCTAssertLessThan(err, 1e-3, "text gradient vs finite differences")
        print("CLIP text backward vs finite differences: relative error \(err)")
        // Causality: nothing after a row's end-of-text token reaches its feature.
        for t in 4..<6 { for i in 0..<8 { XCTAssertEqual(analytic[1, t, i], 0) } }
    }

    // MARK: Loading and argument checks

    func testLoadingRejectsBadWeights() throws {
        var w = Self.tinyWeights()
        w.removeValue(forKey: "visual.ln_pre.bias")
        XCTAssertThrowsError(try CLIPModel(config: Self.tinyConfig, weights: w, source: "tiny")) {
            XCTAssertTrue("\($0)".contains("visual.ln_pre.bias"), "\($0)")
        }
        w = Self.tinyWeights()
        w["text_projection"] = Tensor.zeros([8, 4])
        XCTAssertThrowsError(try CLIPModel(config: Self.tinyConfig, weights: w)) {
            XCTAssertTrue("\($0)".contains("text_projection"), "\($0)")
        }
        w = Self.tinyWeights()
        w["visual.extra"] = Tensor.zeros([1])
        XCTAssertThrowsError(try CLIPModel(config: Self.tinyConfig, weights: w)) {
            XCTAssertTrue("\($0)".contains("visual.extra"), "\($0)")
        }
        w = Self.tinyWeights()
        w["context_length"] = Tensor.scalar(6)   // present in OpenAI state dicts; ignored
        XCTAssertNoThrow(try CLIPModel(config: Self.tinyConfig, weights: w))
    }

    func testConfigInferenceFollowsBuildModel() throws {
        // build_model derives head counts as width / 64.
        let config = CLIPConfig(embedDim: 32, imageResolution: 48, visionLayers: 3, visionWidth: 128, visionPatchSize: 16,
                                contextLength: 77, vocabSize: 100, transformerWidth: 64, transformerLayers: 2)
        var shapes = config.parameterShapes
        shapes["input_resolution"] = []
        let inferred = try CLIPConfig.inferred(fromShapes: shapes)
        XCTAssertEqual(inferred, config)
        XCTAssertEqual(inferred.visionHeads, 2)
        XCTAssertEqual(inferred.transformerHeads, 1)
        XCTAssertEqual(inferred.gridSize, 3)
        // Widths below 64 give zero heads in build_model; that is reported, not built.
        XCTAssertThrowsError(try CLIPConfig.inferred(fromShapes: Self.tinyConfig.parameterShapes)) {
            XCTAssertTrue("\($0)".contains("heads"), "\($0)")
        }
        var resnet = shapes
        resnet.removeValue(forKey: "visual.proj")
        XCTAssertThrowsError(try CLIPConfig.inferred(fromShapes: resnet)) {
            XCTAssertTrue("\($0)".contains("ViT"), "\($0)")
        }
        let json = #"{"embed_dim": 32, "image_resolution": 48, "vision_layers": 3, "vision_width": 128, "vision_patch_size": 16, "context_length": 77, "vocab_size": 100, "transformer_width": 64, "transformer_heads": 1, "transformer_layers": 2}"#
        XCTAssertEqual(try CLIPConfig.fromJSON(json), config)
    }

    func testArgumentErrors() throws {
        let model = try Self.tinyModel()
        XCTAssertThrowsError(try model.encodeImage(Tensor.zeros([1, 3, 9, 9])))
        XCTAssertThrowsError(try model.preprocess(imagesInMinusOneOne: Tensor.zeros([1, 4, 8, 8])))
        XCTAssertThrowsError(try model.encodeText([[21, 23]]))                         // id past vocabulary
        XCTAssertThrowsError(try model.encodeText([[21, 22], [21]]))                    // ragged
        XCTAssertThrowsError(try model.encodeText([[Int32]](repeating: [1, 2, 3, 4, 5, 6, 7], count: 1)))  // > context
        XCTAssertThrowsError(try model.encodeText(embeddings: Tensor.zeros([1, 3, 8]), eotIndices: [3]))
        let (_, tape) = try model.encodeImageWithGradient(images: Tensor.zeros([1, 3, 8, 8]))
        XCTAssertThrowsError(try model.backwardImage(tape: tape, gradFeatures: Tensor.zeros([2, 5])))
    }

    // MARK: Golden outputs of OpenAI's clip/model.py

    func testGoldenFeaturesAndLogits() throws {
        guard let url = Bundle.module.url(forResource: "clip_golden", withExtension: "safetensors", subdirectory: "Resources") else {
            return XCTFail("clip_golden.safetensors missing from the test resources")
        }
        let golden = try SafeTensorsFile(path: url.path)
        let model = try CLIPModel.loadDefault()
        XCTAssertEqual(model.config, CLIPConfig(embedDim: 128, imageResolution: 64, visionLayers: 4, visionWidth: 192,
                                                visionPatchSize: 8, contextLength: 32, vocabSize: 49408,
                                                transformerWidth: 128, transformerLayers: 4))
        let texts = try JSONDecoder().decode([String].self, from: Data(golden.metadata["texts"]!.utf8))
        let tokens = try CLIPTokenizer.loadDefault().tokenize(texts, contextLength: model.config.contextLength)
        XCTAssertEqual(tokens.flatMap { $0.map(Float.init) }, try golden.tensor("tokens").storage)

        let imageFeatures = try model.encodeImage(try model.preprocess(imagesInMinusOneOne: try golden.tensor("images")))
        let textFeatures = try model.encodeText(tokens)
        let logits = try model.logits(image: imageFeatures, text: textFeatures)
        let imageErr = relativeError(imageFeatures, try golden.tensor("image_features"))
        let textErr = relativeError(textFeatures, try golden.tensor("text_features"))
        let logitErr = relativeError(logits, try golden.tensor("logits_per_image"))
        XCTAssertLessThan(imageErr, 1e-3, "image_features")
        XCTAssertLessThan(textErr, 1e-3, "text_features")
        XCTAssertLessThan(logitErr, 1e-3, "logits_per_image")
        print("CLIP golden relative errors: image \(imageErr), text \(textErr), logits \(logitErr)")
    }
}
