import LatentTensor
import LatentModels

/// `[N, zDim]` standard-normal z drawn in one stream, as `np.random.RandomState(seed).randn(N, zDim)`.
public func sampleZ(zDim: Int, samples: Int, seed: UInt32) -> Tensor {
    var rng = NumpyRandomState(seed: seed)
    return Tensor(shape: [samples, zDim], data: rng.randn(count: samples * zDim).map(Float.init))
}

/// `[N, zDim]`: one z per seed, each `RandomState(seed).randn(1, zDim)` as NVIDIA's `--seeds`
/// (so a `seed,label` CSV and `latentlab generate --seeds` name the same samples).
public func zFromSeeds(_ seeds: [UInt32], zDim: Int) -> Tensor {
    var data = [Float]()
    data.reserveCapacity(seeds.count * zDim)
    for s in seeds {
        var rng = NumpyRandomState(seed: s)
        data += rng.randn(count: zDim).map(Float.init)
    }
    return Tensor(shape: [seeds.count, zDim], data: data)
}

/// `samples` w vectors `[N, wDim]` (ψ = 1, the first ws row) from `sampleZ(seed:)`.
public func sampleW(generator: StyleGAN2Generator, samples: Int, seed: UInt32,
                    progress: ((Int, Int) -> Void)? = nil) -> Tensor {
    mapFirstRows(generator: generator, z: sampleZ(zDim: generator.zDim, samples: samples, seed: seed), progress: progress)
}

/// mapping(z) at ψ = 1, first ws row only: `[N, zDim]` → `[N, wDim]` (every row of ws is the
/// same w before truncation or editing), mapped in chunks of 1000 to bound memory.
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

/// `[N, numWs, wDim]` with every row equal to the sample's w (`[N, wDim]`), as mapping returns it.
public func broadcastToWs(_ w: Tensor, numWs: Int) -> Tensor {
    precondition(w.rank == 2, "broadcastToWs: w must be [N, wDim], got \(w.shape)")
    let n = w.shape[0], d = w.shape[1]
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
