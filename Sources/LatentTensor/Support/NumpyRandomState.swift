import Foundation

/// numpy's legacy `np.random.RandomState(seed)`, bit for bit: MT19937 seeded with
/// `init_genrand(seed)`, 53-bit doubles from two 32-bit draws (`random_double`), and normals from
/// the legacy polar Box–Muller (`legacy_gauss`, which caches the second value of each pair).
///
/// So `NumpyRandomState(seed: s).randn(count: zDim)` equals
/// `np.random.RandomState(s).randn(1, zDim)` as NVIDIA's `gen_images.py` draws z for `--seeds`.
public struct NumpyRandomState: Sendable {
    private static let n = 624, m = 397
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624
    private var hasGauss = false
    private var gauss = 0.0

    /// `np.random.RandomState(seed)` for an integer seed in `0 ..< 2^32`.
    public init(seed: UInt32) {
        mt[0] = seed
        for i in 1..<Self.n {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        index = Self.n
    }

    private mutating func generate() {
        let upper: UInt32 = 0x8000_0000, lower: UInt32 = 0x7fff_ffff, matrixA: UInt32 = 0x9908_b0df
        for i in 0..<Self.n {
            let y = (mt[i] & upper) | (mt[(i + 1) % Self.n] & lower)
            mt[i] = mt[(i + Self.m) % Self.n] ^ (y >> 1) ^ ((y & 1) != 0 ? matrixA : 0)
        }
        index = 0
    }

    /// The next raw 32-bit output (`genrand_int32`, tempered).
    public mutating func nextUInt32() -> UInt32 {
        if index >= Self.n { generate() }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// Uniform double in [0, 1) with 53 random bits (`random_sample`).
    public mutating func nextDouble() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// One standard normal draw (`legacy_gauss`).
    public mutating func nextGaussian() -> Double {
        if hasGauss {
            hasGauss = false
            return gauss
        }
        var x1 = 0.0, x2 = 0.0, r2 = 0.0
        repeat {
            x1 = 2 * nextDouble() - 1
            x2 = 2 * nextDouble() - 1
            r2 = x1 * x1 + x2 * x2
        } while r2 >= 1 || r2 == 0
        let f = (-2 * _log(r2) / r2).squareRoot()
        gauss = f * x1
        hasGauss = true
        return f * x2
    }

    /// `randn(count)`: `count` standard normal draws in double precision.
    public mutating func randn(count: Int) -> [Double] {
        (0..<count).map { _ in nextGaussian() }
    }
}

/// Natural logarithm through the C library (the same `log` numpy calls, so results agree to
/// the last bit on the same libm).
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }

/// The latent `z` NVIDIA's `gen_images.py` uses for `--seeds seed`:
/// `np.random.RandomState(seed).randn(1, zDim)`, converted to float32.
/// - Returns: `[1, zDim]`.
public func zFromSeed(_ seed: UInt32, zDim: Int) -> Tensor {
    var rs = NumpyRandomState(seed: seed)
    return Tensor(shape: [1, zDim], data: rs.randn(count: zDim).map { Float($0) })
}

/// `[N, zDim]`: one z per seed, each `RandomState(seed).randn(1, zDim)` as NVIDIA's `--seeds`
/// (so a `seed,label` CSV and `latentlab generate --seeds` name the same samples).
public func zFromSeeds(_ seeds: [UInt32], zDim: Int) -> Tensor {
    var data = [Float]()
    data.reserveCapacity(seeds.count * zDim)
    for s in seeds { data += zFromSeed(s, zDim: zDim).storage }
    return Tensor(shape: [seeds.count, zDim], data: data)
}

/// `[N, zDim]` standard-normal z drawn in one stream, as `np.random.RandomState(seed).randn(N, zDim)`.
public func sampleZ(zDim: Int, samples: Int, seed: UInt32) -> Tensor {
    var rng = NumpyRandomState(seed: seed)
    return Tensor(shape: [samples, zDim], data: rng.randn(count: samples * zDim).map(Float.init))
}
