import XCTest
import LatentTensor
import LatentModels
import LatentEditing
import _TestSupport

/// SeFa against a direct computation: the Gram matrix of the column-normalised style weights
/// built by plain loops from a hand-written layer table, and its Jacobi eigen-decomposition.
final class SeFaTests: XCTestCase {
    /// tiny32 (32×32): the ws row each style layer reads, as NVIDIA's SynthesisNetwork assigns them.
    static let tiny32Layers: [(name: String, row: Int, toRGB: Bool)] = [
        ("synthesis.b4.conv1", 0, false), ("synthesis.b4.torgb", 1, true),
        ("synthesis.b8.conv0", 1, false), ("synthesis.b8.conv1", 2, false), ("synthesis.b8.torgb", 3, true),
        ("synthesis.b16.conv0", 3, false), ("synthesis.b16.conv1", 4, false), ("synthesis.b16.torgb", 5, true),
        ("synthesis.b32.conv0", 5, false), ("synthesis.b32.conv1", 6, false), ("synthesis.b32.torgb", 7, true),
    ]

    func naiveGram(_ G: StyleGAN2Generator, rows: Range<Int>, toRGB: Bool) -> [Double] {
        let d = G.wDim
        var gram = [Double](repeating: 0, count: d * d)
        for l in Self.tiny32Layers where rows.contains(l.row) && (toRGB || !l.toRGB) {
            let a = G.parameters[l.name + ".affine.weight"]!
            for r in 0..<a.shape[0] {
                let v = (0..<d).map { Double(a[r, $0]) }
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                for i in 0..<d { for j in 0..<d { gram[i * d + j] += v[i] * v[j] / (norm * norm) } }
            }
        }
        return gram
    }

    func testStyleLayerTableMatchesGenerator() throws {
        let G = try tiny32Generator()
        let layers = styleLayers(resolution: G.resolution)
        XCTAssertEqual(layers.map(\.name), Self.tiny32Layers.map(\.name))
        XCTAssertEqual(layers.map(\.wsIndex), Self.tiny32Layers.map(\.row))
        XCTAssertEqual(layers.last!.wsIndex, G.numWs - 1)
        for l in layers { XCTAssertNotNil(G.parameters[l.name + ".affine.weight"], l.name) }
    }

    func testGramMatchesNaiveLoops() throws {
        let G = try tiny32Generator()
        for (rows, rgb) in [(0 ..< 8, false), (0 ..< 8, true), (1 ..< 4, false), (5 ..< 6, true)] {
            let fast = try sefaGram(generator: G, layers: rows, includeToRGB: rgb)
            let ref = naiveGram(G, rows: rows, toRGB: rgb)
            let err = zip(fast, ref).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(err, 1e-12 * ref.map(abs).max()!, "rows \(rows) torgb \(rgb)")
        }
    }

    func testDirectionsAreTheTopEigenvectorsOfTheNormalisedGram() throws {
        let G = try tiny32Generator()
        let d = G.wDim
        for rows in [0 ..< 8, 2 ..< 5] {
            let (dirs, values) = try sefaDirections(generator: G, layers: rows, count: 6)
            XCTAssertEqual(dirs.shape, [6, d])
            let gram = naiveGram(G, rows: rows, toRGB: false)
            let (refValues, refVectors) = jacobiEigen(gram, n: d)
            for k in 0..<6 {
                XCTAssertEqual(values[k], refValues[k], accuracy: 1e-9 * refValues[0], "eigenvalue \(k), rows \(rows)")
                let v = (0..<d).map { Double(dirs[k, $0]) }
                XCTAssertEqual(v.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-6)
                // The eigenvalues here are distinct (gap ≫ float32 rounding), so vectors agree up to sign.
                XCTAssertGreaterThan(refValues[k] - refValues[k + 1], 1e-4 * refValues[0])
                XCTAssertGreaterThan(abs(dot(v, refVectors[k])), 1 - 1e-6, "vector \(k), rows \(rows)")
                // The defining property: ‖Aᵀv‖² = Σ over normalised style rows (a·v)² = λ.
                var energy = 0.0
                for i in 0..<d { for j in 0..<d { energy += v[i] * gram[i * d + j] * v[j] } }
                XCTAssertEqual(energy, refValues[k], accuracy: 1e-5 * refValues[0])
            }
        }
    }

    func testLayerSelectionAndToRGBChangeTheResult() throws {
        let G = try tiny32Generator()
        let all = try sefaDirections(generator: G, count: 1).directions
        let coarse = try sefaDirections(generator: G, layers: 0 ..< 2, count: 1).directions
        let withRGB = try sefaDirections(generator: G, includeToRGB: true, count: 1).eigenvalues
        let without = try sefaDirections(generator: G, count: 1).eigenvalues
        XCTAssertLessThan(abs(dot(all.doubles, coarse.doubles)), 0.999)
        XCTAssertGreaterThan(withRGB[0], without[0])   // more columns, more energy
    }

    func testBadLayerRangesThrow() throws {
        let G = try tiny32Generator()
        XCTAssertThrowsError(try sefaDirections(generator: G, layers: 0 ..< 9))
        XCTAssertThrowsError(try sefaDirections(generator: G, layers: 7 ..< 8))   // only ToRGB reads row 7
        XCTAssertNoThrow(try sefaDirections(generator: G, layers: 7 ..< 8, includeToRGB: true))
        XCTAssertThrowsError(try sefaDirections(generator: G, count: 0))
    }
}
