import ArgumentParser
import Foundation
import LatentCore
import LatentFormats
import LatentInversion
import LatentModels
import LatentEncoders

/// How `invert` and `project` find latents.
enum InversionMethod: String, CaseIterable, ExpressibleByArgument {
    /// NVIDIA-schedule optimisation (the projector).
    case optimize
    /// One encoder pass (ReStyle refinements with --iterations for an iterative encoder).
    case encoder
    /// The encoder's code refined by a short optimisation.
    case hybrid
    /// Pivotal tuning: a W pivot (or the encoder's code), then the generator tuned to it (a weight delta per image).
    case pti
}

/// `--method`, `--encoder`, `--iterations`, shared by `invert`, `project` and `encode`.
struct MethodOptions: ParsableArguments {
    @Option(help: "Inversion method: optimize (the projector), encoder (one pass), hybrid (the encoder's code refined by a short optimisation) or pti (a pivot, then the generator tuned to it; writes generator-delta.safetensors).")
    var method: InversionMethod = .optimize
    @Option(help: "Encoder for --method encoder|hybrid (.safetensors from train-encoder, or a pSp/e4e encoder from 'latentlab convert'). Default: the embedded scenes64 encoder, which serves the embedded generator.")
    var encoder: String?
    @Option(help: "ReStyle refinements of an encoder trained with train-encoder --iterative.") var iterations: Int = 1
    @OptionGroup var pti: PTIOptions

    func validate() throws {
        guard (1...100).contains(iterations) else { throw ValidationError("--iterations must be 1-100") }
        if method == .optimize && (encoder != nil || iterations != 1) {
            throw ValidationError("--encoder and --iterations need --method encoder or hybrid")
        }
        if method != .pti && pti.isCustomised { throw ValidationError("--pivot, --pti-*, --rank and --locality need --method pti") }
        if method == .pti && pti.pivot != "encoder" && (encoder != nil || iterations != 1) {
            throw ValidationError("--encoder and --iterations with --method pti need --pivot encoder")
        }
    }

    /// The optimisation defaults of the method (steps, learning rate, noise start).
    var defaults: MethodDefaults { method == .hybrid ? .hybrid : method == .pti ? .ptiPivot : .optimize }

    /// The encoder named by `--encoder`, or the embedded one for the embedded generator.
    /// - Throws: `CommandFailure` for a file that is not an encoder, or no `--encoder` with
    ///   another generator than the embedded one.
    func loadEncoder(net: NetworkOptions) throws -> LatentEncoder {
        guard let path = encoder else {
            guard net.network == nil else {
                throw CommandFailure("--method \(method.rawValue) with --network \(net.network!) needs --encoder E.safetensors: the embedded encoder serves the embedded generator only (train one with 'latentlab train-encoder')")
            }
            do { return try DefaultEncoder.load() } catch { throw CommandFailure(error, context: "embedded encoder") }
        }
        _ = try sniffFileKind(path: path)
        do { return try loadLatentEncoder(path: path) } catch { throw CommandFailure(error, context: path) }
    }

    /// Builds the solver for `generator`, with a note when the encoder was trained for another
    /// generator of the same shape.
    func makeSolver(generator G: StyleGAN2Generator, net: NetworkOptions, solver: SolverOptions,
                    losses: LossOptions, allowsPivotFile: Bool = true) throws -> (solver: InversionSolver, note: String?) {
        switch method {
        case .pti:
            if !allowsPivotFile && !["optimize", "encoder"].contains(pti.pivot) {
                throw CommandFailure("--pivot FILE gives one image's latent: use it with invert (project takes --pivot optimize or encoder)")
            }
            return try makePTISolver(generator: G, net: net, solver: solver, losses: losses)
        case .optimize:
            return (OptimizationSolver(generator: G, loss: try losses.makeLoss(), options: try solver.projectorOptions(generator: G)), nil)
        case .encoder, .hybrid:
            let e = try loadEncoder(net: net)
            let note: String?
            let encoderSolver: EncoderSolver
            do {
                note = try checkEncoder(e, matches: G)
                encoderSolver = try EncoderSolver(generator: G, encoder: e, iterations: iterations)
            } catch { throw CommandFailure(error, context: encoder ?? "embedded encoder") }
            if method == .encoder { return (encoderSolver, note) }
            guard solver.space == .wPlus else { throw CommandFailure("--method hybrid optimises in W+ (an encoder's codes are W+): drop --space w") }
            let options = try solver.projectorOptions(generator: G, defaults: defaults)
            return (try HybridSolver(encoderSolver: encoderSolver, loss: try losses.makeLoss(), options: options), note)
        }
    }

    /// The settings of a run for its records: the method's own, plus the optimisation's and
    /// the losses' when the method optimises. `optimize` records no `method` key, as records
    /// made before methods existed, so their folders still resume.
    func record(solver: SolverOptions, losses: LossOptions) -> [String: RecordValue] {
        var r: [String: RecordValue] = [:]
        if method != .optimize {
            r["method"] = .string(method.rawValue)
            r["encoder"] = .string(encoder ?? "default:scenes64-encoder")
            r["iterations"] = .int(iterations)
        }
        if method == .pti { r.merge(pti.record) { a, _ in a } }
        if method != .encoder {
            r.merge(solver.record(defaults: defaults)) { a, _ in a }
            r.merge(losses.record) { a, _ in a }
        }
        return r
    }
}
