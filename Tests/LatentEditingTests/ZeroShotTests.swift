import XCTest
import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentEditing
import _TestSupport
import LatentCLIP
import _LatentVerification

/// CLIP zero-shot labelling: the confident selection, the classifier's algebra, agreement with
/// known scenes, the batched sample scoring against a one-by-one pipeline, ground truth from z.
final class ZeroShotTests: XCTestCase {
    func testSelectConfidentKeepsTheTopOfEachSide() throws {
        let scores = [0.3, -0.1, 0.05, -0.4, 0.2, 0, -0.2]
        let (idx, labels) = try selectConfident(scores: scores, fraction: 0.5)
        XCTAssertEqual(idx, [0, 4, 3, 6])
        XCTAssertEqual(labels, [true, true, false, false])
        let all = try selectConfident(scores: scores, fraction: 1)
        XCTAssertEqual(Set(all.indices), Set(0..<7))
        XCTAssertEqual(all.labels.filter { $0 }.count, 3)
        // Split at the median (0.0 here is the 4th of 7): the upper half is positive.
        XCTAssertEqual(medianScore(scores), 0)
        let shifted = scores.map { $0 + 1 }
        let m = try selectConfident(scores: shifted, fraction: 0.5, threshold: medianScore(shifted))
        XCTAssertEqual(m.indices, idx)
        XCTAssertEqual(m.labels, labels)
        let high = try selectConfident(scores: scores, fraction: 1, threshold: 0.1)
        XCTAssertEqual(high.indices, [0, 4, 3, 6, 1, 5, 2])
        XCTAssertEqual(high.labels, [true, true, false, false, false, false, false])
        XCTAssertThrowsError(try selectConfident(scores: scores, fraction: 0))
        XCTAssertThrowsError(try selectConfident(scores: scores, fraction: 1.5))
    }

    func testClassifierAlgebra() throws {
        let clip = try CLIPModel.loadDefault(), tok = try CLIPTokenizer.loadDefault()
        let c = try ZeroShotClassifier(clip: clip, tokenizer: tok, positive: ["a red ball"], negative: ["a blue ball", "a blue cube"])
        // One prompt: the class embedding is the normalised text feature.
        let f = CLIPModel.l2Normalized(try clip.encodeText(["a red ball"], tokenizer: tok))
        assertClose(c.classEmbeddings.row(1), f.row(0), atol: 1e-6, rtol: 0)
        var rng = TestRNG(seed: 2)
        let images = rng.tensor([3, 3, 64, 64], -1.2, 1.2)
        let features = try c.imageFeatures(images)
        let p = c.probabilities(features: features), s = try c.binaryScores(features: features)
        let scale = Foundation.exp(Double(clip.logitScale))
        for i in 0..<3 {
            XCTAssertEqual(Double(p[i, 0] + p[i, 1]), 1, accuracy: 1e-6)
            // Two-class softmax = σ(scale · (cos₁ − cos₀)).
            XCTAssertEqual(Double(p[i, 1]), 1 / (1 + Foundation.exp(-scale * s[i])), accuracy: 1e-5)
        }
        XCTAssertThrowsError(try ZeroShotClassifier(clip: clip, tokenizer: tok, classes: [["a"]]))
        XCTAssertThrowsError(try ZeroShotClassifier(clip: clip, tokenizer: tok, positive: [], negative: ["a"]))
    }

    func testColourOfKnownScenes() throws {
        guard let shared = sharedDirectory() else { return }  // ../shared absent: nothing to check against
        let clip = try CLIPModel.loadDefault(), tok = try CLIPTokenizer.loadDefault()
        let a = SceneAttribute.colour
        let c = try ZeroShotClassifier(clip: clip, tokenizer: tok, positive: a.positivePrompts, negative: a.negativePrompts)
        // factors.json: red objects in 013, 019, 021; blue ones in 001, 002, 007, 008.
        let names = [13, 19, 21, 1, 2, 7, 8].map { String(format: "scene_%03d.png", $0) }
        let images = try names.map { try loadImage(path: shared.appendingPathComponent("testdata/scenes/" + $0).path).tensor.reshaped([1, 3, 64, 64]) }
        let s = try c.binaryScores(features: c.imageFeatures(Tensor.concatenate(images)))
        XCTAssertEqual(s.map { $0 > 0 }, [true, true, true, false, false, false, false], "\(s)")
    }

    func testScoreSamplesMatchesOneByOnePipeline() throws {
        let G = try tiny32Generator()
        let clip = try CLIPModel.loadDefault(), tok = try CLIPTokenizer.loadDefault()
        let c = try ZeroShotClassifier(clip: clip, tokenizer: tok, positive: ["a large ball"], negative: ["a small ball"])
        let seeds: [UInt32] = [5, 6, 7]
        let batched = try scoreSamples(generator: G, classifier: c, seeds: seeds, batchSize: 2)
        XCTAssertEqual(batched.seeds, seeds)
        XCTAssertEqual(batched.w.shape, [3, G.wDim])
        for (i, s) in seeds.enumerated() {
            let ws = G.mapping(z: zFromSeed(s, zDim: G.zDim))
            for j in 0..<G.wDim { XCTAssertEqual(batched.w[i, j], ws[0, 0, j], accuracy: 1e-5 * max(1, abs(ws[0, 0, j]))) }
            let img = G.synthesis(ws: ws, noiseMode: .const)
            XCTAssertEqual(batched.scores[i], try c.binaryScores(features: c.imageFeatures(img))[0], accuracy: 1e-5)
        }
    }

    func testGroundTruthFromZ() {
        func z(_ k: Int, _ v: Float) -> [Float] { var z = [Float](repeating: 0, count: 12); z[k] = v; return z }
        XCTAssertEqual(SceneAttribute.size.groundTruth(z: z(5, 1)), true)
        XCTAssertEqual(SceneAttribute.size.groundTruth(z: z(5, -1)), false)
        XCTAssertEqual(SceneAttribute.position.groundTruth(z: z(6, -0.5)), true)   // small x = left
        XCTAssertEqual(SceneAttribute.shape.groundTruth(z: z(3, -1.5)), true)      // Φ = 0.067: sphere
        XCTAssertEqual(SceneAttribute.shape.groundTruth(z: z(3, -0.3)), false)     // Φ = 0.38: cube
        XCTAssertNil(SceneAttribute.shape.groundTruth(z: z(3, 0.5)))               // cylinder
        XCTAssertEqual(SceneAttribute.colour.groundTruth(z: z(4, 2.2)), true)      // hue 0.986: red
        XCTAssertEqual(SceneAttribute.colour.groundTruth(z: z(4, 0.332)), false)   // hue 0.63: blue
        XCTAssertNil(SceneAttribute.colour.groundTruth(z: z(4, -0.6)))             // hue 0.27: green
        XCTAssertEqual(SceneAttribute.wall.groundTruth(z: z(0, 0.332)), false)
    }

    func testSceneStatisticsOfASyntheticScene() {
        // Wall (rows < 40) and floor; a red 12×10 block at rows 20..31, columns 40..49, its
        // shadow (the floor colour darkened) to the left of it on the floor.
        let h = 64, w = 64
        var img = Tensor.zeros([3, h, w])
        let wall: [Float] = [0.2, 0.3, 0.8], floor: [Float] = [0.6, 0.5, 0.3], red: [Float] = [0.9, 0.1, 0.1]
        for y in 0..<h { for x in 0..<w {
            var c = y < 40 ? wall : floor
            if y >= 40 && y < 44 && x >= 30 && x < 42 { c = floor.map { $0 * 0.55 } }
            if y >= 20 && y < 32 && x >= 40 && x < 50 { c = red }
            for k in 0..<3 { img[k, y, x] = c[k] * 2 - 1 }
        } }
        let s = sceneStatistics(image: img)
        XCTAssertEqual(s.objectArea, 120.0 / 4096, accuracy: 1e-12)
        XCTAssertEqual(s.objectHeight, 12.0 / 64, accuracy: 1e-12)
        XCTAssertEqual(s.centroidX, 45.0 / 64, accuracy: 1e-12)
        XCTAssertGreaterThan(s.ellipseMisfit, 0.1)   // a rectangle is no ellipse
        XCTAssertEqual(s.objectColour[0], 0.9, accuracy: 1e-6)
        XCTAssertEqual(s.wallRedMinusBlue, -0.6, accuracy: 1e-6)
        XCTAssertTrue(s.box == (20, 31, 40, 49))
        // Moving only the object leaves the background outside both boxes untouched.
        XCTAssertEqual(backgroundChange(img, img, box: s.box), 0)
        // A disc of radius 7 instead: its rows follow the ellipse.
        var disc = img
        for y in 0..<h { for x in 0..<w where y >= 18 && y < 34 && x >= 36 && x < 54 {
            let inside = (Double(y) + 0.5 - 26) * (Double(y) + 0.5 - 26) + (Double(x) + 0.5 - 45) * (Double(x) + 0.5 - 45) <= 49
            for k in 0..<3 { disc[k, y, x] = (inside ? red[k] : wall[k]) * 2 - 1 }
        } }
        let d = sceneStatistics(image: disc)
        XCTAssertEqual(d.objectHeight, 14.0 / 64, accuracy: 1e-12)
        XCTAssertEqual(d.centroidX, 45.0 / 64, accuracy: 1e-9)
        XCTAssertLessThan(d.ellipseMisfit, 0.06)
    }
}
