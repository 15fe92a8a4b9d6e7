import Foundation
import LatentTensor
import LatentModels
import LatentCore

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
    ///
    /// Estimates are cached: in memory for the life of the process, and on disk under
    /// `cacheDirectory` (a small JSON per generator fingerprint, sample count and seed), because
    /// mapping 10 000 z costs about 2 s, a fifth of a 500-step `invert` on the default model.
    /// A cached estimate is the computed one, bit for bit; unreadable or mismatching cache files
    /// are ignored and rewritten, and a cache that cannot be written is skipped silently.
    /// - Parameter cacheDirectory: default `defaultCacheDirectory`; nil keeps nothing on disk.
    /// - Throws: `ProjectorError` when `samples` < 2.
    public static func estimate(generator: StyleGAN2Generator, samples: Int = 10_000, seed: UInt32 = 123,
                                cacheDirectory: String? = WStatistics.defaultCacheDirectory) throws -> WStatistics {
        guard samples >= 2 else { throw ProjectorError("wAvgSamples must be at least 2, got \(samples)") }
        let key = "wstats-\(generator.fingerprint)-\(generator.wDim)-\(samples)-\(seed)"
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let file = cacheDirectory.map { $0 + "/" + key + ".json" }
        if let file, let data = try? readInputFile(path: file, maxBytes: InputFileLimit.text),
           let stored = try? JSONDecoder().decode(StoredStatistics.self, from: data),
           stored.wAvg.count == generator.wDim, stored.wAvg.allSatisfy(\.isFinite), stored.wStd.isFinite {
            let stats = WStatistics(wAvg: Tensor(shape: [generator.wDim], data: stored.wAvg), wStd: stored.wStd)
            cache.withLock { $0[key] = stats }
            return stats
        }
        let stats = try compute(generator: generator, samples: samples, seed: seed)
        cache.withLock { $0[key] = stats }
        if let file, let data = try? JSONEncoder().encode(StoredStatistics(wAvg: stats.wAvg.storage, wStd: stats.wStd)) {
            try? writeAtomically(data, to: file)
        }
        return stats
    }

    /// `$LATENTLAB_CACHE`, else `$XDG_CACHE_HOME/latentlab`, else `~/.cache/latentlab`;
    /// nil (no disk cache) when `LATENTLAB_CACHE` is `off` or empty or no home is known.
    public static var defaultCacheDirectory: String? {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["LATENTLAB_CACHE"] { return dir.isEmpty || dir == "off" ? nil : dir }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/latentlab" }
        if let home = env["HOME"], !home.isEmpty { return home + "/.cache/latentlab" }
        return nil
    }

    /// The estimate itself, uncached.
    static func compute(generator: StyleGAN2Generator, samples: Int, seed: UInt32) throws -> WStatistics {
        // projector.py: z = RandomState(123).randn(10000, zDim); w_samples[:, :1, :] at ψ = 1.
        let firstRows = mapFirstRows(generator: generator, z: sampleZ(zDim: generator.zDim, samples: samples, seed: seed))
        let (avg, std) = try ProjectorSchedule.wStatistics(wSamples: firstRows)
        return WStatistics(wAvg: avg, wStd: Float(std))
    }

    private struct StoredStatistics: Codable { var wAvg: [Float]; var wStd: Float }

    /// Forgets the estimates cached in memory (benchmarks use it to time the estimate; pass
    /// `cacheDirectory: nil` to bypass the disk cache too).
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
