import Foundation
import XCTest
import LatentTensor
import LatentModels
import LatentEditing
import LatentInversion
import _TestSupport

/// Behaviour of `textGuidedEdit` on the tiny32 generator with a tiny random CLIP: the objective
/// falls and the image moves towards the target, only the chosen ws rows move, the mask holds
/// the rest of the image still, bad arguments are reported; and the augmentation views.
final class TextGuidedEditTests: XCTestCase {
    static func cosine(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.doubles, y = b.doubles
        let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
        return dot / (x.reduce(0) { $0 + $1 * $1 }.squareRoot() * y.reduce(0) { $0 + $1 * $1 }.squareRoot())
    }

    func testEditLowersLossAndRaisesSimilarityToTarget() throws {
        let fx = try TextEditFixture.make()
        var rng = TestRNG(seed: 51)
        let text = rng.tensor([1, fx.clip.config.embedDim])
        var options = TextGuidedEditOptions()
        options.steps = 40
        options.learningRate = 0.05
        let result = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options)
        XCTAssertEqual(result.lossHistory.count, 40)
        let before = Self.cosine(result.initialImageFeatures, text), after = Self.cosine(result.imageFeatures, text)
        XCTAssertGreaterThan(after, before + 0.1, "cos(image, text) \(before) → \(after)")
        XCTAssertLessThan(result.finalLoss.total[0], result.lossHistory[0] * 0.8)
        XCTAssertEqual(Double(result.lossHistory[0]), 1 - before, accuracy: 1e-4, "the first loss is the CLIP loss at w₀")
        // The reported features and image are those of the returned latent.
        assertClose(result.image, fx.G.synthesis(ws: result.ws), atol: 1e-6, rtol: 0)
        assertClose(result.imageFeatures, try fx.clip.encodeImage(try fx.clip.preprocess(imagesInMinusOneOne: result.image)),
                    atol: 1e-5, rtol: 1e-5)
        // Same options, same result (deterministic, seeded views).
        options.augmentations = 2
        options.flips = true
        options.minCrop = 0.7
        let a = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options)
        let b = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options)
        XCTAssertEqual(a.ws, b.ws)
        XCTAssertGreaterThan(Self.cosine(a.imageFeatures, text), before + 0.1)
    }

    func testDirectionalEditMovesAlongTheTextDirection() throws {
        let fx = try TextEditFixture.make()
        var rng = TestRNG(seed: 52)
        let from = rng.tensor([1, fx.clip.config.embedDim]), to = rng.tensor([1, fx.clip.config.embedDim])
        var options = TextGuidedEditOptions()
        options.steps = 30
        options.learningRate = 0.05
        let result = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .direction(from: from, to: to), options: options)
        let change = result.imageFeatures - result.initialImageFeatures
        XCTAssertGreaterThan(Self.cosine(change, to - from), 0.5)
        XCTAssertLessThan(result.finalLoss.clip[0], 0.5)
        // At w₀ the change is zero: the smoothed cosine is 0, so the loss starts at 1.
        XCTAssertEqual(result.lossHistory[0], 1, accuracy: 1e-6)
    }

    func testOnlyTheLayerRangeMoves() throws {
        let fx = try TextEditFixture.make()
        var rng = TestRNG(seed: 53)
        let text = rng.tensor([1, fx.clip.config.embedDim])
        // Two latents in one batch, so the row bookkeeping is checked per latent.
        let w0 = Tensor.concatenate([fx.w0, fx.G.mapping(z: zFromSeed(9, zDim: fx.G.zDim).reshaped([1, fx.G.zDim]))])
        var options = TextGuidedEditOptions()
        options.steps = 5
        options.layers = 2 ..< 5
        let result = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: w0, target: .text(text), options: options)
        let numWs = fx.G.numWs, d = fx.G.wDim
        for i in 0..<2 {
            for r in 0..<numWs {
                let row = (i * numWs + r) * d
                let moved = (0..<d).contains { result.ws.storage[row + $0] != w0.storage[row + $0] }
                XCTAssertEqual(moved, (2..<5).contains(r), "latent \(i) row \(r)")
            }
        }
        // In W, the rows of the range move by one shared offset per latent.
        options.space = .w
        let shared = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: w0, target: .text(text), options: options)
        for i in 0..<2 {
            let offset = (0..<d).map { shared.ws[i, 2, $0] - w0[i, 2, $0] }
            XCTAssertGreaterThan(offset.map(abs).max()!, 1e-3, "latent \(i) moved")
            for r in 0..<numWs {
                for j in 0..<d {
                    let delta = shared.ws[i, r, j] - w0[i, r, j]
                    if (2..<5).contains(r) { XCTAssertEqual(delta, offset[j], accuracy: 1e-5) } else { XCTAssertEqual(delta, 0) }
                }
            }
        }
    }

    func testMaskKeepsThePixelsOutsideIt() throws {
        let fx = try TextEditFixture.make()
        var rng = TestRNG(seed: 54)
        let text = rng.tensor([1, fx.clip.config.embedDim])
        let r = fx.G.resolution
        let mask = TextEditFixture.leftHalfMask(r)
        var options = TextGuidedEditOptions()
        options.steps = 30
        options.learningRate = 0.05
        let free = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options)
        options.mask = mask
        // The tiny random generator has no locality (every ws entry moves every pixel), so a
        // moderate weight trades the two terms; the outside change still drops by > 10×.
        options.maskPixelWeight = 2
        let masked = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options)
        func meanSquaredChange(_ res: TextGuidedEditResult, keptRegion: Bool) -> Double {
            var s = 0.0, count = 0
            for q in 0..<res.image.count where (mask.storage[q % (r * r)] == 0) == keptRegion {
                let d = Double(res.image.storage[q] - res.initialImage.storage[q])
                s += d * d; count += 1
            }
            return s / Double(count)
        }
        let freeOutside = meanSquaredChange(free, keptRegion: true), maskedOutside = meanSquaredChange(masked, keptRegion: true)
        XCTAssertLessThan(maskedOutside, 0.1 * freeOutside, "change outside the mask: \(freeOutside) unmasked, \(maskedOutside) masked")
        XCTAssertGreaterThan(meanSquaredChange(masked, keptRegion: false), 2 * maskedOutside, "the free region still changes")
        XCTAssertGreaterThan(Self.cosine(masked.imageFeatures, text), Self.cosine(masked.initialImageFeatures, text))
        XCTAssertGreaterThan(masked.finalLoss.pixel[0], 0)
        XCTAssertEqual(free.finalLoss.pixel[0], 0)
    }

    func testBadArgumentsThrow() throws {
        let fx = try TextEditFixture.make()
        let d = fx.clip.config.embedDim
        let text = Tensor.ones([1, d])
        XCTAssertThrowsError(try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: Tensor.zeros([1, 3, fx.G.wDim]), target: .text(text)))
        XCTAssertThrowsError(try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(Tensor.ones([1, d + 1]))))
        XCTAssertThrowsError(try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .direction(from: text, to: text))) {
            XCTAssertTrue("\($0)".contains("zero"), "\($0)")
        }
        var options = TextGuidedEditOptions()
        options.layers = 3 ..< 99
        XCTAssertThrowsError(try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options))
        options = TextGuidedEditOptions()
        options.mask = Tensor.ones([1, 1, 7, 7])
        XCTAssertThrowsError(try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options)) {
            XCTAssertTrue("\($0)".contains("mask"), "\($0)")
        }
        options.mask = Tensor(shape: [1, 1, fx.G.resolution, fx.G.resolution], repeating: 2)
        XCTAssertThrowsError(try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options))
        let badNoise = NoiseMaps(["b8.conv9": Tensor.zeros([8, 8])])
        XCTAssertThrowsError(try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, noise: badNoise, target: .text(text)))
    }

    func testSubspaceConfinesTheOffsets() throws {
        let fx = try TextEditFixture.make()
        var rng = TestRNG(seed: 56)
        let text = rng.tensor([1, fx.clip.config.embedDim])
        let basis = rng.tensor([3, fx.G.wDim])   // not orthonormal: the chain rule needs no such thing
        var options = TextGuidedEditOptions()
        options.steps = 20
        options.learningRate = 0.05
        options.subspace = basis
        let result = try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options)
        XCTAssertGreaterThan(Self.cosine(result.imageFeatures, text), Self.cosine(result.initialImageFeatures, text))
        // Each row's offset is a combination of the 3 basis rows: least squares leaves no residual.
        let b = basis.doubles, d = fx.G.wDim
        for r in 0..<fx.G.numWs {
            let offset = (0..<d).map { Double(result.ws[0, r, $0] - fx.w0[0, r, $0]) }
            var gram = [[Double]](repeating: [Double](repeating: 0, count: 3), count: 3), rhs = [Double](repeating: 0, count: 3)
            for i in 0..<3 {
                for j in 0..<3 { gram[i][j] = (0..<d).reduce(0) { $0 + b[i * d + $1] * b[j * d + $1] } }
                rhs[i] = (0..<d).reduce(0) { $0 + b[i * d + $1] * offset[$1] }
            }
            let c = Self.solve3(gram, rhs)
            let residual = (0..<d).map { j in offset[j] - (0..<3).reduce(0) { $0 + c[$1] * b[$1 * d + j] } }
            let norm = offset.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertGreaterThan(norm, 1e-3, "row \(r) moved")
            XCTAssertLessThan(residual.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-4 * max(norm, 1), "row \(r) leaves the subspace")
        }
        options.subspace = Tensor.zeros([2, fx.G.wDim + 1])
        XCTAssertThrowsError(try textGuidedEdit(generator: fx.G, clip: fx.clip, ws: fx.w0, target: .text(text), options: options))
    }

    func testParametrizationGradientIsTheAdjoint() {
        var rng = TestRNG(seed: 57)
        let numWs = 7, wDim = 11, n = 2
        for (shared, basis) in [(false, nil), (true, nil), (false, rng.tensor([3, wDim])), (true, rng.tensor([4, wDim]))] as [(Bool, Tensor?)] {
            let map = EditParametrization(layers: 2 ..< 6, shared: shared, basis: basis, numWs: numWs, wDim: wDim)
            let p = rng.tensor([n, map.rows, map.width]), g = rng.tensor([n, numWs, wDim])
            let w0 = rng.tensor([n, numWs, wDim])
            let applied = map.latent(initial: w0, parameters: p) - w0   // the linear part A·P
            let lhs = zip(applied.doubles, g.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            let rhs = zip(p.doubles, map.gradient(g).doubles).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "<AP, g> = <P, Aᵀg> (shared \(shared), basis \(basis?.shape ?? []))")
            for r in [0, 1, 6] { for j in 0..<wDim { XCTAssertEqual(applied[1, r, j], 0, accuracy: 1e-6) } }
        }
    }

    /// Solves a 3×3 system by Cramer's rule.
    static func solve3(_ a: [[Double]], _ b: [Double]) -> [Double] {
        func det(_ m: [[Double]]) -> Double {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
        let d = det(a)
        return (0..<3).map { k in det(a.enumerated().map { i, row in row.enumerated().map { j, v in j == k ? b[i] : v } }) / d }
    }

    // MARK: Augmentation views

    func testShiftMatchesNaiveAndIsItsAdjoint() {
        var rng = TestRNG(seed: 55)
        let x = rng.tensor([2, 3, 7, 9]), y = rng.tensor([2, 3, 7, 9])
        for s in [ImageShift(dy: 2, dx: -3), ImageShift(dy: -1, dx: 4), ImageShift(dy: 0, dx: 0), ImageShift(dy: 8, dx: 1)] {
            let shifted = shiftImages(x, by: s)
            for p in 0..<6 {
                for r in 0..<7 {
                    for c in 0..<9 {
                        let expected = x.storage[(p * 7 + min(max(r - s.dy, 0), 6)) * 9 + min(max(c - s.dx, 0), 8)]
                        XCTAssertEqual(shifted.storage[(p * 7 + r) * 9 + c], expected)
                    }
                }
            }
            let lhs = zip(shifted.doubles, y.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            let rhs = zip(x.doubles, shiftImagesBackward(y, by: s).doubles).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "<Sx, y> = <x, Sᵀy> for \(s)")
        }
    }

    func testViewsMatchNaiveAndAreAdjoint() {
        var rng = TestRNG(seed: 58)
        let x = rng.tensor([2, 3, 11, 11])
        let views = [ImageView(shift: ImageShift(dy: 1, dx: -2), flip: true, crop: ImageCrop(top: 2, left: 3, size: 7)),
                     ImageView(flip: true), ImageView(crop: ImageCrop(top: 0, left: 4, size: 7)), .identity]
        for view in views {
            let v = applyView(x, view)
            let s = view.crop?.size ?? 11, top = view.crop?.top ?? 0, left = view.crop?.left ?? 0
            XCTAssertEqual(v.shape, [2, 3, s, s])
            for p in 0..<6 {
                for r in 0..<s {
                    for c in 0..<s {
                        let fx = view.flip ? 10 - (c + left) : c + left
                        let sy = min(max(r + top - view.shift.dy, 0), 10), sx = min(max(fx - view.shift.dx, 0), 10)
                        XCTAssertEqual(v.storage[(p * s + r) * s + c], x.storage[(p * 11 + sy) * 11 + sx])
                    }
                }
            }
            let y = rng.tensor(v.shape)
            let lhs = zip(v.doubles, y.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            let rhs = zip(x.doubles, applyViewBackward(y, view, height: 11, width: 11).doubles).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "<Vx, y> = <x, Vᵀy> for \(view)")
        }
    }
}
