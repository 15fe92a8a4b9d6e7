import LatentTensor

/// NVlabs `MappingNetwork` (unconditional): `normalize_2nd_moment(z)`, `num_layers` lrelu
/// fully-connected layers with `lr_multiplier` 0.01, broadcast to `num_ws`, truncation toward `w_avg`.
struct MappingNetwork: Sendable {
    let layers: [FullyConnectedLayer]
    /// `[wDim]`.
    let wAvg: Tensor
    let zDim: Int, wDim: Int, numWs: Int

    /// - Parameters:
    ///   - z: `[N, zDim]`.
    ///   - truncationPsi: 1 = none; `w = w_avg.lerp(w, ψ)`.
    ///   - truncationCutoff: truncate only the first `cutoff` of the `numWs` rows (nil = all).
    /// - Returns: `[N, numWs, wDim]`.
    func callAsFunction(z: Tensor, truncationPsi: Float = 1, truncationCutoff: Int? = nil) -> Tensor {
        precondition(z.rank == 2 && z.shape[1] == zDim, "mapping: z must be [N, \(zDim)], got \(z.shape)")
        let n = z.shape[0]
        // normalize_2nd_moment: x · rsqrt(mean(x²) + 1e-8) over the feature axis.
        var x = z
        for r in 0..<n {
            var ss: Float = 0
            for j in 0..<zDim { let v = z.storage[r * zDim + j]; ss += v * v }
            let scale = 1 / (ss / Float(zDim) + 1e-8).squareRoot()
            for j in 0..<zDim { x.storage[r * zDim + j] = z.storage[r * zDim + j] * scale }
        }
        for layer in layers { x = layer(x) }
        var ws = Tensor.zeros([n, numWs, wDim])
        let cutoff = min(truncationCutoff ?? numWs, numWs)
        for r in 0..<n {
            for l in 0..<numWs {
                for j in 0..<wDim {
                    var v = x.storage[r * wDim + j]
                    if truncationPsi != 1 && l < cutoff { v = lerp(wAvg.storage[j], v, truncationPsi) }
                    ws.storage[(r * numWs + l) * wDim + j] = v
                }
            }
        }
        return ws
    }
}

/// `torch.lerp(start, end, weight)` with torch's two-sided formula (exact at both ends).
@inline(__always) func lerp(_ start: Float, _ end: Float, _ weight: Float) -> Float {
    let diff = end - start
    return weight < 0.5 ? start + weight * diff : end - diff * (1 - weight)
}
