import LatentTensor

/// Number of z `computeWAvg` averages over by default.
public let computedWAvgSamples = 10_000

/// The mean w of a generator, for checkpoints that store none (rosinality training checkpoints
/// have no `latent_avg`; rosinality's `mean_latent` averages 4096 random z the same way):
/// the mean of mapping(z) at ψ = 1 over z = `np.random.RandomState(seed).randn(zDim)` for seeds
/// 0 ..< `samples` (NVIDIA's seed convention, so the value is reproducible anywhere).
/// - Returns: `[wDim]`.
public func computeWAvg(generator: StyleGAN2Generator, samples: Int = computedWAvgSamples) -> Tensor {
    precondition(samples >= 1, "computeWAvg: samples must be >= 1")
    let w = mapFirstRows(generator: generator, z: zFromSeeds((0..<UInt32(samples)).map { $0 }, zDim: generator.zDim))
    return w.sum(axis: 0) / Float(samples)
}
