import XCTest
import Foundation
import LatentTensor
import LatentModels
import _TestSupport

/// The tiny32 random-init generator (32×32, z 64, w 128, 8 ws rows) copied from ../shared/golden.
func tiny32Generator() throws -> StyleGAN2Generator {
    let url = try XCTUnwrap(Bundle.module.url(forResource: "tiny32_weights", withExtension: "safetensors", subdirectory: "Resources"))
    return try StyleGAN2Generator(path: url.path)
}

/// Cyclic Jacobi eigen-decomposition of a symmetric matrix in Double: an independent reference
/// for LAPACK's `dsyevd`. Returns eigenvalues descending and eigenvectors as rows.
func jacobiEigen(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [[Double]]) {
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    let total = a.reduce(0) { $0 + $1 * $1 }
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n { for q in 0..<n where p != q { off += a[p * n + q] * a[p * n + q] } }
        if off <= 1e-30 * total { break }
        for p in 0 ..< n - 1 { for q in p + 1 ..< n {
            let apq = a[p * n + q]
            if abs(apq) < 1e-300 { continue }
            let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
            let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
            let c = 1 / (t * t + 1).squareRoot(), s = t * c
            for k in 0..<n { let x = a[k * n + p], y = a[k * n + q]; a[k * n + p] = c * x - s * y; a[k * n + q] = s * x + c * y }
            for k in 0..<n { let x = a[p * n + k], y = a[q * n + k]; a[p * n + k] = c * x - s * y; a[q * n + k] = s * x + c * y }
            for k in 0..<n { let x = v[k * n + p], y = v[k * n + q]; v[k * n + p] = c * x - s * y; v[k * n + q] = s * x + c * y }
        } }
    }
    let order = (0..<n).sorted { a[$0 * n + $0] > a[$1 * n + $1] }
    return (order.map { a[$0 * n + $0] }, order.map { j in (0..<n).map { v[$0 * n + j] } })
}

func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

/// Standard normal samples from `TestRNG` (Box–Muller).
func gaussians(_ rng: inout TestRNG, _ n: Int) -> [Double] {
    (0..<n).map { _ in
        let u1 = max(rng.uniform(0, 1), 1e-300), u2 = rng.uniform(0, 1)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
    }
}

/// A random unit vector.
func randomUnit(_ rng: inout TestRNG, _ d: Int) -> [Double] {
    let g = gaussians(&rng, d)
    let n = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return g.map { $0 / n }
}

/// Writes `text` to a fresh `.json` file in `folder` and returns its path (recipe parsing tests).
func writeJSONFile(_ text: String, in folder: String) throws -> String {
    let p = folder + "/\(UUID().uuidString).json"
    try Data(text.utf8).write(to: URL(fileURLWithPath: p))
    return p
}
