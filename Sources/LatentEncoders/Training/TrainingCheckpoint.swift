import Foundation
import LatentTensor
import LatentFormats

/// Everything a training run needs to continue exactly: the parameters, Adam's moments and step
/// count, the random stream, the step, the elapsed time and the per-step history. Stored as one
/// safetensors file (tensors `param.*`, `adam.m.*`, `adam.v.*`, `history`; scalars in metadata,
/// the random state as decimal integers so it round-trips bit for bit), written atomically.
struct TrainingCheckpoint {
    static let formatName = "latentlab-encoder-checkpoint"

    var options: EncoderTrainingOptions
    var architecture: EncoderArchitecture
    var generatorFingerprint: String
    var step: Int
    var parameters: [String: Tensor]
    var adam: Adam
    var rng: GaussianStream
    var elapsedSeconds: Double
    /// `[steps, TrainingHistory.columns]`.
    var history: [[Float]]

    func write(to path: String) throws {
        var w = SafeTensorsWriter(metadata: [
            "format": Self.formatName,
            "options": options.json,
            "architecture": String(data: try JSONEncoder().encode(architecture), encoding: .utf8)!,
            "generatorFingerprint": generatorFingerprint,
            "step": String(step),
            "adamStep": String(adam.stepCount),
            "rngState": String(rng.state),
            "rngSpare": rng.spare.map { String($0.bitPattern) } ?? "",
            "elapsedSeconds": String(elapsedSeconds.bitPattern),
        ])
        let names = architecture.parameterShapes.map(\.name)
        for (i, name) in names.enumerated() {
            try w.add("param." + name, parameters[name]!)
            if !adam.firstMoments.isEmpty {
                try w.add("adam.m." + name, adam.firstMoments[i])
                try w.add("adam.v." + name, adam.secondMoments[i])
            }
        }
        let cols = TrainingHistory.columns.count
        try w.add("history", Tensor(shape: [history.count, cols], data: Array(history.joined())))
        try w.write(to: path)
    }

    /// - Throws: `EncoderError` naming `path` when it is not a complete checkpoint.
    init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        let m = file.metadata
        func bad(_ why: String) -> EncoderError { EncoderError("\(path): not a usable training checkpoint (\(why))") }
        guard m["format"] == Self.formatName else { throw bad("format is '\(m["format"] ?? "none")'") }
        guard let optionsJSON = m["options"], let o = try? JSONDecoder().decode(EncoderTrainingOptions.self, from: Data(optionsJSON.utf8)),
              let archJSON = m["architecture"], let arch = try? JSONDecoder().decode(EncoderArchitecture.self, from: Data(archJSON.utf8)),
              let fp = m["generatorFingerprint"], let step = m["step"].flatMap({ Int($0) }),
              let adamStep = m["adamStep"].flatMap({ Int($0) }), let state = m["rngState"].flatMap({ UInt64($0) }),
              let spareText = m["rngSpare"], let elapsedBits = m["elapsedSeconds"].flatMap({ UInt64($0) }) else {
            throw bad("missing or malformed metadata")
        }
        let spare: Double? = spareText.isEmpty ? nil : try UInt64(spareText).map { Double(bitPattern: $0) } ?? { throw bad("rngSpare") }()
        var params = [String: Tensor](), first = [Tensor](), second = [Tensor]()
        for (name, shape) in arch.parameterShapes {
            guard file.contains("param." + name) else { throw bad("missing 'param.\(name)'") }
            let p = try file.tensor("param." + name)
            guard p.shape == shape else { throw bad("'param.\(name)' has shape \(p.shape), expected \(shape)") }
            params[name] = p
            if adamStep > 0 {
                guard file.contains("adam.m." + name), file.contains("adam.v." + name) else { throw bad("missing Adam state of '\(name)'") }
                first.append(try file.tensor("adam.m." + name))
                second.append(try file.tensor("adam.v." + name))
                guard first.last!.shape == shape, second.last!.shape == shape else { throw bad("Adam state of '\(name)' has the wrong shape") }
            }
        }
        let h = try file.tensor("history")
        let cols = TrainingHistory.columns.count
        guard h.rank == 2, h.shape[1] == cols, h.shape[0] == step else { throw bad("history is \(h.shape), expected [\(step), \(cols)]") }
        options = o
        architecture = arch
        generatorFingerprint = fp
        self.step = step
        parameters = params
        adam = Adam(learningRate: o.learningRate, restoringStepCount: adamStep, firstMoments: first, secondMoments: second)
        rng = GaussianStream(state: state, spare: spare)
        elapsedSeconds = Double(bitPattern: elapsedBits)
        history = (0..<step).map { Array(h.storage[($0 * cols)..<(($0 + 1) * cols)]) }
    }

    init(options: EncoderTrainingOptions, architecture: EncoderArchitecture, generatorFingerprint: String, step: Int,
         parameters: [String: Tensor], adam: Adam, rng: GaussianStream, elapsedSeconds: Double, history: [[Float]]) {
        self.options = options; self.architecture = architecture; self.generatorFingerprint = generatorFingerprint
        self.step = step; self.parameters = parameters; self.adam = adam; self.rng = rng
        self.elapsedSeconds = elapsedSeconds; self.history = history
    }
}

/// Columns of the per-step history (checkpoint `history`, `history.csv`).
enum TrainingHistory {
    static let columns = ["loss", "image", "latent", "deltaNorm", "pixelMSE", "learningRate", "stage", "seconds"]
}
