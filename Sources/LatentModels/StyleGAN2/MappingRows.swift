import LatentTensor

/// mapping(z) at ψ = 1, first ws row only: `[N, zDim]` → `[N, wDim]` (every row of ws is the
/// same w before truncation or editing), mapped in chunks of 1000 to bound memory.
/// - Parameter progress: called with (mapped, total) after each chunk.
public func mapFirstRows(generator: StyleGAN2Generator, z: Tensor, progress: ((Int, Int) -> Void)? = nil) -> Tensor {
    precondition(z.rank == 2 && z.shape[1] == generator.zDim, "mapFirstRows: z must be [N, \(generator.zDim)], got \(z.shape)")
    let n = z.shape[0], d = generator.wDim
    var out = Tensor.zeros([n, d])
    var done = 0
    while done < n {
        let m = min(1000, n - done)
        let ws = generator.mapping(z: z.slice(done ..< done + m), truncationPsi: 1)
        let numWs = ws.shape[1]
        out.withUnsafeMutableBufferPointer { o in
            ws.withUnsafeBufferPointer { src in
                for i in 0..<m {
                    (o.baseAddress! + (done + i) * d).update(from: src.baseAddress! + i * numWs * d, count: d)
                }
            }
        }
        done += m
        progress?(done, n)
    }
    return out
}

/// `[N, numWs, wDim]` with every row equal to the sample's w, as mapping returns it.
/// - Parameter w: `[N, wDim]` or `[N, 1, wDim]` (a W-space latent).
public func broadcastToWs(_ w: Tensor, numWs: Int) -> Tensor {
    precondition(w.rank == 2 || (w.rank == 3 && w.shape[1] == 1), "broadcastToWs: w must be [N, wDim] or [N, 1, wDim], got \(w.shape)")
    let n = w.shape[0], d = w.shape[w.rank - 1]
    var out = Tensor.zeros([n, numWs, d])
    out.withUnsafeMutableBufferPointer { o in
        w.withUnsafeBufferPointer { src in
            for i in 0..<n { for r in 0..<numWs {
                (o.baseAddress! + (i * numWs + r) * d).update(from: src.baseAddress! + i * d, count: d)
            } }
        }
    }
    return out
}
