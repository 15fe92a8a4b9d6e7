import XCTest
import Foundation
import LatentTensor
import LatentEditing
import _TestSupport

/// `fitRegressionDirections`, its table, the readout in direction files, and the recipe steps
/// that use it (`target`, `change`).
final class RegressionDirectionsTests: XCTestCase {
    /// Latents `[N, d]` and three attributes that are known linear functions of them plus small noise.
    private func synthetic(n: Int, d: Int, noise: Double, rng: inout TestRNG) -> (x: Tensor, y: [[Double]], b: [[Double]], c: [Double]) {
        let b = (0..<3).map { _ in rng.doubles(d) }
        let c = [0.5, -1.0, 2.0]
        let x = rng.tensor([n, d], -2, 2)
        let y = (0..<n).map { s in (0..<3).map { a in c[a] + (0..<d).reduce(0.0) { $0 + b[a][$1] * Double(x[flat: s * d + $1]) } + noise * rng.uniform() } }
        return (x, y, b, c)
    }

    func testRecoversALinearModelAndHoldsTheOtherAttributes() throws {
        var rng = TestRNG(seed: 41)
        let (x, y, b, c) = synthetic(n: 400, d: 7, noise: 1e-3, rng: &rng)
        // The latents' covariance, computed naively (the fit gets it from its eigen-decomposition).
        let mean = (0..<7).map { t in (0..<400).reduce(0.0) { $0 + Double(x[flat: $1 * 7 + t]) } / 400 }
        let cov = (0..<7).map { i in (0..<7).map { j in (0..<400).reduce(0.0) { $0 + (Double(x[flat: $1 * 7 + i]) - mean[i]) * (Double(x[flat: $1 * 7 + j]) - mean[j]) } / 400 } }
        for metric in RegressionMetric.allCases {
            let fit = try fitRegressionDirections(latents: x, values: y, names: ["p", "q", "r"], metric: metric, heldOutFraction: 0.25, seed: 3)
            XCTAssertEqual(fit.heldOutCount, 100)
            for a in 0..<3 {
                XCTAssertGreaterThan(fit.heldOutR2[a], 0.999)
                for t in 0..<7 { XCTAssertEqual(Double(fit.readout[flat: a * 7 + t]), b[a][t], accuracy: 2e-3) }
                XCTAssertEqual(fit.bias[a], c[a], accuracy: 2e-3)
            }
            // Direction j moves attribute j by unitChange[j] per unit step and the others by nothing.
            for j in 0..<3 {
                var norm = 0.0
                for a in 0..<3 {
                    let move = (0..<7).reduce(0.0) { $0 + Double(fit.readout[flat: a * 7 + $1]) * Double(fit.directions[flat: j * 7 + $1]) }
                    XCTAssertEqual(move, a == j ? fit.unitChange[j] : 0, accuracy: 1e-5 * max(1, fit.unitChange[j]), "\(metric) direction \(j), attribute \(a)")
                }
                for t in 0..<7 { norm += Double(fit.directions[flat: j * 7 + t] * fit.directions[flat: j * 7 + t]) }
                XCTAssertEqual(norm, 1, accuracy: 1e-5)
            }
            // The minimum-norm property: the direction lies in the span of M·readout (M = I or the covariance).
            let r = (0..<3).map { a in (0..<7).map { Double(fit.readout[flat: a * 7 + $0]) } }
            let m = metric == .euclidean ? r : r.map { v in cov.map { row in zip(row, v).reduce(0) { $0 + $1.0 * $1.1 } } }
            let gram = (0..<3).flatMap { i in (0..<3).map { j in zip(m[i], m[j]).reduce(0) { $0 + $1.0 * $1.1 } } }
            for j in 0..<3 {
                let dir = (0..<7).map { Double(fit.directions[flat: j * 7 + $0]) }
                let coef = try solve3(gram, (0..<3).map { i in zip(m[i], dir).reduce(0) { $0 + $1.0 * $1.1 } })
                for t in 0..<7 { XCTAssertEqual((0..<3).reduce(0) { $0 + coef[$1] * m[$1][t] }, dir[t], accuracy: 1e-4, "\(metric) direction \(j)") }
            }
        }
    }

    func testRidgeIsChosenOnHeldOutSamplesAndNoiseLowersR2() throws {
        var rng = TestRNG(seed: 5)
        let (x, y, _, _) = synthetic(n: 60, d: 20, noise: 8, rng: &rng)
        let fit = try fitRegressionDirections(latents: x, values: y, names: ["p", "q", "r"], seed: 1)
        for a in 0..<3 {
            XCTAssertTrue(regressionRidgeGrid.contains(fit.ridge[a]))
            XCTAssertLessThan(fit.heldOutR2[a], fit.trainR2[a])
        }
    }

    func testRejectsDependentAttributesAndBadInput() throws {
        var rng = TestRNG(seed: 9)
        let (x, y, _, _) = synthetic(n: 50, d: 5, noise: 0, rng: &rng)
        let twice = y.map { [$0[0], 2 * $0[0]] }
        XCTAssertThrowsError(try fitRegressionDirections(latents: x, values: twice, names: ["a", "b"])) { XCTAssertTrue("\($0)".contains("linearly dependent"), "\($0)") }
        XCTAssertThrowsError(try fitRegressionDirections(latents: x, values: y, names: ["a", "a", "b"]))
        XCTAssertThrowsError(try fitRegressionDirections(latents: x, values: Array(y.dropFirst()), names: ["p", "q", "r"]))
        var nan = y; nan[3][1] = .nan
        XCTAssertThrowsError(try fitRegressionDirections(latents: x, values: nan, names: ["p", "q", "r"]))
        XCTAssertThrowsError(try fitRegressionDirections(latents: x.slice(0 ..< 3), values: Array(y.prefix(3)), names: ["p", "q", "r"]))
    }

    func testAttributeTable() throws {
        let t = try AttributeTable(csv: "latent, h ,x\nimg0,0.5,1\n\nsub/img1,-2,3e-1\n", source: "t.csv", keep: ["x", "h"])
        XCTAssertEqual(t.names, ["x", "h"])
        XCTAssertEqual(t.latents, ["img0", "sub/img1"])
        XCTAssertEqual(t.values, [[1, 0.5], [0.3, -2]])
        func fails(_ text: String, _ keep: [String] = [], _ message: String) {
            XCTAssertThrowsError(try AttributeTable(csv: text, source: "t.csv", keep: keep)) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        fails("name,label\n1,0\n", [], "t.csv:1")
        fails("seed,h\nx,1\n", [], "bad seed")
        XCTAssertEqual(try AttributeTable(csv: "seed,h\n7,1\n", source: "s").seeds, [7])
        fails("latent,h\na,1,2\n", [], "t.csv:2")
        fails("latent,h\na,nan\n", [], "not a finite number")
        fails("latent,h\n", [], "no rows")
        fails("latent,h\na,1\n", ["size"], "no column 'size'")
    }

    func testReadoutRoundTripAndTargetAndChangeSteps() throws {
        var rng = TestRNG(seed: 12)
        let (x, y, _, _) = synthetic(n: 200, d: 6, noise: 0, rng: &rng)
        let fit = try fitRegressionDirections(latents: x, values: y, names: ["p", "q", "r"], seed: 0)
        let root = try temporaryFolder(self)
        let path = root + "/reg.safetensors"
        try fit.directionSet(generatorFingerprint: "f", layers: 1 ..< 3, info: ["samples": "200"]).save(to: path)
        let set = try DirectionSet.load(path: path)
        XCTAssertEqual(set.method, "regression")
        XCTAssertEqual(set.readout, fit.readout)
        XCTAssertEqual(set.readoutBias, fit.bias.map(Float.init))
        XCTAssertEqual(set.attributeChangePerUnit(1)!, fit.unitChange[1], accuracy: 1e-4 * fit.unitChange[1])
        XCTAssertNotNil(set.info["held_out_r2"])

        // target: after the step the readout at the rows' mean says the target (linear model: exactly, up to float).
        let ws = rng.tensor([2, 4, 6])
        let recipe = EditRecipe(name: "set-q", steps: [.init(direction: path + ":q", layers: "1-2", target: 0.75)])
        let out = try applyRecipe(recipe, ws: ws, recipeDirectory: nil)
        for i in 0..<2 {
            let before = meanWsRows(ws.slice(i ..< i + 1), layers: 1 ..< 3), after = meanWsRows(out.slice(i ..< i + 1), layers: 1 ..< 3)
            XCTAssertEqual(set.predictedAttribute(1, at: after)!, 0.75, accuracy: 1e-3)
            for a in [0, 2] { XCTAssertEqual(set.predictedAttribute(a, at: after)!, set.predictedAttribute(a, at: before)!, accuracy: 1e-3) }
            for r in [0, 3] { for j in 0..<6 { XCTAssertEqual(out[i, r, j], ws[i, r, j]) } }   // rows outside the step untouched
        }
        // change (and the recipe's strength as a share of it, and the edit's scale).
        let half = EditRecipe(name: "more-p", steps: [.init(direction: path + ":p", strength: 0.5, layers: "1-2", change: 2)])
        let moved = try applyRecipe(half, ws: ws, recipeDirectory: nil, scale: -1)
        for i in 0..<2 {
            let d = set.predictedAttribute(0, at: meanWsRows(moved.slice(i ..< i + 1), layers: 1 ..< 3))! - set.predictedAttribute(0, at: meanWsRows(ws.slice(i ..< i + 1), layers: 1 ..< 3))!
            XCTAssertEqual(d, -1, accuracy: 1e-3)
        }
        // A direction without a readout cannot take a target.
        try DirectionSet(names: ["a"], directions: Tensor(shape: [1, 6], data: [1, 0, 0, 0, 0, 0]), scales: [1], method: "test",
                         generatorFingerprint: "", layers: 0 ..< 1).save(to: root + "/plain.safetensors")
        XCTAssertThrowsError(try applyRecipe(EditRecipe(name: "x", steps: [.init(direction: root + "/plain.safetensors:a", target: 1)]), ws: ws, recipeDirectory: nil)) {
            XCTAssertTrue("\($0)".contains("no attribute readout"), "\($0)")
        }
    }

    func testRecipeJSONWithTargetOrChange() throws {
        let root = try temporaryFolder(self)
        func write(_ s: String) throws -> String { try writeJSONFile(s, in: root) }
        let r = try EditRecipe.load(path: write(#"{"name":"x","steps":[{"direction":"d:q","target":1},{"direction":"d:p","change":-0.1,"strength":2}]}"#))
        XCTAssertEqual(r.steps[0].strength, 1); XCTAssertEqual(r.steps[0].target, 1); XCTAssertNil(r.steps[0].change)
        XCTAssertEqual(r.steps[1].strength, 2); XCTAssertEqual(r.steps[1].change, -0.1)
        XCTAssertThrowsError(try EditRecipe.load(path: write(#"{"name":"x","steps":[{"direction":"d:q"}]}"#)))   // plain steps need a strength
        XCTAssertThrowsError(try EditRecipe.load(path: write(#"{"name":"x","steps":[{"direction":"d:q","target":1,"change":1}]}"#))) {
            XCTAssertTrue("\($0)".contains("both a target and a change"), "\($0)")
        }
    }

    /// Gaussian elimination for a 3×3 system (row-major `a`).
    private func solve3(_ a: [Double], _ b: [Double]) throws -> [Double] {
        var m = (0..<3).map { i in Array(a[i * 3 ..< i * 3 + 3]) + [b[i]] }
        for col in 0..<3 {
            let p = (col..<3).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            m.swapAt(col, p)
            for r in 0..<3 where r != col {
                let f = m[r][col] / m[col][col]
                for k in col..<4 { m[r][k] -= f * m[col][k] }
            }
        }
        return (0..<3).map { m[$0][3] / m[$0][$0] }
    }
}
