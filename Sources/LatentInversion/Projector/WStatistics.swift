import LatentTensor
import LatentModels

/// Mean and spread of W, estimated as NVIDIA's projector does: map `samples` z drawn from
/// `np.random.RandomState(123).randn(samples, zDim)`, `w_avg` = their mean `[wDim]`, and
/// `w_std = sqrt(Σ‖w − w_avg‖² / samples)` (one scalar), which scales the latent noise.
public struct WStatistics: Sendable {
    public var wAvg: Tensor
    public var wStd: Float

    public init(wAvg: Tensor, wStd: Float) { self.wAvg = wAvg; self.wStd = wStd }

    public static func estimate(generator: StyleGAN2Generator, samples: Int = 10_000, seed: UInt32 = 123) throws -> WStatistics {
        var rng = NumpyRandomState(seed: seed)
        let zDim = generator.zDim, wDim = generator.wDim
        var firstRows = Tensor.zeros([samples, wDim])
        var done = 0
        while done < samples {
            let n = min(1000, samples - done)
            let z = Tensor(shape: [n, zDim], data: rng.randn(count: n * zDim).map(Float.init))
            // Every ws row equals the first at ψ = 1; the reference keeps `w_samples[:, :1, :]`.
            let ws = generator.mapping(z: z, truncationPsi: 1)
            let numWs = ws.shape[1]
            for i in 0..<n { for c in 0..<wDim { firstRows[flat: (done + i) * wDim + c] = ws[flat: i * numWs * wDim + c] } }
            done += n
        }
        let (avg, std) = try ProjectorSchedule.wStatistics(wSamples: firstRows)
        return WStatistics(wAvg: avg, wStd: Float(std))
    }
}
