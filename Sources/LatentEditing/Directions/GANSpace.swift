import LatentTensor
import LatentModels

/// GANSpace (Härkönen et al., NeurIPS 2020) in W: principal components of w = mapping(z) over
/// `samples` z drawn from `NumpyRandomState(seed)`. Components are applied to a chosen layer
/// range at edit time (the paper's "layer-wise" edits).
///
/// - Returns: unit components `[count, wDim]` (largest variance first), the standard deviation
///   of w along each (so strengths can be given in σ units), and the mean w `[wDim]`.
public func ganspaceDirections(generator: StyleGAN2Generator, samples: Int = 10_000, seed: UInt32 = 0,
                               count: Int = 10, progress: ((Int, Int) -> Void)? = nil) throws
    -> (directions: Tensor, stds: [Double], mean: Tensor) {
    guard samples >= 2 else { throw EditingError("GANSpace needs at least 2 samples") }
    let ws = try sampleW(generator: generator, samples: samples, seed: seed, progress: progress)   // [N, D]
    let n = samples, d = generator.wDim
    var mean = [Double](repeating: 0, count: d)
    for i in 0..<n { for j in 0..<d { mean[j] += Double(ws[flat: i * d + j]) } }
    for j in 0..<d { mean[j] /= Double(n) }
    var centered = ws
    centered.withUnsafeMutableBufferPointer { p in
        for i in 0..<n { for j in 0..<d { p[i * d + j] -= Float(mean[j]) } }
    }
    // Covariance XᵀX / (N − 1) through one GEMM; float32 accumulation over 1e4 rows is ample
    // for directions (the eigen-solve itself runs in Double).
    let cov = matmul(centered, centered, transA: true)
    let scale = 1 / Double(n - 1)
    let (values, vectors) = try symmetricEigen(cov.storage.map { Double($0) * scale }, n: d)
    let k = min(count, d)
    return (Tensor(shape: [k, d], data: vectors.prefix(k).flatMap { $0.map(Float.init) }),
            values.prefix(k).map { max($0, 0).squareRoot() },
            Tensor(shape: [d], data: mean.map(Float.init)))
}

/// `samples` w vectors `[N, wDim]` (ψ = 1, the first ws row) from z ~ `NumpyRandomState(seed)`,
/// mapped in chunks.
public func sampleW(generator: StyleGAN2Generator, samples: Int, seed: UInt32,
                    progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
    let zs = sampleZ(zDim: generator.zDim, samples: samples, seed: seed)
    return mapFirstRows(generator: generator, z: zs, progress: progress)
}

/// `[N, zDim]` standard-normal z from `NumpyRandomState(seed)` (as `RandomState(seed).randn(N, zDim)`).
public func sampleZ(zDim: Int, samples: Int, seed: UInt32) -> Tensor {
    var rng = NumpyRandomState(seed: seed)
    return Tensor(shape: [samples, zDim], data: rng.randn(count: samples * zDim).map(Float.init))
}

/// mapping(z) first rows `[N, wDim]`, in chunks of 1000.
public func mapFirstRows(generator: StyleGAN2Generator, z: Tensor, progress: ((Int, Int) -> Void)? = nil) -> Tensor {
    let n = z.shape[0], d = generator.wDim
    var out = Tensor.zeros([n, d])
    var done = 0
    while done < n {
        let m = min(1000, n - done)
        let ws = generator.mapping(z: z.slice(done ..< done + m), truncationPsi: 1)
        let numWs = ws.shape[1]
        for i in 0..<m { for j in 0..<d { out[flat: (done + i) * d + j] = ws[flat: i * numWs * d + j] } }
        done += m
        progress?(done, n)
    }
    return out
}
