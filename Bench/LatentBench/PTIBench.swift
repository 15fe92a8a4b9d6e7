import Foundation
import LatentTensor
import LatentModels
import LatentInversion
import LatentCore

/// `LatentBench pti [--preset ffhq256] [--pivot-steps 5] [--pti-steps 5] [--rank r|full]`: the PTI
/// pipeline (W pivot with const noise, then tuning with the locality regulariser every 4 steps,
/// lr 1e-2) on a random-weight generator of an official config, on one target (the generator's
/// own image of another z): seconds per pivot step and per tuning step, the extrapolation to the
/// defaults (100 + 100 steps), delta bytes and peak memory. Few steps: a 256² step takes seconds.
func runPTIBench(arguments: [String]) {
    func value(_ flag: String) -> String? { arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } }
    let preset = GeneratorPreset(rawValue: value("--preset") ?? "ffhq256") ?? .ffhq256
    let pivotSteps = Int(value("--pivot-steps") ?? "5") ?? 5, ptiSteps = Int(value("--pti-steps") ?? "5") ?? 5
    // The product's default rank unless told otherwise ('full': dense differences).
    let rankText = value("--rank")
    if let rankText, rankText != "full", (Int(rankText) ?? 0) < 1 { print("pti: --rank must be a number ≥ 1 or 'full', got '\(rankText)'"); exit(64) }
    let rank: Int? = rankText == "full" ? nil : rankText.flatMap { Int($0) } ?? PTISolver.defaultRank
    do {
        let G = try preset.randomGenerator(seed: 1)
        var rng = NumpyRandomState(seed: 2)
        let z = Tensor(shape: [1, G.zDim], data: rng.randn(count: G.zDim).map(Float.init))
        let target = G.generate(z: z, truncationPsi: 0.7).map { min(max($0, -1), 1) }
        ProcessMemory.resetPeak()
        var o = ProjectorOptions(schedule: try ProjectorSchedule(numSteps: pivotSteps, initialLearningRate: 0.1, initialNoiseFactor: 0.05,
                                                                 regularizeNoiseWeight: 1e5))
        o.space = .w; o.optimizeNoise = false; o.wAvgSamples = 1000
        var t = PivotalTuningOptions()
        t.numSteps = ptiSteps; t.earlyStop = nil
        let solver = try PTISolver(generator: G, pivotSolver: OptimizationSolver(generator: G, loss: PixelL2Loss(), options: o),
                                   loss: PixelL2Loss(), options: t, rank: rank)
        let start = Date()
        let solved = try solver.invert(targets: target, mask: nil, progress: nil)
        let total = Date().timeIntervalSince(start)
        let rec = solved.extraRecord[0]
        func number(_ v: RecordValue?) -> Double { if case .double(let d)? = v { return d }; if case .int(let i)? = v { return Double(i) }; return .nan }
        let pivotSeconds = number(rec["pivot_seconds_per_image"]), tuneSeconds = number(rec["pti_seconds"])
        let perPivot = pivotSeconds / Double(max(pivotSteps, 1)), perTune = tuneSeconds / Double(max(ptiSteps, 1))
        print(String(format: "%@ (%d², %.1f MB of weights): pivot %d steps %.1f s (%.2f s/step), tuning %d steps %.1f s (%.2f s/step), total %.1f s",
                     preset.rawValue, G.resolution, Double(G.parameters.values.reduce(0) { $0 + $1.count }) * 4 / 1e6,
                     pivotSteps, pivotSeconds, perPivot, ptiSteps, tuneSeconds, perTune, total))
        print(String(format: "  extrapolated to the defaults (100 pivot + 100 tuning steps): %.0f s per image; delta %.2f MB (rank %@); peak RSS %.0f MB; load %@",
                     100 * perPivot + 100 * perTune, number(rec["delta_bytes"]) / 1e6, rank.map(String.init) ?? "full",
                     Double(ProcessMemory.peakResidentBytes) / 1_048_576, loadAverage()))
    } catch {
        print("pti: \(error)"); exit(1)
    }
}
