import Foundation
import CBLAS
import LatentTensor

/// A linear decision boundary in W (InterFaceGAN; Shen et al., CVPR 2020): the unit normal
/// `normal` (`[wDim]`) points from the negative to the positive class, `bias` is the offset
/// (decision = normal·w + bias > 0), and `heldOutAccuracy` is measured on samples not used
/// for fitting.
public struct LinearBoundary: Sendable {
    public var normal: Tensor
    public var bias: Double
    public var trainAccuracy: Double
    public var heldOutAccuracy: Double
    public var trainCount: Int
    public var heldOutCount: Int
    /// Solver iterations used (Newton steps for the fast fit, gradient steps for the reference).
    public var iterations: Int
}

/// Fits an L2-regularised logistic-regression hyperplane to (latent, label) pairs, holding out
/// `heldOutFraction` of the samples (chosen by a seeded shuffle) to measure accuracy.
///
/// Objective (features centred with the training split's mean, and with `standardize` also
/// divided by each coordinate's standard deviation; bias not penalised):
/// `(1/m) Σ [log(1 + e^{s_i}) − y_i s_i] + (l2/2)‖w‖²`, `s_i = w·x̃_i + b`.
///
/// The ridge decides which normal an edit gets. On raw (centred) W, as InterFaceGAN's SVM, a
/// strong `l2` pulls the normal towards the class-mean difference, the direction along which
/// the generator actually moves samples from one class to the other; standardising (or a weak
/// ridge) gives the most discriminative normal, which in a W with many directions the
/// synthesis network ignores can lean on those and edit nothing visible.
/// It is minimised by damped Newton steps (Hessian `X̃ᵀ D X̃ / m + l2` by one BLAS rank-k
/// update per step, Cholesky solve, Armijo backtracking), which reaches the optimum to
/// machine precision in tens of steps; `fitLinearBoundaryReference` is the plain-loop gradient
/// descent it is tested against. InterFaceGAN fits a linear SVM; on separable data both give
/// nearly the same normal (logistic regression tends to the maximum-margin direction as l2 → 0).
///
/// - Parameters:
///   - latents: `[N, D]`.
///   - labels: N booleans (true = positive).
///   - heldOutFraction: share of samples kept out of the fit (default 0.3, InterFaceGAN's
///     `split_ratio = 0.7`).
///   - l2: ridge weight on the (standardised) coefficients (default 0.1, for raw W).
///   - standardize: divide features by their standard deviation (default false).
///   - iterations: maximum Newton steps (default 100).
///   - seed: seeds the train/held-out shuffle.
public func fitLinearBoundary(latents: Tensor, labels: [Bool], heldOutFraction: Double = 0.3,
                              l2: Double = 0.1, standardize: Bool = false, iterations: Int = 100,
                              seed: UInt64 = 0) throws -> LinearBoundary {
    BLASKernels.prepare()   // direct cblas calls below: the kernel choice must be settled first
    let problem = try LogisticProblem(latents: latents, labels: labels, heldOutFraction: heldOutFraction, l2: l2,
                                      standardize: standardize, seed: seed)
    let m = problem.train.count, p = problem.d + 1
    let xa = problem.standardizedDesign()           // [m, p], last column 1
    let y = problem.train.map { labels[$0] ? 1.0 : 0.0 }
    var theta = [Double](repeating: 0, count: p)
    var s = [Double](repeating: 0, count: m), grad = [Double](repeating: 0, count: p)
    var hess = [Double](repeating: 0, count: p * p), scaled = [Double](repeating: 0, count: m * p)

    func objective(_ th: [Double]) -> Double {
        var ss = [Double](repeating: 0, count: m)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(p), 1, xa, Int32(p), th, 1, 0, &ss, 1)
        var f = 0.0
        for i in 0..<m { f += softplus(ss[i]) - y[i] * ss[i] }
        var r = 0.0
        for j in 0..<p - 1 { r += th[j] * th[j] }
        return f / Double(m) + 0.5 * l2 * r
    }

    var used = 0
    var f = objective(theta)
    for step in 0..<max(iterations, 1) {
        used = step + 1
        cblas_dgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(p), 1, xa, Int32(p), theta, 1, 0, &s, 1)
        var e = [Double](repeating: 0, count: m)
        for i in 0..<m {
            let pr = sigmoid(s[i])
            e[i] = (pr - y[i]) / Double(m)
            // Rows scaled by sqrt(p(1 − p) / m) so the Hessian is one syrk of the scaled design.
            let w = (pr * (1 - pr) / Double(m)).squareRoot()
            for j in 0..<p { scaled[i * p + j] = xa[i * p + j] * w }
        }
        cblas_dgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(p), 1, xa, Int32(p), e, 1, 0, &grad, 1)
        for j in 0..<p - 1 { grad[j] += l2 * theta[j] }
        if grad.reduce(0, { max($0, abs($1)) }) < 1e-12 { break }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(p), Int32(m), 1, scaled, Int32(p), 0, &hess, Int32(p))
        for j in 0..<p - 1 { hess[j * p + j] += l2 }
        hess[(p - 1) * p + p - 1] += 1e-12   // keeps the bias pivot positive when every p(1 − p) underflows
        guard let delta = choleskySolve(hess, grad, n: p) else {
            throw EditingError("boundary fit: the Newton system is singular (duplicate or constant latents?)")
        }
        // gᵀH⁻¹g / 2 estimates f − f*: below 1e-18 the optimum is reached to float precision.
        let decrement = zip(grad, delta).reduce(0) { $0 + $1.0 * $1.1 }
        if decrement < 2e-18 { break }
        var t = 1.0, candidate = theta, fNew = f
        for _ in 0..<40 {
            for j in 0..<p { candidate[j] = theta[j] - t * delta[j] }
            fNew = objective(candidate)
            if fNew <= f - 0.25 * t * decrement { break }
            t *= 0.5
        }
        guard fNew < f else { break }   // no descent left at float precision: at the optimum
        theta = candidate
        f = fNew
    }
    return try problem.boundary(standardizedWeights: Array(theta[0 ..< p - 1]), bias: theta[p - 1], iterations: used)
}

/// The naive reference of `fitLinearBoundary`: the same split, standardisation and objective,
/// minimised by full-batch gradient descent in plain Double loops with step 1/L (L from a power
/// iteration on X̃ᵀX̃). Slow; for tests.
public func fitLinearBoundaryReference(latents: Tensor, labels: [Bool], heldOutFraction: Double = 0.3,
                                       l2: Double = 0.1, standardize: Bool = false, iterations: Int = 2000,
                                       seed: UInt64 = 0) throws -> LinearBoundary {
    BLASKernels.prepare()   // direct cblas calls below: the kernel choice must be settled first
    let problem = try LogisticProblem(latents: latents, labels: labels, heldOutFraction: heldOutFraction, l2: l2,
                                      standardize: standardize, seed: seed)
    let d = problem.d, m = problem.train.count
    let xa = problem.standardizedDesign()
    let ys = problem.train.map { labels[$0] ? 1.0 : 0.0 }
    func row(_ i: Int) -> ArraySlice<Double> { xa[i * (d + 1) ..< (i + 1) * (d + 1)] }
    // λmax(X̃ᵀX̃) by power iteration bounds the loss curvature: L = λmax / (4m) + l2.
    var v = [Double](repeating: 1 / Double(d + 1).squareRoot(), count: d + 1)
    var lam = 0.0
    for _ in 0..<100 {
        var u = [Double](repeating: 0, count: d + 1)
        for i in 0..<m {
            let r = row(i)
            var xv = 0.0
            for (j, x) in r.enumerated() { xv += x * v[j] }
            for (j, x) in r.enumerated() { u[j] += x * xv }
        }
        lam = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard lam > 0 else { break }
        v = u.map { $0 / lam }
    }
    let step = 1 / (lam / (4 * Double(m)) + l2)
    var w = [Double](repeating: 0, count: d + 1)
    for _ in 0..<iterations {
        var g = [Double](repeating: 0, count: d + 1)
        for i in 0..<m {
            let r = row(i)
            var s = 0.0
            for (j, x) in r.enumerated() { s += x * w[j] }
            let e = sigmoid(s) - ys[i]
            for (j, x) in r.enumerated() { g[j] += e * x }
        }
        for j in 0...d { g[j] /= Double(m) }
        for j in 0..<d { g[j] += l2 * w[j] }
        for j in 0...d { w[j] -= step * g[j] }
    }
    return try problem.boundary(standardizedWeights: Array(w[0..<d]), bias: w[d], iterations: iterations)
}

/// The data of one boundary fit: the seeded split and the training standardisation.
struct LogisticProblem {
    let latents: Tensor
    let labels: [Bool]
    let n: Int, d: Int
    let train: [Int], held: [Int]
    let mu: [Double], sd: [Double]

    init(latents: Tensor, labels: [Bool], heldOutFraction: Double, l2: Double, standardize: Bool, seed: UInt64) throws {
        guard latents.rank == 2, latents.shape[0] >= 2, latents.shape[1] >= 1 else {
            throw EditingError("boundary fit: latents must be [N >= 2, D], got \(latents.shape)")
        }
        n = latents.shape[0]; d = latents.shape[1]
        guard labels.count == n else { throw EditingError("boundary fit: \(labels.count) labels for \(n) latents") }
        guard latents.isFinite else { throw EditingError("boundary fit: latents hold NaN or infinity") }
        guard heldOutFraction >= 0, heldOutFraction < 1 else {
            throw EditingError("boundary fit: heldOutFraction must be in [0, 1), got \(heldOutFraction)")
        }
        guard l2 > 0, l2.isFinite else { throw EditingError("boundary fit: l2 must be positive, got \(l2)") }
        self.latents = latents; self.labels = labels
        var order = Array(0..<n)
        var rng = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15)  // same stream as the shipped files were split with
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let nHeld = min(n - 2, Int((Double(n) * heldOutFraction).rounded()))
        held = Array(order.prefix(nHeld)); train = Array(order.dropFirst(nHeld))
        let trainLabels = Set(train.map { labels[$0] })
        guard trainLabels.count == 2 else {
            let only = trainLabels.first.map { $0 ? "positive" : "negative" } ?? "missing"
            throw EditingError("boundary fit: the training labels are all \(only); need both classes")
        }
        var mu = [Double](repeating: 0, count: d), sd = [Double](repeating: 0, count: d)
        let rows = train, dim = d
        latents.withUnsafeBufferPointer { x in
            for i in rows { for j in 0..<dim { mu[j] += Double(x[i * dim + j]) } }
            for j in 0..<dim { mu[j] /= Double(rows.count) }
            for i in rows { for j in 0..<dim { let v = Double(x[i * dim + j]) - mu[j]; sd[j] += v * v } }
        }
        // A constant coordinate gets unit scale: its standardised value is 0 and drops out.
        for j in 0..<d { let s = (sd[j] / Double(train.count)).squareRoot(); sd[j] = standardize && s > 1e-12 ? s : 1 }
        self.mu = mu; self.sd = sd
    }

    /// Training rows standardised, with a trailing 1 for the bias: `[m, D + 1]` row-major.
    func standardizedDesign() -> [Double] {
        var out = [Double](repeating: 1, count: train.count * (d + 1))
        latents.withUnsafeBufferPointer { x in
            for (r, i) in train.enumerated() {
                for j in 0..<d { out[r * (d + 1) + j] = (Double(x[i * d + j]) - mu[j]) / sd[j] }
            }
        }
        return out
    }

    /// Maps standardised coefficients back to a unit normal in raw W and scores both splits:
    /// s = Σ w_j (x_j − μ_j)/σ_j + b = Σ (w_j/σ_j) x_j + (b − Σ w_j μ_j/σ_j).
    func boundary(standardizedWeights w: [Double], bias b: Double, iterations: Int) throws -> LinearBoundary {
        var normal = (0..<d).map { w[$0] / sd[$0] }
        var bias = b - (0..<d).reduce(0) { $0 + w[$1] * mu[$1] / sd[$1] }
        let norm = normal.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0, norm.isFinite else {
            throw EditingError("boundary fit found no direction (labels independent of the latents?)")
        }
        normal = normal.map { $0 / norm }
        bias /= norm
        func accuracy(_ idx: [Int]) -> Double {
            guard !idx.isEmpty else { return .nan }
            var ok = 0
            latents.withUnsafeBufferPointer { x in
                for i in idx {
                    var s = bias
                    for j in 0..<d { s += normal[j] * Double(x[i * d + j]) }
                    if (s > 0) == labels[i] { ok += 1 }
                }
            }
            return Double(ok) / Double(idx.count)
        }
        return LinearBoundary(normal: Tensor(shape: [d], data: normal.map(Float.init)), bias: bias,
                              trainAccuracy: accuracy(train), heldOutAccuracy: accuracy(held),
                              trainCount: train.count, heldOutCount: held.count, iterations: iterations)
    }
}

@inline(__always) func sigmoid(_ s: Double) -> Double {
    s >= 0 ? 1 / (1 + Foundation.exp(-s)) : { let e = Foundation.exp(s); return e / (1 + e) }()
}

/// log(1 + e^s) without overflow.
@inline(__always) func softplus(_ s: Double) -> Double { max(s, 0) + Foundation.log1p(Foundation.exp(-abs(s))) }

/// Solves `A x = b` for symmetric positive definite `A` `[n, n]` (row-major; upper triangle
/// read) by Cholesky, in Double. Nil when A is not numerically positive definite.
func choleskySolve(_ a: [Double], _ b: [Double], n: Int) -> [Double]? {
    // L Lᵀ = A, built column by column from the upper triangle (A[j][i] for i ≥ j).
    var l = [Double](repeating: 0, count: n * n)
    let ok: Bool = l.withUnsafeMutableBufferPointer { L in
        for j in 0..<n {
            var diag = a[j * n + j]
            for k in 0..<j { diag -= L[j * n + k] * L[j * n + k] }
            guard diag > 0, diag.isFinite else { return false }
            let ljj = diag.squareRoot()
            L[j * n + j] = ljj
            for i in j + 1 ..< n {
                var v = a[j * n + i]
                let ri = i * n, rj = j * n
                for k in 0..<j { v -= L[ri + k] * L[rj + k] }
                L[ri + j] = v / ljj
            }
        }
        return true
    }
    guard ok else { return nil }
    var x = b
    for i in 0..<n {   // L y = b
        var v = x[i]
        for k in 0..<i { v -= l[i * n + k] * x[k] }
        x[i] = v / l[i * n + i]
    }
    for i in stride(from: n - 1, through: 0, by: -1) {   // Lᵀ x = y
        var v = x[i]
        for k in i + 1 ..< n { v -= l[k * n + i] * x[k] }
        x[i] = v / l[i * n + i]
    }
    return x
}
