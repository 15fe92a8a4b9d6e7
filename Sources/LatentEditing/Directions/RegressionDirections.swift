import Foundation
import CBLAS
import LatentTensor

/// Directions from continuous attribute values of latents (e.g. factors measured on inverted
/// real images): a ridge regression of every attribute on the latents, then for each attribute
/// the smallest move in W that changes it by one unit while holding every other attribute of
/// the fit (the conditional direction of InterFaceGAN §3.3, generalised from projecting out
/// boundary normals to solving the joint linear model).
///
/// Why regression and not a boundary: a real-image attribute such as an object's height or
/// hue is continuous, and a recipe wants to move it by a stated amount or set it to a value
/// ("make the object red" from any starting hue). The fit's readout `B` `[K, wDim]` and bias
/// predict each attribute from a latent, so an edit can compute its strength per image.
public struct RegressionDirections: Sendable {
    /// Attribute names, in the order of the fit.
    public var names: [String]
    /// `[K, wDim]` unit directions: direction k changes attribute k and, to first order, no other.
    public var directions: Tensor
    /// Attribute change per unit step along each direction (1 / the unscaled direction's norm).
    public var unitChange: [Double]
    /// `[K, wDim]` ridge readout and `[K]` bias: attribute k ≈ bias[k] + readout[k] · w.
    public var readout: Tensor
    public var bias: [Double]
    /// Per attribute: the relative ridge weight chosen on the held-out samples, the held-out R²
    /// there, and the training R² of the final fit (all samples).
    public var ridge: [Double]
    public var heldOutR2: [Double]
    public var trainR2: [Double]
    public var heldOutCount: Int
    /// Standard deviation of the samples' projections on each direction.
    public var projectionStd: [Double]
    public var metric: RegressionMetric
}

/// Which move a regression direction is: both change one attribute by a unit and hold the others
/// (to first order); they differ in what "smallest" means.
public enum RegressionMetric: String, Sendable, CaseIterable {
    /// Smallest in the latents' own Mahalanobis norm: the move leans on directions along which the
    /// latents vary (≈ the covariance of the latents with the attribute, like a class-mean
    /// difference), which the generator renders. The default.
    case covariance
    /// Smallest Euclidean move: leans on low-variance directions the readout finds predictive,
    /// which a generator may barely render (measured: `Bench/directions.md`).
    case euclidean
}

/// Relative ridge weights tried per attribute: λ = r · trace(XᵀX) / wDim.
public let regressionRidgeGrid: [Double] = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]

/// Fits `RegressionDirections`.
/// - Parameters:
///   - latents: `[N, wDim]` (for W+ codes, the mean of the ws rows the edit will move).
///   - values: `[N][K]` attribute values, finite.
///   - heldOutFraction: share of samples (seeded shuffle) that chooses each attribute's ridge
///     weight from `regressionRidgeGrid` by R²; the final fit then uses every sample.
/// - Throws: `EditingError` for too few samples, non-finite values or a degenerate fit (an
///   attribute the others determine: the joint system cannot hold them fixed).
public func fitRegressionDirections(latents: Tensor, values: [[Double]], names: [String], metric: RegressionMetric = .covariance,
                                    heldOutFraction: Double = 0.3, seed: UInt64 = 0) throws -> RegressionDirections {
    guard latents.rank == 2 else { throw EditingError("regression: latents must be [N, wDim], got \(latents.shape)") }
    let n = latents.shape[0], d = latents.shape[1], k = names.count
    guard k >= 1, Set(names).count == k else { throw EditingError("regression: attribute names must be unique and non-empty: \(names)") }
    guard values.count == n, values.allSatisfy({ $0.count == k }) else {
        throw EditingError("regression: \(values.count) value rows of \(k) for \(n) latents")
    }
    guard values.allSatisfy({ $0.allSatisfy(\.isFinite) }), latents.isFinite else { throw EditingError("regression: non-finite latents or values") }
    guard heldOutFraction > 0, heldOutFraction < 1 else { throw EditingError("regression: held-out fraction must be in (0, 1)") }
    let nHeld = Int((Double(n) * heldOutFraction).rounded())
    guard nHeld >= 2, n - nHeld >= 2 else { throw EditingError("regression: \(n) samples are too few to hold \(nHeld) out") }
    let x = latents.doubles
    var order = Array(0..<n)
    var rng = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
    for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    let held = Array(order[..<nHeld]), train = Array(order[nHeld...])

    // Ridge path for every λ of the grid from one eigen-decomposition of the centred Gram matrix.
    let trainFit = try RidgePath(x: x, d: d, rows: train, values: values, k: k)
    var ridge = [Double](repeating: 0, count: k), heldR2 = ridge
    for a in 0..<k {
        var best = (r2: -Double.infinity, r: 0.0)
        for r in regressionRidgeGrid {
            let (beta, b0) = trainFit.solve(attribute: a, relativeRidge: r)
            let r2 = rSquared(x: x, d: d, rows: held, beta: beta, bias: b0) { values[$0][a] }
            if r2 > best.r2 { best = (r2, r) }
        }
        ridge[a] = best.r; heldR2[a] = best.r2
    }
    let full = try RidgePath(x: x, d: d, rows: Array(0..<n), values: values, k: k)
    var readout = [[Double]](), bias = [Double](), trainR2 = [Double]()
    for a in 0..<k {
        let (beta, b0) = full.solve(attribute: a, relativeRidge: ridge[a])
        readout.append(beta); bias.append(b0)
        trainR2.append(rSquared(x: x, d: d, rows: Array(0..<n), beta: beta, bias: b0) { values[$0][a] })
    }
    // Conditional directions: D = M Bᵀ (B M Bᵀ)⁻¹, so B · D[:, j] = e_j (attribute j moves by one, the others by
    // none), each the smallest such move in the norm dᵀ M⁻¹ d: M = I (Euclidean) or the latents' covariance.
    let moved: [[Double]] = metric == .euclidean ? readout : full.covarianceTimes(readout)
    var gram = [Double](repeating: 0, count: k * k)
    for i in 0..<k { for j in 0..<k { gram[i * k + j] = zip(readout[i], moved[j]).reduce(0) { $0 + $1.0 * $1.1 } } }
    let (ev, evec) = try symmetricEigen(gram, n: k)
    guard let top = ev.first, top > 0, ev.allSatisfy({ $0 > top * 1e-10 }) else {
        throw EditingError("regression: the attributes' readouts are linearly dependent (\(names.joined(separator: ", "))): one cannot change while the others hold")
    }
    var dirs = [Float](), unit = [Double]()
    for j in 0..<k {
        // column j of (B M Bᵀ)⁻¹ = Σ_m v_m v_m[j] / λ_m
        var c = [Double](repeating: 0, count: k)
        for m in 0..<k { for i in 0..<k { c[i] += evec[m][i] * evec[m][j] / ev[m] } }
        var dir = [Double](repeating: 0, count: d)
        for i in 0..<k { for t in 0..<d { dir[t] += c[i] * moved[i][t] } }
        let norm = dir.reduce(0) { $0 + $1 * $1 }.squareRoot()
        dirs += dir.map { Float($0 / norm) }
        unit.append(1 / norm)
    }
    let directions = Tensor(shape: [k, d], data: dirs)
    let spread = (0..<k).map { projectionStd(latents: latents, direction: directions.row($0)) }
    return RegressionDirections(names: names, directions: directions, unitChange: unit,
                                readout: Tensor(shape: [k, d], data: readout.flatMap { $0.map(Float.init) }), bias: bias,
                                ridge: ridge, heldOutR2: heldR2, trainR2: trainR2, heldOutCount: nHeld, projectionStd: spread, metric: metric)
}

/// Coefficient of determination of `bias + beta · x` on `rows`.
private func rSquared(x: [Double], d: Int, rows: [Int], beta: [Double], bias: Double, value: (Int) -> Double) -> Double {
    let ys = rows.map(value)
    let mean = ys.reduce(0, +) / Double(ys.count)
    var ssRes = 0.0, ssTot = 0.0
    for (i, s) in rows.enumerated() {
        var p = bias
        for t in 0..<d { p += beta[t] * x[s * d + t] }
        ssRes += (ys[i] - p) * (ys[i] - p); ssTot += (ys[i] - mean) * (ys[i] - mean)
    }
    return ssTot > 0 ? 1 - ssRes / ssTot : 0
}

/// Ridge regression of K attributes on centred latents for any λ: with XᵀX = V Λ Vᵀ,
/// β(λ) = V (Λ + λ)⁻¹ Vᵀ Xᵀ y, so one `[wDim, wDim]` eigen-decomposition serves the whole grid.
private struct RidgePath {
    let d: Int
    let meanX: [Double], meanY: [Double]
    let values: [Double], vectors: [[Double]]
    /// `[K][wDim]`: Vᵀ Xᵀ y_k per attribute.
    let projected: [[Double]]
    let scale: Double
    let count: Double

    init(x: [Double], d: Int, rows: [Int], values y: [[Double]], k: Int) throws {
        self.d = d
        let m = Double(rows.count)
        count = m
        var mx = [Double](repeating: 0, count: d), my = [Double](repeating: 0, count: k)
        for s in rows { for t in 0..<d { mx[t] += x[s * d + t] }; for a in 0..<k { my[a] += y[s][a] } }
        mx = mx.map { $0 / m }; my = my.map { $0 / m }
        var xc = [Double](repeating: 0, count: rows.count * d)
        for (i, s) in rows.enumerated() { for t in 0..<d { xc[i * d + t] = x[s * d + t] - mx[t] } }
        var gram = [Double](repeating: 0, count: d * d)
        BLASKernels.prepare()
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(rows.count), 1, xc, Int32(d), 0, &gram, Int32(d))
        let (ev, vec) = try symmetricEigen(gram, n: d)
        var proj = [[Double]]()
        for a in 0..<k {
            var xty = [Double](repeating: 0, count: d)
            for (i, s) in rows.enumerated() { let yc = y[s][a] - my[a]; for t in 0..<d { xty[t] += xc[i * d + t] * yc } }
            proj.append(vec.map { v in zip(v, xty).reduce(0) { $0 + $1.0 * $1.1 } })
        }
        meanX = mx; meanY = my; values = ev.map { max($0, 0) }; vectors = vec; projected = proj
        scale = max(ev.reduce(0) { $0 + max($1, 0) } / Double(d), 1e-30)
    }

    /// `Σ · v` for each v (rows `[wDim]`), Σ = XᵀX / N the latents' covariance.
    func covarianceTimes(_ vs: [[Double]]) -> [[Double]] {
        vs.map { v in
            // Σ v = V diag(values / N) Vᵀ v
            var out = [Double](repeating: 0, count: d)
            for (m, e) in vectors.enumerated() {
                let c = zip(e, v).reduce(0) { $0 + $1.0 * $1.1 } * values[m] / count
                for t in 0..<d { out[t] += c * e[t] }
            }
            return out
        }
    }

    /// `(beta [wDim], bias)` for attribute `a` at λ = `relativeRidge` · mean eigenvalue.
    func solve(attribute a: Int, relativeRidge r: Double) -> ([Double], Double) {
        let lambda = r * scale
        var beta = [Double](repeating: 0, count: d)
        for (m, v) in vectors.enumerated() {
            let c = projected[a][m] / (values[m] + lambda)
            for t in 0..<d { beta[t] += c * v[t] }
        }
        let b0 = meanY[a] - zip(beta, meanX).reduce(0) { $0 + $1.0 * $1.1 }
        return (beta, b0)
    }
}

extension RegressionDirections {
    /// The direction file: unit directions, `scales` = attribute change per unit strength,
    /// the readout for `target`/`change` recipe steps, and the fit's figures as provenance.
    public func directionSet(generatorFingerprint: String, layers: Range<Int>, info extra: [String: String]) -> DirectionSet {
        func list(_ v: [Double]) -> String { "[" + v.map { String(format: "%.6g", $0) }.joined(separator: ", ") + "]" }
        var info = extra
        info["scale_meaning"] = "attribute change per unit strength"
        info["held_out_r2"] = list(heldOutR2)
        info["train_r2"] = list(trainR2)
        info["ridge"] = list(ridge)
        info["held_out_count"] = "\(heldOutCount)"
        info["projection_std"] = list(projectionStd)
        info["conditioned_on"] = "every other attribute of the file (held fixed by the joint fit)"
        info["metric"] = metric.rawValue
        return DirectionSet(names: names, directions: directions, scales: unitChange.map(Float.init), method: "regression",
                            generatorFingerprint: generatorFingerprint, layers: layers, info: info,
                            readout: readout, readoutBias: bias.map(Float.init))
    }
}

/// A table of attribute values per latent: the `--labels` CSV of `directions discover
/// --method regression`. The header names the columns: `latent` (a latent.npz or its folder,
/// relative to the latents folder) or `seed` (z = RandomState(seed).randn(zDim), mapped) first,
/// then one numeric column per attribute.
public struct AttributeTable: Sendable {
    public var names: [String]
    /// Entries of the first column: latent paths, or seeds when `seeds` is non-nil.
    public var latents: [String]
    /// The first column as seeds (header `seed`), nil for latent paths.
    public var seeds: [UInt32]?
    /// `[rows][names.count]`.
    public var values: [[Double]]

    /// Parses the CSV; `keep` (if not empty) selects and orders attribute columns by name.
    /// - Throws: `EditingError` naming `source` and the line for a missing header, a missing or
    ///   unknown column, a short row or a value that is not a finite number.
    public init(csv text: String, source: String, keep: [String] = []) throws {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }),
              header.first == "latent" || header.first == "seed", header.count >= 2 else {
            throw EditingError("\(source):1: expected a header 'latent,ATTRIBUTE,…' or 'seed,ATTRIBUTE,…'")
        }
        let bySeed = header[0] == "seed"
        let columns = Array(header.dropFirst())
        let chosen = keep.isEmpty ? Array(columns.indices) : try keep.map { name in
            guard let i = columns.firstIndex(of: name) else { throw EditingError("\(source): no column '\(name)' (have: \(columns.joined(separator: ", ")))") }
            return i
        }
        names = chosen.map { columns[$0] }
        guard Set(names).count == names.count else { throw EditingError("\(source): attribute columns repeat: \(names)") }
        latents = []; values = []
        for (n, line) in lines.enumerated().dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == header.count else { throw EditingError("\(source):\(n + 1): \(f.count) fields, the header has \(header.count)") }
            let row = try chosen.map { i -> Double in
                guard let v = Double(f[i + 1]), v.isFinite else { throw EditingError("\(source):\(n + 1): '\(f[i + 1].prefix(20))' is not a finite number") }
                return v
            }
            if bySeed, UInt32(f[0]) == nil { throw EditingError("\(source):\(n + 1): bad seed '\(f[0].prefix(20))'") }
            latents.append(f[0]); values.append(row)
        }
        guard !latents.isEmpty else { throw EditingError("\(source): no rows") }
        seeds = bySeed ? latents.map { UInt32($0)! } : nil
    }
}
