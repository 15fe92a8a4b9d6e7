import XCTest
import LatentTensor
import LatentModels
import LatentEditing
import _TestSupport

/// GANSpace's PCA against data of known covariance and against a naive Double covariance +
/// Jacobi eigen-decomposition; GANSpace on the tiny32 generator against PCA of its samples.
final class PCATests: XCTestCase {
    /// x = μ + Q·diag(σ)·g with a known rotation Q: covariance Q diag(σ²) Qᵀ.
    func knownData(n: Int) -> (data: Tensor, q: [[Double]], sigma: [Double], mu: [Double]) {
        var rng = TestRNG(seed: 7)
        let sigma = [5.0, 3, 2, 1.5, 1, 0.5, 0.2]
        let d = sigma.count
        // Orthonormal rows by Gram–Schmidt of random vectors.
        var q: [[Double]] = []
        while q.count < d {
            var v = gaussians(&rng, d)
            for b in q { let p = dot(v, b); v = zip(v, b).map { $0 - p * $1 } }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            q.append(v.map { $0 / norm })
        }
        let mu = (0..<d).map { Double($0) - 2.5 }
        var data = [Float]()
        for _ in 0..<n {
            let g = gaussians(&rng, d)
            for j in 0..<d { data.append(Float(mu[j] + (0..<d).reduce(0) { $0 + q[$1][j] * sigma[$1] * g[$1] })) }
        }
        return (Tensor(shape: [n, d], data: data), q, sigma, mu)
    }

    func testMatchesNaiveCovarianceEigenDecomposition() throws {
        let (x, _, _, _) = knownData(n: 3001)
        let n = x.shape[0], d = x.shape[1]
        let pca = try principalComponents(data: x, count: d)
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(x[i, j]) / Double(n) } }
        var cov = [Double](repeating: 0, count: d * d)
        for i in 0..<n { for a in 0..<d { for b in 0..<d {
            cov[a * d + b] += (Double(x[i, a]) - mean[a]) * (Double(x[i, b]) - mean[b]) / Double(n - 1)
        } } }
        let (values, vectors) = jacobiEigen(cov, n: d)
        for k in 0..<d {
            XCTAssertEqual(pca.variances[k], values[k], accuracy: 1e-5 * values[0] + 1e-5 * values[k], "variance \(k)")
            XCTAssertGreaterThan(abs(dot(pca.components.row(k).doubles, vectors[k])), 1 - 1e-6, "component \(k)")
            XCTAssertEqual(Double(pca.mean[flat: k]), mean[k], accuracy: 1e-5)
        }
    }

    func testRecoversTheKnownCovariance() throws {
        let (x, q, sigma, mu) = knownData(n: 5000)
        let pca = try principalComponents(data: x, count: 5)
        XCTAssertEqual(pca.components.shape, [5, 7])
        for k in 0..<5 {
            // Sampling error of a variance is ~√(2/N) ≈ 2 %.
            XCTAssertEqual(pca.variances[k] / (sigma[k] * sigma[k]), 1, accuracy: 0.08, "variance \(k)")
            XCTAssertGreaterThan(abs(dot(pca.components.row(k).doubles, q[k])), 0.99, "component \(k)")
        }
        for j in 0..<7 { XCTAssertEqual(Double(pca.mean[flat: j]), mu[j], accuracy: 0.2) }
        XCTAssertThrowsError(try principalComponents(data: Tensor.zeros([1, 3]), count: 1))
        XCTAssertThrowsError(try principalComponents(data: Tensor(shape: [2, 1], data: [1, .nan]), count: 1))
    }

    func testGANSpaceIsPCAOfMappedSamples() throws {
        let G = try tiny32Generator()
        let (dirs, stds, mean) = try ganspaceDirections(generator: G, samples: 301, seed: 3, count: 4)
        let w = sampleW(generator: G, samples: 301, seed: 3)
        let pca = try principalComponents(data: w, count: 4)
        XCTAssertEqual(dirs, pca.components)
        XCTAssertEqual(mean, pca.mean)
        for k in 0..<4 { XCTAssertEqual(stds[k], pca.variances[k].squareRoot(), accuracy: 1e-12) }
        // The samples are mapping(RandomState(3).randn(301, zDim)) at ψ = 1, first ws row.
        let z = sampleZ(zDim: G.zDim, samples: 301, seed: 3)
        let ws = G.mapping(z: z.slice(10 ..< 12))
        for j in 0..<G.wDim { XCTAssertEqual(w[11, j], ws[1, 0, j], accuracy: 1e-5 * max(1, abs(ws[1, 0, j]))) }
        var rng = NumpyRandomState(seed: 3)
        XCTAssertEqual(z.slice(0 ..< 1).storage, rng.randn(count: G.zDim).map(Float.init))
        XCTAssertEqual(zFromSeeds([9, 4], zDim: G.zDim).row(1).storage, zFromSeed(4, zDim: G.zDim).storage)
    }
}
