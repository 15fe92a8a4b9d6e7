import LatentTensor

/// e4e's delta-norm regulariser (`delta_norm_lambda`, default 2e-4 there): the mean over the batch
/// of `Σ_{i=1…stage} ‖Δi‖₂` (the unsquared L2 norm of each per-style offset), which keeps the
/// codes near a single w (editability) while the deltas are allowed.
///
/// - Parameters: `deltas [N, numWs, wDim]` (row 0 and rows above `stage` are ignored).
/// - Returns: the value and `∂/∂Δ` = `Δi / (N‖Δi‖)` (zero where `Δi = 0`).
public func deltaNormRegularizer(deltas: Tensor, stage: Int) -> (value: Double, gradient: Tensor) {
    precondition(deltas.rank == 3, "deltaNormRegularizer: deltas must be [N, numWs, wDim], got \(deltas.shape)")
    let n = deltas.shape[0], numWs = deltas.shape[1], d = deltas.shape[2]
    precondition(stage >= 0 && stage < numWs, "deltaNormRegularizer: stage \(stage) outside 0..<\(numWs)")
    var grad = Tensor.zeros(deltas.shape)
    var total = 0.0
    for s in 0..<n { for i in stride(from: 1, through: stage, by: 1) {
        let base = (s * numWs + i) * d
        var sq = 0.0
        for j in 0..<d { let v = Double(deltas.storage[base + j]); sq += v * v }
        let norm = sq.squareRoot()
        total += norm
        guard norm > 0 else { continue }
        for j in 0..<d { grad.storage[base + j] = Float(Double(deltas.storage[base + j]) / (norm * Double(n))) }
    } }
    return (total / Double(n), grad)
}
