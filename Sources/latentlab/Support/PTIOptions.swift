import ArgumentParser
import Foundation
import LatentCore
import LatentInversion
import LatentModels
import LatentEncoders

/// `--pivot`, `--pti-steps`, `--rank`, `--pti-shared`, … of `--method pti` (part of `MethodOptions`).
struct PTIOptions: ParsableArguments {
    @Option(help: "PTI pivot: optimize (W projection; \(MethodDefaults.ptiPivot.steps) steps at lr \(MethodDefaults.ptiPivot.lr) unless --steps/--lr), encoder (--encoder), or a latent .npz (invert only).")
    var pivot: String = "optimize"
    @Option(name: .customLong("pti-steps"), help: "PTI generator-tuning steps (early stop on the image loss; PTI's own: 350).") var ptiSteps: Int = 100
    @Option(name: .customLong("pti-lr"), help: "PTI tuning learning rate (Adam; PTI's own: 3e-4, which needs its 350 steps and more).") var ptiLr: Float = 1e-2
    @Option(name: .customLong("pti-layers"), help: "Convolutions to tune, comma-separated short names (b8.conv0,b16.conv1); default all.")
    var ptiLayers: String?
    @Option(name: .customLong("pti-patience"), help: "Stop tuning when the image loss improves < 1 % over this many steps (0: never).")
    var ptiPatience: Int = 40
    @Option(help: "Tune each convolution's weight difference as rank-r factors L·R (LoRA-style; what the delta file stores), or 'full' for dense differences (PTI's own; 3× the bytes on the default generator). Layers too narrow for the rank store their full difference.")
    var rank: String = "\(PTISolver.defaultRank)"
    /// `--rank` as a number (nil = full; `validate` refuses anything else).
    var rankValue: Int? { rank == "full" ? nil : Int(rank) }
    @Flag(name: .customLong("delta-f32"), help: "Store the weight delta in float32 (default float16: half the bytes, the delta applied is exactly the one stored).")
    var deltaF32 = false
    @Flag(name: .customLong("pti-shared"), help: "One tuned generator (one delta) per batch instead of one per image.")
    var ptiShared = false
    @Option(help: "PTI locality regulariser weight λ (0: off); codes at distance --locality-alpha from the pivot keep their images.")
    var locality: Float = 0.1
    @Option(name: .customLong("locality-alpha"), help: "Distance α of the regulariser's codes from the pivot.") var localityAlpha: Float = 30
    @Option(name: .customLong("locality-interval"), help: "Apply the regulariser every this many tuning steps (PTI: 1).") var localityInterval: Int = 4

    /// True when an option of this group differs from its default (they need --method pti).
    var isCustomised: Bool {
        pivot != "optimize" || ptiSteps != 100 || ptiLr != 1e-2 || ptiLayers != nil || ptiPatience != 40 || rank != "\(PTISolver.defaultRank)"
            || ptiShared || deltaF32 || locality != 0.1 || localityAlpha != 30 || localityInterval != 4
    }

    func validate() throws {
        guard (0...100_000).contains(ptiSteps) else { throw ValidationError("--pti-steps must be 0-100000") }
        guard ptiLr > 0, ptiLr.isFinite else { throw ValidationError("--pti-lr must be positive") }
        guard ptiPatience >= 0 else { throw ValidationError("--pti-patience must be ≥ 0") }
        guard rank == "full" || (Int(rank) ?? 0) >= 1 else { throw ValidationError("--rank must be a number ≥ 1 or 'full', got '\(rank)'") }
        guard locality >= 0, locality.isFinite else { throw ValidationError("--locality must be a non-negative weight") }
        guard localityAlpha > 0, localityAlpha.isFinite else { throw ValidationError("--locality-alpha must be positive") }
        guard localityInterval >= 1 else { throw ValidationError("--locality-interval must be ≥ 1") }
    }

    var tuningOptions: PivotalTuningOptions {
        var o = PivotalTuningOptions()
        o.numSteps = ptiSteps
        o.learningRate = ptiLr
        o.layers = ptiLayers.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        o.earlyStop = ptiPatience > 0 ? EarlyStop(patience: ptiPatience, minRelativeImprovement: 1e-2) : nil
        o.localityWeight = locality
        o.localityAlpha = localityAlpha
        o.localityInterval = localityInterval
        return o
    }

    var record: [String: RecordValue] {
        ["pivot": .string(pivot), "pti_steps": .int(ptiSteps), "pti_lr": RecordValue(ptiLr), "pti_layers": RecordValue(ptiLayers),
         "pti_patience": .int(ptiPatience), "rank": rankValue.map { .int($0) } ?? .string("full"), "pti_shared": .bool(ptiShared), "delta_dtype": .string(deltaF32 ? "f32" : "f16"),
         "locality": RecordValue(locality), "locality_alpha": RecordValue(localityAlpha),
         "locality_interval": .int(localityInterval)]
    }
}

extension MethodOptions {
    /// The PTI solver: its pivot solver (W optimisation, the encoder, or a given latent), then tuning.
    func makePTISolver(generator G: StyleGAN2Generator, net: NetworkOptions, solver: SolverOptions,
                       losses: LossOptions) throws -> (solver: InversionSolver, note: String?) {
        let pivotSolver: InversionSolver
        var note: String? = nil
        switch pti.pivot {
        case "optimize":
            // PTI's pivot lives in W, where edits behave, and is found with the const noise
            // buffers the tuning renders with (optimised maps would hide part of the image in noise).
            var o = try solver.projectorOptions(generator: G, defaults: .ptiPivot)
            o.space = .w
            o.optimizeNoise = false
            pivotSolver = OptimizationSolver(generator: G, loss: try losses.makeLoss(), options: o)
        case "encoder":
            let e = try loadEncoder(net: net)
            do {
                note = try checkEncoder(e, matches: G)
                pivotSolver = try EncoderSolver(generator: G, encoder: e, iterations: iterations)
            } catch { throw CommandFailure(error, context: encoder ?? "embedded encoder") }
        default:
            let file: LatentFile
            do { file = try LatentFile.read(path: pti.pivot, generator: G) } catch { throw CommandFailure(error, context: pti.pivot) }
            pivotSolver = GivenPivotSolver(generator: G, ws: file.ws(generator: G))
        }
        do {
            return (try PTISolver(generator: G, pivotSolver: pivotSolver, loss: try losses.makeLoss(), options: pti.tuningOptions,
                                  rank: pti.rankValue, shared: pti.ptiShared, halfPrecision: !pti.deltaF32), note)
        } catch { throw CommandFailure(error, context: "--method pti") }
    }
}

extension MethodDefaults {
    /// The W pivot: 100 steps at lr 0.1 with the const noise (27.8 dB on scene 3 in a quarter of
    /// the time of PTI's own `first_inv_steps` 450 at `first_inv_lr` 5e-3, which gave 25.9 dB; Bench/pti.md).
    static let ptiPivot = MethodDefaults(steps: 100, lr: 0.1, noiseInit: .const, latentNoise: 0.05)
}
