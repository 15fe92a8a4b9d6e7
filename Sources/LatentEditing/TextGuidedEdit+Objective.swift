import Foundation
import LatentTensor
import LatentModels
import LatentCLIP

/// The objective of a text-guided edit and its gradient w.r.t. ws:
///
///     L(w) = clipLoss(G(w)) + λ Σ (w − w₀)² + β · mean((1 − M) ⊙ (G(w) − G(w₀))²)
///
/// with `clipLoss` from `TextGuidedEditTarget` (averaged over the views given to `evaluate`), the
/// mask term only when a mask is set. The gradient chain is CLIP's image backward (through its
/// preprocessing) → the views' adjoints → the generator's `synthesisBackward` → ws. Noise maps
/// are held fixed. Each latent of the batch has its own loss; the batch is one forward/backward.
public struct TextGuidedEditObjective: Sendable {
    public let generator: StyleGAN2Generator
    public let clip: CLIPModel
    /// w₀ `[N, numWs, wDim]`.
    public let initialWs: Tensor
    /// Fixed noise maps (nil = the generator's `noise_const`).
    public let noise: NoiseMaps?
    public let lambdaL2: Float
    public let mask: Tensor?
    public let maskPixelWeight: Float
    /// G(w₀) `[N, C, R, R]` and its CLIP features `[N, embedDim]`.
    public let initialImage: Tensor
    public let initialFeatures: Tensor
    /// Unit target directions, one row per latent `[N, embedDim]`.
    let targetUnit: [[Double]]
    let directional: Bool
    /// Per latent: the directional loss uses `‖e‖ ≈ sqrt(‖e‖² + ε²)` so that it is smooth at
    /// `w = w₀`, where `e = CLIP(G(w)) − CLIP(G(w₀))` vanishes (ε = 1e-4 · ‖CLIP(G(w₀))‖).
    let epsilon: [Double]

    /// - Parameters:
    ///   - initialWs: w₀ `[N, numWs, wDim]`.
    ///   - noise: maps `[H, W]` or `[N, H, W]` by layer name; nil = const noise.
    ///   - mask: `[N or 1, 1, R, R]` in [0, 1], 1 where the image may change.
    public init(generator: StyleGAN2Generator, clip: CLIPModel, initialWs: Tensor, noise: NoiseMaps? = nil,
                target: TextGuidedEditTarget, lambdaL2: Float = 0.008, mask: Tensor? = nil,
                maskPixelWeight: Float = 10) throws {
        let n = initialWs.shape.first ?? 0, numWs = generator.numWs, wDim = generator.wDim, r = generator.resolution
        guard initialWs.rank == 3, n > 0, initialWs.shape[1] == numWs, initialWs.shape[2] == wDim else {
            throw EditingError("text-guided edit: ws must be [N, \(numWs), \(wDim)], got \(initialWs.shape)")
        }
        guard initialWs.isFinite else { throw EditingError("text-guided edit: ws contain NaN or infinity") }
        guard generator.imgChannels == 3 else {
            throw EditingError("text-guided edit: CLIP needs RGB images, the generator makes \(generator.imgChannels) channels")
        }
        guard lambdaL2 >= 0, lambdaL2.isFinite else { throw EditingError("text-guided edit: lambdaL2 must be ≥ 0, got \(lambdaL2)") }
        guard maskPixelWeight >= 0, maskPixelWeight.isFinite else {
            throw EditingError("text-guided edit: maskPixelWeight must be ≥ 0, got \(maskPixelWeight)")
        }
        if let noise { try Self.checkNoise(noise, generator: generator, batch: n) }
        if let mask {
            guard mask.rank == 4, mask.shape[0] == 1 || mask.shape[0] == n, mask.shape[1] == 1, mask.shape[2] == r, mask.shape[3] == r else {
                throw EditingError("text-guided edit: mask must be [\(n) or 1, 1, \(r), \(r)], got \(mask.shape)")
            }
            guard mask.storage.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
                throw EditingError("text-guided edit: mask values must lie in [0, 1]")
            }
        }
        let d = clip.config.embedDim
        func rows(_ t: Tensor, _ name: String) throws -> [[Double]] {
            guard t.rank == 2, t.shape[0] == 1 || t.shape[0] == n, t.shape[1] == d else {
                throw EditingError("text-guided edit: \(name) features must be [1 or \(n), \(d)], got \(t.shape)")
            }
            guard t.isFinite else { throw EditingError("text-guided edit: \(name) features contain NaN or infinity") }
            return (0..<n).map { i in let row = t.shape[0] == 1 ? 0 : i; return (0..<d).map { Double(t[row, $0]) } }
        }
        let raw: [[Double]]
        switch target {
        case .text(let t):
            raw = try rows(t, "target text")
            directional = false
        case .direction(let from, let to):
            let a = try rows(from, "source text"), b = try rows(to, "target text")
            raw = zip(a, b).map { zip($0, $1).map { $1 - $0 } }
            directional = true
        }
        targetUnit = try raw.map { v in
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else {
                throw EditingError("text-guided edit: the target direction is zero (identical source and target texts?)")
            }
            return v.map { $0 / norm }
        }
        self.generator = generator
        self.clip = clip
        self.initialWs = initialWs
        self.noise = noise
        self.lambdaL2 = lambdaL2
        self.mask = mask
        self.maskPixelWeight = maskPixelWeight
        initialImage = generator.synthesis(ws: initialWs, noise: noise)
        initialFeatures = try clip.encodeImage(try clip.preprocess(imagesInMinusOneOne: initialImage))
        let f0 = initialFeatures, isDirectional = directional
        epsilon = (0..<n).map { i in isDirectional ? 1e-4 * (0..<d).reduce(0.0) { $0 + Double(f0[i, $1]) * Double(f0[i, $1]) }.squareRoot() : 0 }
    }

    /// The loss terms, gradient and image at `ws`.
    public struct Evaluation: Sendable {
        public var loss: TextGuidedEditLoss
        /// `∂L/∂ws` `[N, numWs, wDim]` for every row (the optimiser moves only its layer range).
        public var gradWs: Tensor
        /// `G(ws)` `[N, C, R, R]`.
        public var image: Tensor
        /// CLIP features of the first view `[N, embedDim]`.
        public var features: Tensor
    }

    /// Evaluates the objective at `ws` `[N, numWs, wDim]`, scoring each image in the given views
    /// (`[.identity]` = the image as it is; the CLIP loss is the mean over views).
    public func evaluate(ws: Tensor, views: [ImageView] = [.identity], needGradient: Bool = true) throws -> Evaluation {
        guard ws.shape == initialWs.shape else {
            throw EditingError("text-guided edit: ws must have the shape of w₀ \(initialWs.shape), got \(ws.shape)")
        }
        guard !views.isEmpty else { throw EditingError("text-guided edit: at least one view is needed") }
        let n = ws.shape[0], v = views.count, d = clip.config.embedDim, r = generator.resolution
        for view in views {
            if let c = view.crop, !(c.top >= 0 && c.left >= 0 && c.size > 0 && c.top + c.size <= r && c.left + c.size <= r) {
                throw EditingError("text-guided edit: view crop \(c) lies outside the \(r)×\(r) image")
            }
        }
        let (image, tape) = generator.synthesisForward(ws: ws, noise: noise)
        var clipLoss = [Float](repeating: 0, count: n)
        var gradImage = Tensor.zeros(image.shape)
        var firstFeatures = initialFeatures
        for (k, view) in views.enumerated() {
            // One CLIP pass per view: views may differ in size (CLIP's preprocessing resizes them).
            let (features, clipTape) = try clip.encodeImageWithGradient(imagesInMinusOneOne: view == .identity ? image : applyView(image, view))
            if k == 0 { firstFeatures = features }
            // Directional reference: the original image in the same view.
            let reference: Tensor? = !directional ? nil : view == .identity ? initialFeatures
                : try clip.encodeImage(try clip.preprocess(imagesInMinusOneOne: applyView(initialImage, view)))
            var gradFeatures = Tensor.zeros([n, d])
            for i in 0..<n {
                var a = (0..<d).map { Double(features[i, $0]) }
                if let reference { for j in 0..<d { a[j] -= Double(reference[i, j]) } }
                let t = targetUnit[i]
                let s2 = a.reduce(0) { $0 + $1 * $1 } + epsilon[i] * epsilon[i]
                let s = s2.squareRoot()
                let cos = zip(a, t).reduce(0) { $0 + $1.0 * $1.1 } / s
                clipLoss[i] += Float((1 - cos) / Double(v))
                // ∂(1 − cos)/∂a = −(t / s − cos · a / s²), averaged over views.
                for j in 0..<d { gradFeatures[i, j] = Float(-(t[j] / s - cos * a[j] / s2) / Double(v)) }
            }
            if needGradient {
                let g = try clip.backwardImage(tape: clipTape, gradFeatures: gradFeatures)
                gradImage += view == .identity ? g : applyViewBackward(g, view, height: r, width: r)
            }
        }

        var pixelLoss = [Float](repeating: 0, count: n)
        if let mask, maskPixelWeight > 0 {
            let c = image.shape[1], hw = image.shape[2] * image.shape[3]
            let scale = Double(maskPixelWeight) / Double(c * hw)
            for i in 0..<n {
                let m = mask.shape[0] == 1 ? 0 : i
                var acc = 0.0
                for ch in 0..<c {
                    for p in 0..<hw {
                        let q = (i * c + ch) * hw + p
                        let keep = 1 - Double(mask.storage[m * hw + p])
                        let diff = Double(image.storage[q]) - Double(initialImage.storage[q])
                        acc += keep * diff * diff
                        gradImage.storage[q] += Float(2 * scale * keep * diff)
                    }
                }
                pixelLoss[i] = Float(scale * acc)
            }
        }

        var l2 = [Float](repeating: 0, count: n)
        let inner = ws.count / n
        var gradWs = needGradient ? generator.synthesisBackward(tape: tape, gradImage: gradImage, needNoise: false).ws : Tensor.zeros(ws.shape)
        for i in 0..<n {
            var acc = 0.0
            for q in (i * inner) ..< ((i + 1) * inner) {
                let diff = Double(ws.storage[q]) - Double(initialWs.storage[q])
                acc += diff * diff
                if needGradient { gradWs.storage[q] += Float(2 * Double(lambdaL2) * diff) }
            }
            l2[i] = Float(Double(lambdaL2) * acc)
        }
        return Evaluation(loss: TextGuidedEditLoss(clip: clipLoss, l2: l2, pixel: pixelLoss), gradWs: gradWs,
                          image: image, features: firstFeatures)
    }

    static func checkNoise(_ noise: NoiseMaps, generator G: StyleGAN2Generator, batch n: Int) throws {
        for (name, m) in noise.maps {
            guard let s = G.noiseShape(layer: name) else {
                throw EditingError("text-guided edit: unknown noise layer '\(name)' (known: \(G.noiseLayerNames.joined(separator: ", ")))")
            }
            guard m.shape == s || m.shape == [n] + s || (n == 1 && m.shape == [1] + s) else {
                throw EditingError("text-guided edit: noise '\(name)' must be \(s) or \([n] + s), got \(m.shape)")
            }
        }
    }
}
