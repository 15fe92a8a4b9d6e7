import LatentTensor
import LatentModels

/// GANSpace (Härkönen et al., NeurIPS 2020) in W: principal components of w = mapping(z) over
/// `samples` z drawn from `sampleZ(seed:)` (`RandomState(seed).randn(samples, zDim)`). The
/// paper applies components to a chosen ws-row range at edit time ("layer-wise" edits); the
/// range is stored with the set, not used here.
///
/// - Returns: unit components `[count, wDim]` (largest variance first, sign fixed so the
///   largest-magnitude entry is positive), the standard deviation of w along each (so strengths
///   can be given in σ units), and the mean w `[wDim]`.
public func ganspaceDirections(generator: StyleGAN2Generator, samples: Int = 10_000, seed: UInt32 = 0,
                               count: Int = 10, progress: ((Int, Int) -> Void)? = nil) throws
    -> (directions: Tensor, stds: [Double], mean: Tensor) {
    guard samples >= 2 else { throw EditingError("GANSpace needs at least 2 samples, got \(samples)") }
    guard count >= 1 else { throw EditingError("GANSpace: count must be >= 1, got \(count)") }
    let ws = sampleW(generator: generator, samples: samples, seed: seed, progress: progress)
    let pca = try principalComponents(data: ws, count: count)
    return (pca.components, pca.variances.map { max($0, 0).squareRoot() }, pca.mean)
}

/// PCA of the rows of `data` `[N, D]`: the top `count` eigenvectors of the sample covariance
/// `XcᵀXc / (N − 1)` (Xc = rows minus their mean) and their eigenvalues (variances).
///
/// The mean is accumulated in Double; the covariance is one float32 GEMM of the centred data
/// (plenty for directions: centring removes the large common offset first), then solved in
/// Double by LAPACK `dsyevd`.
/// - Returns: `components` `[min(count, D), D]` unit rows, `variances` descending, `mean` `[D]`.
public func principalComponents(data: Tensor, count: Int) throws -> (components: Tensor, variances: [Double], mean: Tensor) {
    guard data.rank == 2, data.shape[0] >= 2, data.shape[1] >= 1 else {
        throw EditingError("PCA needs data [N >= 2, D >= 1], got \(data.shape)")
    }
    guard data.isFinite else { throw EditingError("PCA: data holds NaN or infinity") }
    let n = data.shape[0], d = data.shape[1]
    var mean = [Double](repeating: 0, count: d)
    data.withUnsafeBufferPointer { p in
        for i in 0..<n { for j in 0..<d { mean[j] += Double(p[i * d + j]) } }
    }
    for j in 0..<d { mean[j] /= Double(n) }
    var centered = data
    centered.withUnsafeMutableBufferPointer { p in
        for i in 0..<n { for j in 0..<d { p[i * d + j] = Float(Double(p[i * d + j]) - mean[j]) } }
    }
    let cov = matmul(centered, centered, transA: true)   // [D, D]
    let scale = 1 / Double(n - 1)
    let (values, vectors) = try symmetricEigen(cov.storage.map { Double($0) * scale }, n: d)
    let k = min(count, d)
    return (Tensor(shape: [k, d], data: vectors.prefix(k).flatMap { $0.map(Float.init) }),
            Array(values.prefix(k)), Tensor(shape: [d], data: mean.map(Float.init)))
}
