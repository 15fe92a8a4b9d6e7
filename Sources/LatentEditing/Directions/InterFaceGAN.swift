import LatentTensor

/// One InterFaceGAN direction (Shen et al., CVPR 2020): the unit normal of a linear boundary in
/// W fitted to labelled latents, optionally made conditional by projecting out other
/// attributes' directions (§3.3).
public struct InterFaceGANDirection: Sendable {
    /// `[wDim]` unit direction, pointing towards the positive class.
    public var direction: Tensor
    /// The unconditioned boundary fit.
    public var boundary: LinearBoundary
    /// Accuracy of `direction` itself on the held-out samples: the boundary's when
    /// unconditioned; with conditions, of a threshold refitted on the same training split.
    public var heldOutAccuracy: Double
    public var trainAccuracy: Double
}

/// Fits the boundary (`fitLinearBoundary`) and, when `conditions` are given, projects them out
/// of its normal (`projectOut`) and measures how well the conditioned direction alone still
/// separates the classes (a 1-D logistic fit on the projections, same seeded split).
///
/// - Parameters:
///   - latents: `[N, wDim]`.
///   - labels: N booleans (true = positive).
///   - conditions: directions `[wDim]` whose attributes must not change.
public func interfaceganDirection(latents: Tensor, labels: [Bool], conditions: [Tensor] = [],
                                  heldOutFraction: Double = 0.3, l2: Double = 0.1, standardize: Bool = false,
                                  seed: UInt64 = 0) throws -> InterFaceGANDirection {
    let b = try fitLinearBoundary(latents: latents, labels: labels, heldOutFraction: heldOutFraction, l2: l2,
                                  standardize: standardize, seed: seed)
    guard !conditions.isEmpty else {
        return InterFaceGANDirection(direction: b.normal, boundary: b, heldOutAccuracy: b.heldOutAccuracy, trainAccuracy: b.trainAccuracy)
    }
    var direction = try projectOut(b.normal, conditions: conditions)
    let projections = matmul(latents, direction.reshaped([direction.count, 1]))   // [N, 1]
    let oneD = try fitLinearBoundary(latents: projections, labels: labels, heldOutFraction: heldOutFraction, l2: 1e-6, seed: seed)
    if oneD.normal[flat: 0] < 0 { direction = direction.map { -$0 } }   // keep pointing at the positive class
    return InterFaceGANDirection(direction: direction, boundary: b, heldOutAccuracy: oneD.heldOutAccuracy, trainAccuracy: oneD.trainAccuracy)
}

/// Methods of `latentlab directions discover`.
public enum DiscoveryMethod: String, Sendable, CaseIterable {
    case sefa, ganspace, interfacegan, regression
}

/// Where CLIP-scored samples are split into the two classes: at score 0 (the closer prompt wins)
/// or at the median score (for a predictor biased towards one side).
public enum LabelSplit: String, Sendable, CaseIterable {
    case zero, median
}

/// Standard deviation of the latents' projections on a unit direction: strengths of about 2σ
/// move a typical sample across an InterFaceGAN boundary.
/// - Parameters: `latents` `[N, wDim]`, `direction` `[wDim]`.
public func projectionStd(latents: Tensor, direction: Tensor) -> Double {
    let proj = matmul(latents, direction.reshaped([direction.count, 1])).doubles
    let mean = proj.reduce(0, +) / Double(proj.count)
    return (proj.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(proj.count)).squareRoot()
}
