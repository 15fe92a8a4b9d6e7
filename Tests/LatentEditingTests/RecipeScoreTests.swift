import XCTest
import LatentTensor
import _LatentVerification

/// The recipe-success estimator of issue 17 (Bench/LatentVerification/RecipeScore.swift) on
/// drawn scenes whose factors are known.
final class RecipeScoreTests: XCTestCase {
    /// 64×64: a wall of `wall` above row 40, a grey floor, a square object of `object` colour
    /// at rows `top..<top+size`, columns `left..<left+size`. Colours RGB in [0, 1].
    func scene(wall: [Float], object: [Float], top: Int, left: Int, size: Int) -> Tensor {
        var t = Tensor.zeros([3, 64, 64])
        for y in 0..<64 { for x in 0..<64 {
            let inObject = y >= top && y < top + size && x >= left && x < left + size
            let c = inObject ? object : (y < 40 ? wall : [0.5, 0.5, 0.5])
            for ch in 0..<3 { t.storage[(ch * 64 + y) * 64 + x] = c[ch] * 2 - 1 }
        } }
        return t
    }

    func testFactorsAndCriteria() {
        let blue: [Float] = [0.2, 0.3, 0.9], green: [Float] = [0.2, 0.8, 0.3], red: [Float] = [0.9, 0.1, 0.1]
        let o = sceneFactors(image: scene(wall: blue, object: green, top: 20, left: 30, size: 20))
        XCTAssertEqual(o.objectHeight, 20.0 / 64, accuracy: 1e-9)
        XCTAssertEqual(o.centreX, 40.0 / 64, accuracy: 1e-9)
        XCTAssertEqual(o.objectHue, 0.3611, accuracy: 0.005)
        XCTAssertEqual(o.wallHue, 0.6429, accuracy: 0.005)

        let left = sceneFactors(image: scene(wall: blue, object: green, top: 20, left: 26, size: 20))
        XCTAssertTrue(RecipeCriterion.moveLeft.succeeds(original: o, edited: left))
        XCTAssertFalse(RecipeCriterion.largerObject.succeeds(original: o, edited: left))
        let bigger = sceneFactors(image: scene(wall: blue, object: green, top: 17, left: 28, size: 24))
        XCTAssertTrue(RecipeCriterion.largerObject.succeeds(original: o, edited: bigger))
        XCTAssertFalse(RecipeCriterion.moveLeft.succeeds(original: o, edited: bigger))
        let redObject = sceneFactors(image: scene(wall: blue, object: red, top: 20, left: 30, size: 20))
        XCTAssertTrue(RecipeCriterion.redObject.succeeds(original: o, edited: redObject))
        XCTAssertFalse(RecipeCriterion.redWall.succeeds(original: o, edited: redObject))
        let redWall = sceneFactors(image: scene(wall: red, object: green, top: 20, left: 30, size: 20))
        XCTAssertTrue(RecipeCriterion.redWall.succeeds(original: o, edited: redWall))
        XCTAssertFalse(RecipeCriterion.redObject.succeeds(original: o, edited: redWall))
    }

    func testCircularHue() {
        XCTAssertEqual(circularMedianHue([0.98, 0.02, 0.01]), 0.01, accuracy: 1e-9)
        XCTAssertEqual(hueDifference(0.95, 0.05), -0.1, accuracy: 1e-12)
        XCTAssertEqual(hueDifference(0.05, 0.95), 0.1, accuracy: 1e-12)
    }
}
