import XCTest
import LatentTensor
import _TestSupport

final class SymmetricEigenTests: XCTestCase {
    /// A·v = λ·v for every pair, eigenvalues descending, eigenvectors orthonormal.
    func testEigenPairsOfRandomSymmetricMatrix() throws {
        var rng = TestRNG(seed: 5)
        let n = 7
        let b = rng.doubles(n * n)
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += b[i * n + k] * b[j * n + k] } } }
        let (values, vectors) = try symmetricEigen(a, n: n)
        XCTAssertEqual(values.count, n)
        for i in 1..<n { XCTAssertGreaterThanOrEqual(values[i - 1], values[i]) }
        for (lam, v) in zip(values, vectors) {
            for i in 0..<n {
                var av = 0.0
                for j in 0..<n { av += a[i * n + j] * v[j] }
                XCTAssertEqual(av, lam * v[i], accuracy: 1e-9)
            }
        }
        for p in 0..<n { for q in 0..<n {
            let d = zip(vectors[p], vectors[q]).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(d, p == q ? 1 : 0, accuracy: 1e-10)
        } }
    }

    /// A diagonal matrix: eigenvalues are the diagonal sorted, eigenvectors the unit axes.
    func testDiagonal() throws {
        let (values, vectors) = try symmetricEigen([1, 0, 0, 0, 3, 0, 0, 0, 2], n: 3)
        XCTAssertEqual(values, [3, 2, 1])
        XCTAssertEqual(vectors[0], [0, 1, 0])
        XCTAssertEqual(vectors[1], [0, 0, 1])
    }
}
