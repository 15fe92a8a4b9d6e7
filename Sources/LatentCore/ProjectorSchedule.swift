import Foundation
import LatentTensor

/// The optimisation schedule of NVIDIA's projector (stylegan2-ada-pytorch `projector.py`,
/// `project()`), with its keyword defaults. At step `s` of `numSteps`, `t = s / numSteps` and
///
///     lr_ramp = min(1, (1 − t) / lrRampdownLength)
///     lr_ramp = 0.5 − 0.5·cos(lr_ramp·π)
///     lr_ramp = lr_ramp · min(1, t / lrRampupLength)
///     lr      = initialLearningRate · lr_ramp
///     σ_w     = wStd · initialNoiseFactor · max(0, 1 − t / noiseRampLength)²
///
/// (`σ_w` is the standard deviation of the Gaussian noise added to the optimised latent.)
public struct ProjectorSchedule: Sendable, Equatable {
    public var numSteps: Int
    public var initialLearningRate: Double
    public var lrRampdownLength: Double
    public var lrRampupLength: Double
    public var initialNoiseFactor: Double
    public var noiseRampLength: Double
    /// Weight of `noiseRegularization` in the projector's loss.
    public var regularizeNoiseWeight: Double

    /// - Throws: `ScheduleError` when `numSteps` < 1 or a ramp length is not positive (the
    ///   reference would divide by zero).
    public init(numSteps: Int = 1000, initialLearningRate: Double = 0.1,
                lrRampdownLength: Double = 0.25, lrRampupLength: Double = 0.05,
                initialNoiseFactor: Double = 0.05, noiseRampLength: Double = 0.75,
                regularizeNoiseWeight: Double = 1e5) throws {
        guard numSteps >= 1 else { throw ScheduleError("numSteps", "must be at least 1, got \(numSteps)") }
        for (name, v) in [("lrRampdownLength", lrRampdownLength), ("lrRampupLength", lrRampupLength),
                          ("noiseRampLength", noiseRampLength)] where !(v > 0 && v.isFinite) {
            throw ScheduleError(name, "must be positive and finite, got \(v)")
        }
        for (name, v) in [("initialLearningRate", initialLearningRate), ("initialNoiseFactor", initialNoiseFactor),
                          ("regularizeNoiseWeight", regularizeNoiseWeight)] where !(v >= 0 && v.isFinite) {
            throw ScheduleError(name, "must be non-negative and finite, got \(v)")
        }
        self.numSteps = numSteps; self.initialLearningRate = initialLearningRate
        self.lrRampdownLength = lrRampdownLength; self.lrRampupLength = lrRampupLength
        self.initialNoiseFactor = initialNoiseFactor; self.noiseRampLength = noiseRampLength
        self.regularizeNoiseWeight = regularizeNoiseWeight
    }

    /// Progress `t = step / numSteps` of step `step` (0-based).
    public func t(step: Int) -> Double { Double(step) / Double(numSteps) }

    /// Learning rate at progress `t` (see the type's formula).
    public func learningRate(t: Double) -> Double {
        var lrRamp = min(1.0, (1.0 - t) / lrRampdownLength)
        lrRamp = 0.5 - 0.5 * cos(lrRamp * Double.pi)
        lrRamp = lrRamp * min(1.0, t / lrRampupLength)
        return initialLearningRate * lrRamp
    }

    /// Learning rate at 0-based step `step`.
    public func learningRate(step: Int) -> Double { learningRate(t: t(step: step)) }

    /// Standard deviation of the latent noise at progress `t`, for the W spread `wStd`.
    public func latentNoiseScale(t: Double, wStd: Double) -> Double {
        let ramp = max(0.0, 1.0 - t / noiseRampLength)
        return wStd * initialNoiseFactor * ramp * ramp
    }

    /// Standard deviation of the latent noise at 0-based step `step`.
    public func latentNoiseScale(step: Int, wStd: Double) -> Double { latentNoiseScale(t: t(step: step), wStd: wStd) }

    /// The projector's W statistics from mapped samples `wSamples` `[N, wDim]` (the first `ws` row
    /// of each mapped z): `wAvg` `[wDim]` is the mean sample and
    /// `wStd = sqrt(Σ‖w − wAvg‖² / N)` — the root of the summed per-coordinate variances, as
    /// `projector.py` computes it (not a per-coordinate std).
    public static func wStatistics(wSamples: Tensor) throws -> (wAvg: Tensor, wStd: Double) {
        guard wSamples.rank == 2, wSamples.shape[0] > 0, wSamples.shape[1] > 0 else {
            throw ScheduleError("wSamples", "needs shape [N, wDim] with N, wDim > 0, got \(wSamples.shape)")
        }
        let (n, d) = (wSamples.shape[0], wSamples.shape[1])
        var avg = [Double](repeating: 0, count: d)
        wSamples.withUnsafeBufferPointer { p in
            for i in 0..<n { for j in 0..<d { avg[j] += Double(p[i * d + j]) } }
        }
        for j in 0..<d { avg[j] /= Double(n) }
        // The reference rounds w_avg to float32 before taking deviations from it.
        let avgF = avg.map { Float($0) }
        var ss = 0.0
        wSamples.withUnsafeBufferPointer { p in
            for i in 0..<n { for j in 0..<d { let v = Double(p[i * d + j]) - Double(avgF[j]); ss += v * v } }
        }
        return (Tensor(shape: [d], data: avgF), (ss / Double(n)).squareRoot())
    }
}

/// A schedule parameter out of range: names the parameter and the reason.
public struct ScheduleError: Error, CustomStringConvertible, Equatable {
    public var argument: String
    public var reason: String
    public init(_ argument: String, _ reason: String) { self.argument = argument; self.reason = reason }
    public var description: String { "\(argument): \(reason)" }
}
