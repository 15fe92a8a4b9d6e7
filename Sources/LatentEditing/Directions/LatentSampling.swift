import LatentTensor
import LatentModels

/// `samples` w vectors `[N, wDim]` (ψ = 1, the first ws row) from `sampleZ(seed:)`, as
/// projector.py and GANSpace draw them. `mapFirstRows`, `sampleZ` and `zFromSeeds` live with the
/// generator (LatentModels) and the random state (LatentTensor).
public func sampleW(generator: StyleGAN2Generator, samples: Int, seed: UInt32,
                    progress: ((Int, Int) -> Void)? = nil) -> Tensor {
    mapFirstRows(generator: generator, z: sampleZ(zDim: generator.zDim, samples: samples, seed: seed), progress: progress)
}
