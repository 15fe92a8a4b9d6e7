import Foundation
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
}

/// Fits an L2-regularised logistic-regression hyperplane to (latent, label) pairs, holding out
/// `heldOutFraction` of the samples (chosen by a seeded shuffle) to measure accuracy.
///
/// Plain full-batch gradient descent with step 1/L (L = the loss's Lipschitz constant from a
/// power iteration on XᵀX), on standardised features, is deterministic and converges for this
/// convex problem; InterFaceGAN's linear SVM gives the same direction on separable data up to
/// the margin criterion.
///
/// - Parameters:
///   - latents: `[N, D]`.
///   - labels: N booleans (true = positive).
public func fitLinearBoundary(latents: Tensor, labels: [Bool], heldOutFraction: Double = 0.2,
                              l2: Double = 1e-3, iterations: Int = 2000, seed: UInt64 = 0) throws -> LinearBoundary {
    let n = latents.shape[0], d = latents.shape[1]
    guard labels.count == n else { throw EditingError("\(labels.count) labels for \(n) latents") }
    guard Set(labels).count == 2 else { throw EditingError("labels are all \(labels.first.map { $0 ? "positive" : "negative" } ?? "missing"): need both classes") }
    // Seeded Fisher–Yates split.
    var order = Array(0..<n)
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(next() % UInt64(i + 1))) }
    let nHeld = min(n - 2, Int((Double(n) * heldOutFraction).rounded()))
    let held = Array(order.prefix(nHeld)), train = Array(order.dropFirst(nHeld))

    // Standardise with training statistics so one step size suits every coordinate.
    var mu = [Double](repeating: 0, count: d), sd = [Double](repeating: 0, count: d)
    for i in train { for j in 0..<d { mu[j] += Double(latents[flat: i * d + j]) } }
    for j in 0..<d { mu[j] /= Double(train.count) }
    for i in train { for j in 0..<d { let v = Double(latents[flat: i * d + j]) - mu[j]; sd[j] += v * v } }
    for j in 0..<d { sd[j] = max((sd[j] / Double(train.count)).squareRoot(), 1e-12) }
    func x(_ i: Int, _ j: Int) -> Double { (Double(latents[flat: i * d + j]) - mu[j]) / sd[j] }
    let xs = train.map { i in (0..<d).map { x(i, $0) } }
    let ys = train.map { labels[$0] ? 1.0 : 0.0 }

    // Lipschitz constant of the mean logistic loss: λmax(XᵀX)/(4m) + l2 (bias column included).
    var v = [Double](repeating: 1 / Double(d + 1).squareRoot(), count: d + 1)
    var lam = 0.0
    for _ in 0..<50 {
        var xv = [Double](repeating: 0, count: xs.count)
        for (r, row) in xs.enumerated() { var s = v[d]; for j in 0..<d { s += row[j] * v[j] }; xv[r] = s }
        var u = [Double](repeating: 0, count: d + 1)
        for (r, row) in xs.enumerated() { for j in 0..<d { u[j] += row[j] * xv[r] }; u[d] += xv[r] }
        lam = (u.reduce(0) { $0 + $1 * $1 }).squareRoot()
        guard lam > 0 else { break }
        v = u.map { $0 / lam }
    }
    let step = 1 / (lam / (4 * Double(xs.count)) + l2)
    var w = [Double](repeating: 0, count: d), b = 0.0
    for _ in 0..<iterations {
        var gw = [Double](repeating: 0, count: d), gb = 0.0
        for (r, row) in xs.enumerated() {
            var s = b
            for j in 0..<d { s += row[j] * w[j] }
            let p = 1 / (1 + Foundation.exp(-s))
            let e = p - ys[r]
            for j in 0..<d { gw[j] += e * row[j] }
            gb += e
        }
        let m = Double(xs.count)
        for j in 0..<d { w[j] -= step * (gw[j] / m + l2 * w[j]) }
        b -= step * gb / m
    }
    // Back to raw W coordinates: s = Σ w_j (x_j − μ_j)/σ_j + b = Σ (w_j/σ_j) x_j + (b − Σ w_j μ_j/σ_j).
    var normal = (0..<d).map { w[$0] / sd[$0] }
    var bias = b - (0..<d).reduce(0) { $0 + w[$1] * mu[$1] / sd[$1] }
    let norm = normal.reduce(0) { $0 + $1 * $1 }.squareRoot()
    guard norm > 0 else { throw EditingError("boundary fit found no direction (labels independent of the latents?)") }
    normal = normal.map { $0 / norm }
    bias /= norm
    func accuracy(_ idx: [Int]) -> Double {
        guard !idx.isEmpty else { return .nan }
        var ok = 0
        for i in idx {
            var s = bias
            for j in 0..<d { s += normal[j] * Double(latents[flat: i * d + j]) }
            if (s > 0) == labels[i] { ok += 1 }
        }
        return Double(ok) / Double(idx.count)
    }
    return LinearBoundary(normal: Tensor(shape: [d], data: normal.map(Float.init)), bias: bias,
                          trainAccuracy: accuracy(train), heldOutAccuracy: accuracy(held),
                          trainCount: train.count, heldOutCount: held.count)
}

/// Conditional editing (InterFaceGAN §3.3): removes from `primary` its components along the
/// `conditions` (Gram–Schmidt), so moving along the result leaves those attributes' decision
/// values unchanged. All vectors `[D]`; the result is unit length.
public func projectOut(_ primary: Tensor, conditions: [Tensor]) throws -> Tensor {
    var basis: [[Double]] = []
    for c in conditions {
        var v = c.doubles
        for b in basis { let dot = zip(v, b).reduce(0) { $0 + $1.0 * $1.1 }; v = zip(v, b).map { $0 - dot * $1 } }
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if n > 1e-9 { basis.append(v.map { $0 / n }) }
    }
    var p = primary.doubles
    for b in basis { let dot = zip(p, b).reduce(0) { $0 + $1.0 * $1.1 }; p = zip(p, b).map { $0 - dot * $1 } }
    let n = p.reduce(0) { $0 + $1 * $1 }.squareRoot()
    guard n > 1e-9 else { throw EditingError("the primary direction lies in the span of the conditions") }
    return Tensor(shape: primary.shape, data: p.map { Float($0 / n) })
}
