import Foundation
import XCTest
import LatentTensor
import LatentModels
import LatentEditing
import _TestSupport
import LatentCLIP

/// The full gradient chain of the text-guided edit (CLIP image backward through preprocessing and
/// augmentation views → StyleGAN2 synthesis backward → ws, plus the L2 and masked pixel terms)
/// against central finite differences of a double-precision reference of the whole objective.
final class TextGuidedEditGradientTests: XCTestCase {
    func testObjectiveAndGradientMatchReferenceWithAllTerms() throws {
        let fx = try TextEditFixture.make()
        var rng = TestRNG(seed: 41)
        // Directional loss + L2 + mask + two views (one shifted, mirrored and cropped to 24×24,
        // which CLIP's preprocessing resizes back to 32), at a point away from w₀ so every term
        // is active and the directional cosine is well defined.
        let from = rng.tensor([1, fx.clip.config.embedDim]), to = rng.tensor([1, fx.clip.config.embedDim])
        let mask = TextEditFixture.leftHalfMask(fx.G.resolution)
        let objective = try TextGuidedEditObjective(generator: fx.G, clip: fx.clip, initialWs: fx.w0, noise: nil,
                                                    target: .direction(from: from, to: to), lambdaL2: 0.05, mask: mask,
                                                    maskPixelWeight: 3)
        let views = [ImageView.identity,
                     ImageView(shift: ImageShift(dy: 2, dx: -3), flip: true, crop: ImageCrop(top: 3, left: 5, size: 24))]
        try checkGradient(fx, objective, views: views, reference: { ws in
            fx.referenceLoss(ws: ws, views: views, directional: (from.doubles, to.doubles), text: nil,
                             lambdaL2: 0.05, mask: mask.doubles, maskWeight: 3)
        })
    }

    func testObjectiveAndGradientMatchReferenceForTextTarget() throws {
        let fx = try TextEditFixture.make()
        var rng = TestRNG(seed: 42)
        let text = rng.tensor([1, fx.clip.config.embedDim])
        let objective = try TextGuidedEditObjective(generator: fx.G, clip: fx.clip, initialWs: fx.w0,
                                                    target: .text(text), lambdaL2: 0.01)
        try checkGradient(fx, objective, views: [.identity], reference: { ws in
            fx.referenceLoss(ws: ws, views: [.identity], directional: nil, text: text.doubles,
                             lambdaL2: 0.01, mask: nil, maskWeight: 0)
        })
    }

    /// Loss at a perturbed point vs the reference; gradient entries in several ws rows vs
    /// central differences (h = 1e-4 in Double).
    func checkGradient(_ fx: TextEditFixture, _ objective: TextGuidedEditObjective, views: [ImageView],
                       reference: ([Double]) -> Double, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = TestRNG(seed: 43)
        let ws = fx.w0 + rng.tensor(fx.w0.shape, -0.3, 0.3)
        let e = try objective.evaluate(ws: ws, views: views)
        let refLoss = reference(ws.doubles)
        XCTAssertEqual(Double(e.loss.total[0]), refLoss, accuracy: 2e-5 * max(1, abs(refLoss)), "objective value", file: file, line: line)
        let wDim = fx.G.wDim
        // Entries in the first, a middle and the last rows (coarse layout to colour).
        let indices = [0, 7, 3 * wDim + 5, 5 * wDim + 100, (fx.G.numWs - 1) * wDim + 17, (fx.G.numWs - 1) * wDim + 120]
        var analytic: [Float] = [], numeric: [Float] = []
        for q in indices {
            let h = 1e-4
            var plus = ws.doubles, minus = ws.doubles
            plus[q] += h; minus[q] -= h
            numeric.append(Float((reference(plus) - reference(minus)) / (2 * h)))
            analytic.append(e.gradWs.storage[q])
        }
        let err = relativeError(Tensor(shape: [indices.count], data: analytic), Tensor(shape: [indices.count], data: numeric))
        XCTAssertLessThan(err, 2e-3, "∂L/∂ws vs finite differences: analytic \(analytic), numeric \(numeric)", file: file, line: line)
        XCTAssertGreaterThan(numeric.map(abs).max()!, 1e-4, "the checked entries carry gradient", file: file, line: line)
    }
}

/// tiny32 generator (NVIDIA golden weights) + a tiny random CLIP at 32×32, and a double-precision
/// reference of the whole edit objective.
struct TextEditFixture {
    let G: StyleGAN2Generator
    let clip: CLIPModel
    let w0: Tensor
    let reference: ReferenceSynthesis
    /// The reference G(w₀), computed once.
    let referenceImage0: [Double]

    /// Tiny random CLIP seeing the generator's 32×32 images: patch 8, width 8, 2 heads, 2 layers.
    static let clipConfig = CLIPConfig(embedDim: 6, imageResolution: 32, visionLayers: 2, visionWidth: 8, visionPatchSize: 8,
                                       visionHeads: 2, contextLength: 6, vocabSize: 23, transformerWidth: 8,
                                       transformerHeads: 2, transformerLayers: 2)

    static func make() throws -> TextEditFixture {
        guard let url = Bundle.module.url(forResource: "tiny32_weights", withExtension: "safetensors", subdirectory: "Resources") else {
            throw EditingError("tiny32_weights.safetensors missing from the test resources")
        }
        let G = try StyleGAN2Generator(path: url.path)
        let clip = try CLIPModel(config: clipConfig, weights: randomCLIPWeights(clipConfig, seed: 5))
        let w0 = G.mapping(z: zFromSeed(3, zDim: G.zDim).reshaped([1, G.zDim]))
        let reference = ReferenceSynthesis(config: G.config, parameters: G.parameters)
        let noise = Dictionary(uniqueKeysWithValues: G.noiseLayerNames.map { ($0, G.constNoise[$0]!.doubles) })
        return TextEditFixture(G: G, clip: clip, w0: w0, reference: reference,
                               referenceImage0: reference.image(ws: w0.doubles, batch: 1, noise: noise))
    }

    static func randomCLIPWeights(_ config: CLIPConfig, seed: UInt64) -> [String: Tensor] {
        var rng = TestRNG(seed: seed)
        var weights: [String: Tensor] = [:]
        for (name, shape) in config.parameterShapes.sorted(by: { $0.key < $1.key }) {
            if name == "logit_scale" {
                weights[name] = Tensor(shape: [], data: [Float(Foundation.log(14.0))])
            } else if name.contains("ln_") && name.hasSuffix(".weight") {
                weights[name] = rng.tensor(shape, 0.6, 1.4)
            } else if name.hasSuffix("bias") {
                weights[name] = rng.tensor(shape, -0.2, 0.2)
            } else if name.hasSuffix("embedding") || name == "token_embedding.weight" {
                weights[name] = rng.tensor(shape, -0.8, 0.8)
            } else {
                let fanIn = name == "visual.proj" || name == "text_projection" ? shape[0] : shape.dropFirst().reduce(1, *)
                let a = 1.7 / Double(fanIn).squareRoot()
                weights[name] = rng.tensor(shape, -a, a)
            }
        }
        return weights
    }

    /// `[1, 1, R, R]`: 1 (free) on the left half, 0 on the right.
    static func leftHalfMask(_ r: Int) -> Tensor {
        Tensor(shape: [1, 1, r, r]) { i in i % r < r / 2 ? 1 : 0 }
    }

    /// CLIP features (Double) of a `[3, R, R]` image in [-1, 1] seen through `view` (shift with
    /// repeated edges, mirror, crop), resized back to R with bicubic weights, normalised, then
    /// the reference tower.
    func referenceFeatures(_ image: [Double], view: ImageView) -> [Double] {
        let r = G.resolution, c0 = view.crop ?? ImageCrop(top: 0, left: 0, size: r), s = c0.size
        var cropped = [Double](repeating: 0, count: 3 * s * s)
        for c in 0..<3 {
            for y in 0..<s {
                for x in 0..<s {
                    let vy = y + c0.top, vx0 = x + c0.left
                    let vx = view.flip ? r - 1 - vx0 : vx0
                    let sy = min(max(vy - view.shift.dy, 0), r - 1), sx = min(max(vx - view.shift.dx, 0), r - 1)
                    cropped[(c * s + y) * s + x] = image[(c * r + sy) * r + sx]
                }
            }
        }
        let w = s == r ? nil : ResizeWeights(inputSize: s, outputSize: r, method: .bicubic).dense
        var x = [Double](repeating: 0, count: 3 * r * r)
        for c in 0..<3 {
            for y in 0..<r {
                for xx in 0..<r {
                    var v = 0.0
                    if let w {
                        for iy in 0..<s { for ix in 0..<s { v += Double(w[y, iy]) * Double(w[xx, ix]) * cropped[(c * s + iy) * s + ix] } }
                    } else {
                        v = cropped[(c * r + y) * r + xx]
                    }
                    x[(c * r + y) * r + xx] = ((v + 1) / 2 - Double(CLIPModel.imageMean[c])) / Double(CLIPModel.imageStd[c])
                }
            }
        }
        return clip.encodeImageReference(images: x, batch: 1)
    }

    func referenceImage(_ ws: [Double]) -> [Double] {
        let noise = Dictionary(uniqueKeysWithValues: G.noiseLayerNames.map { ($0, G.constNoise[$0]!.doubles) })
        return reference.image(ws: ws, batch: 1, noise: noise)
    }

    /// The objective of `TextGuidedEditObjective` for one latent, in Double from the formulas.
    func referenceLoss(ws: [Double], views: [ImageView], directional: ([Double], [Double])?, text: [Double]?,
                       lambdaL2: Double, mask: [Double]?, maskWeight: Double) -> Double {
        let img = referenceImage(ws), img0 = referenceImage0
        let t = directional.map { d in zip(d.1, d.0).map { $0 - $1 } } ?? text!
        let tn = t.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var clipLoss = 0.0
        let eps = directional == nil ? 0 : 1e-4 * referenceFeatures(img0, view: .identity).reduce(0) { $0 + $1 * $1 }.squareRoot()
        for v in views {
            var a = referenceFeatures(img, view: v)
            if directional != nil { a = zip(a, referenceFeatures(img0, view: v)).map { $0 - $1 } }
            let s = (a.reduce(0) { $0 + $1 * $1 } + eps * eps).squareRoot()
            clipLoss += (1 - zip(a, t).reduce(0) { $0 + $1.0 * $1.1 } / (s * tn)) / Double(views.count)
        }
        let l2 = lambdaL2 * zip(ws, w0.doubles).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        var pixel = 0.0
        if let mask {
            let hw = mask.count
            for q in 0..<img.count { pixel += (1 - mask[q % hw]) * (img[q] - img0[q]) * (img[q] - img0[q]) }
            pixel *= maskWeight / Double(img.count)
        }
        return clipLoss + l2 + pixel
    }
}
