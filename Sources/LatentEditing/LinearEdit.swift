import LatentTensor

/// Moves latents along a direction on a range of ws rows: `ws[:, layers, :] += strength · direction`.
///
/// - Parameters:
///   - ws: `[N, numWs, wDim]`.
///   - direction: `[wDim]` (usually unit length; strengths are then distances in W).
///   - strength: step along the direction.
///   - layers: ws rows to edit (half-open); earlier rows steer coarse structure, later rows
///     colour and texture.
public func applyDirection(ws: Tensor, direction: Tensor, strength: Float, layers: Range<Int>) throws -> Tensor {
    guard ws.rank == 3 else { throw EditingError("ws must be [N, numWs, wDim], got \(ws.shape)") }
    let n = ws.shape[0], numWs = ws.shape[1], d = ws.shape[2]
    guard direction.count == d else { throw EditingError("direction has \(direction.count) entries, latents have wDim \(d)") }
    guard layers.lowerBound >= 0, layers.upperBound <= numWs, !layers.isEmpty else {
        throw EditingError("layer range \(layers.lowerBound)-\(layers.upperBound - 1) is outside 0-\(numWs - 1)")
    }
    guard strength.isFinite else { throw EditingError("strength must be finite") }
    var out = ws
    out.withUnsafeMutableBufferPointer { p in
        direction.withUnsafeBufferPointer { v in
            for i in 0..<n { for r in layers { let row = (i * numWs + r) * d
                for j in 0..<d { p[row + j] += strength * v[j] }
            } }
        }
    }
    return out
}
