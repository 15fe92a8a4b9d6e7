import Foundation
import LatentTensor
import LatentModels

/// Mean and spread of W, estimated as NVIDIA's projector does: map `samples` z drawn from
/// `np.random.RandomState(seed).randn(samples, zDim)` (seed 123), `w_avg` = their mean `[wDim]`,
/// and `w_std = sqrt(Σ‖w − w_avg‖² / samples)` (one scalar), which scales the latent noise.
public struct WStatistics: Sendable, Equatable {
    /// `[wDim]`.
    public var wAvg: Tensor
    public var wStd: Float

    public init(wAvg: Tensor, wStd: Float) { self.wAvg = wAvg; self.wStd = wStd }

    /// Checks the statistics against a generator: `wAvg` `[wDim]` (or `[1, wDim]`, `[1, 1, wDim]`),
    /// finite, and `wStd` finite and ≥ 0.
    public func validated(for generator: StyleGAN2Generator) throws -> WStatistics {
        guard wAvg.count == generator.wDim, wAvg.shape.dropLast().allSatisfy({ $0 == 1 }) else {
            throw ProjectorError("statistics.wAvg must be [\(generator.wDim)], got \(wAvg.shape)")
        }
        guard wAvg.isFinite, wStd.isFinite, wStd >= 0 else {
            throw ProjectorError("statistics: wAvg must be finite and wStd finite and non-negative (wStd = \(wStd))")
        }
        return WStatistics(wAvg: wAvg.reshaped([generator.wDim]), wStd: wStd)
    }

    /// Maps `samples` z in chunks of 1000 (bounded memory) and reduces them in Double.
    /// Results are cached per generator fingerprint, sample count and seed for the life of the
    /// process, so repeated projections (batches of a `project` run, benchmarks) pay once.
    /// - Throws: `ProjectorError` when `samples` < 2.
    public static func estimate(generator: StyleGAN2Generator, samples: Int = 10_000, seed: UInt32 = 123) throws -> WStatistics {
        guard samples >= 2 else { throw ProjectorError("wAvgSamples must be at least 2, got \(samples)") }
        let key = "\(generator.fingerprint)/\(samples)/\(seed)"
        if let hit = cache.withLock({ $0[key] }) { return hit }
        var rng = NumpyRandomState(seed: seed)
        let zDim = generator.zDim, wDim = generator.wDim, numWs = generator.numWs
        var firstRows = [Float](repeating: 0, count: samples * wDim)
        var done = 0
        while done < samples {
            let n = min(1000, samples - done)
            let z = Tensor(shape: [n, zDim], data: rng.randn(count: n * zDim).map(Float.init))
            // Every ws row equals the first at ψ = 1; the reference keeps `w_samples[:, :1, :]`.
            let ws = generator.mapping(z: z, truncationPsi: 1)
            ws.withUnsafeBufferPointer { src in
                firstRows.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<n {
                        (dst.baseAddress! + (done + i) * wDim).update(from: src.baseAddress! + i * numWs * wDim, count: wDim)
                    }
                }
            }
            done += n
        }
        let (avg, std) = try ProjectorSchedule.wStatistics(wSamples: Tensor(shape: [samples, wDim], data: firstRows))
        let stats = WStatistics(wAvg: avg, wStd: Float(std))
        cache.withLock { $0[key] = stats }
        return stats
    }

    /// Forgets cached estimates (benchmarks use it to time the estimate).
    public static func clearCache() { cache.withLock { $0.removeAll() } }

    private static let cache = LockedDictionary<String, WStatistics>()
}

/// A dictionary behind a lock (the cache is read from any thread).
final class LockedDictionary<K: Hashable, V>: @unchecked Sendable {
    private var storage: [K: V] = [:]
    private let lock = NSLock()

    func withLock<R>(_ body: (inout [K: V]) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&storage)
    }
}
