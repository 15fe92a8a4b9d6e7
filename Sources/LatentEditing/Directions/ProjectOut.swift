import LatentTensor

/// Conditional editing (InterFaceGAN §3.3, `project_boundary`): removes from `primary` its
/// components along every direction in `conditions` (Gram–Schmidt on the conditions first, so
/// any number of them works, where the reference handles one or two), so moving along the
/// result leaves those attributes' decision values unchanged. All vectors `[D]`; the result is
/// unit length.
public func projectOut(_ primary: Tensor, conditions: [Tensor]) throws -> Tensor {
    let d = primary.count
    guard d > 0, primary.isFinite else { throw EditingError("projectOut: the primary direction is empty or not finite") }
    var basis: [[Double]] = []
    for (i, c) in conditions.enumerated() {
        guard c.count == d, c.isFinite else {
            throw EditingError("projectOut: condition \(i) has \(c.count) entries (need \(d), finite)")
        }
        var v = c.doubles
        // Two passes of Gram–Schmidt keep the basis orthogonal to rounding error.
        for _ in 0..<2 { for b in basis { let dot = zip(v, b).reduce(0) { $0 + $1.0 * $1.1 }; v = zip(v, b).map { $0 - dot * $1 } } }
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let scale = c.doubles.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if n > 1e-9 * max(scale, 1e-300) { basis.append(v.map { $0 / n }) }
    }
    var p = primary.doubles
    let scale = p.reduce(0) { $0 + $1 * $1 }.squareRoot()
    for _ in 0..<2 { for b in basis { let dot = zip(p, b).reduce(0) { $0 + $1.0 * $1.1 }; p = zip(p, b).map { $0 - dot * $1 } } }
    let n = p.reduce(0) { $0 + $1 * $1 }.squareRoot()
    guard n > 1e-6 * scale else { throw EditingError("projectOut: the primary direction lies in the span of the conditions") }
    return Tensor(shape: primary.shape, data: p.map { Float($0 / n) })
}
