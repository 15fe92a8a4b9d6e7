import XCTest
import LatentTensor
import LatentCLIP
import LatentInversion
import _TestSupport

/// `CLIPFeatureLoss`: value and gradient against a Double reference (CLIP's reference tower on
/// images at its own resolution, so preprocessing is the affine normalisation) and central
/// differences of it; refusals.
final class CLIPFeatureLossTests: XCTestCase {
    /// `1 − cos(CLIP(x), CLIP(y))` in Double for `[3, 8, 8]` images in [-1, 1].
    func referenceLoss(_ model: CLIPModel, _ x: [Double], _ targetFeatures: [Double]) -> Double {
        let plane = 64
        var normalised = [Double](repeating: 0, count: x.count)
        for c in 0..<3 { for p in 0..<plane {
            normalised[c * plane + p] = ((x[c * plane + p] + 1) / 2 - Double(CLIPModel.imageMean[c])) / Double(CLIPModel.imageStd[c])
        } }
        let f = model.encodeImageReference(images: normalised, batch: 1)
        var dot = 0.0, nf = 0.0, nt = 0.0
        for k in 0..<f.count { dot += f[k] * targetFeatures[k]; nf += f[k] * f[k]; nt += targetFeatures[k] * targetFeatures[k] }
        return 1 - dot / (nf.squareRoot() * nt.squareRoot())
    }

    func testValueAndGradientMatchTheReference() throws {
        let model = try CLIPModel(config: tinyCLIPConfig, weights: tinyCLIPWeights())
        var rng = TestRNG(seed: 21)
        let x = rng.tensor([2, 3, 8, 8], -1, 1), y = rng.tensor([2, 3, 8, 8], -1, 1)
        let (loss, grad) = try CLIPFeatureLoss(clip: model).evaluate(reconstruction: x, target: y)
        XCTAssertEqual(grad.shape, x.shape)
        let targetFeatures = try model.encodeImage(try model.preprocess(imagesInMinusOneOne: y))
        for i in 0..<2 {
            let xi = Array(x.doubles[(i * 192)..<((i + 1) * 192)])
            let ti = Array(targetFeatures.doubles[(i * 5)..<((i + 1) * 5)])
            XCTAssertEqual(Double(loss[i]), referenceLoss(model, xi, ti), accuracy: 2e-5)
            let numeric = numericalGradient(xi, h: 1e-5) { referenceLoss(model, $0, ti) }
            let analytic = Tensor(shape: [1, 3, 8, 8], data: Array(grad.storage[(i * 192)..<((i + 1) * 192)]))
            let err = relativeError(analytic, Tensor(shape: [1, 3, 8, 8], data: numeric.map(Float.init)))
            XCTAssertLessThan(err, 1e-3, "image \(i): gradient vs central differences")
        }
        // Identical images: zero loss (up to rounding), at the minimum.
        let (same, _) = try CLIPFeatureLoss(clip: model).evaluate(reconstruction: y, target: y)
        for v in same { XCTAssertEqual(v, 0, accuracy: 1e-6) }
    }

    func testRefusesMasksAndNonRGB() throws {
        let loss = CLIPFeatureLoss(clip: try CLIPModel(config: tinyCLIPConfig, weights: tinyCLIPWeights()))
        let x = Tensor.zeros([1, 3, 8, 8])
        XCTAssertThrowsError(try loss.evaluate(reconstruction: x, target: x, mask: Tensor.zeros([1, 1, 8, 8]))) { e in
            XCTAssertTrue("\(e)".contains("mask"), "\(e)")
        }
        XCTAssertThrowsError(try loss.evaluate(reconstruction: Tensor.zeros([1, 1, 8, 8]), target: Tensor.zeros([1, 1, 8, 8])))
        XCTAssertThrowsError(try loss.evaluate(reconstruction: x, target: Tensor.zeros([1, 3, 4, 4])))
    }
}
