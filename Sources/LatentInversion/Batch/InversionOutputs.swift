import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentCore

/// Quality figures of one inversion, written as `metrics.json`.
public struct InversionMetrics: Codable, Sendable, Equatable {
    public var mse: Double
    /// 10·log10(1 / MSE) on images mapped to [0, 1], before 8-bit quantisation.
    public var psnr: Double
    public var ssim: Double
    public var msSSIM: Double
    public var lpips: Double?
    /// Final value of the optimised loss.
    public var loss: Double
    public var steps: Int
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case mse, psnr, ssim, msSSIM = "ms_ssim", lpips, loss, steps, seconds
    }
}

/// The JSON written next to each result: metrics plus what produced them, so a result can be
/// reproduced (`arguments`) and traced to its generator (`generator`).
public struct InversionRecord: Codable, Sendable {
    public var image: String
    public var metrics: InversionMetrics
    public var generator: String
    public var space: String
    /// The command line that produced it (`RunRecord` values: numbers as numbers).
    public var arguments: [String: RecordValue]
    /// What the solver measured besides the metrics (e.g. a hybrid's encoder-only PSNR); not a
    /// setting, so a resume never compares it. Absent in records of plain optimisation.
    public var solver: [String: RecordValue]?

    public init(image: String, metrics: InversionMetrics, generator: String, space: String, arguments: [String: RecordValue],
                solver: [String: RecordValue]? = nil) {
        self.image = image; self.metrics = metrics; self.generator = generator; self.space = space; self.arguments = arguments
        self.solver = solver.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Computes the metrics of reconstructions against targets (both `[N, C, R, R]` in [-1, 1]).
public func inversionMetrics(reconstruction: Tensor, target: Tensor, finalLoss: [Float], steps: Int,
                             secondsPerImage: Double, lpips: [Float]? = nil) throws -> [InversionMetrics] {
    let m = try ImageMetrics.mse(reconstruction, target)
    let p = try ImageMetrics.psnr(reconstruction, target)
    let s = try ImageMetrics.ssim(reconstruction, target)
    let ms = try ImageMetrics.msSSIM(reconstruction, target)
    return (0..<target.shape[0]).map { i in
        InversionMetrics(mse: m[i], psnr: p[i], ssim: s[i], msSSIM: ms[i],
                         lpips: lpips.map { Double($0[i]) }, loss: Double(finalLoss[i]), steps: steps,
                         seconds: secondsPerImage)
    }
}

/// Writes one image's inversion into `dir`: `latent.npz` (`w` `[1, numWs, wDim]` as NVIDIA's
/// `projected_w.npz`, plus `noise.<layer>` `[H, W]` maps under the official layer names),
/// `target.png`, `reconstruction.png`, and last `metrics.json`, every file atomically. Because
/// `metrics.json` is written last, its presence marks the image as finished. `extraFiles` (name →
/// bytes, e.g. a solver's weight delta) are written, atomically too, before `metrics.json`.
public func writeInversionOutputs(dir: String, index i: Int, result: ProjectionResult, target: Tensor,
                                  record: InversionRecord, extraFiles: [String: Data] = [:]) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (name, data) in extraFiles.sorted(by: { $0.key < $1.key }) { try writeAtomically(data, to: dir + "/" + name) }
    try LatentFile(ws: result.ws.slice(i ..< i + 1), noise: NoiseMaps(result.noise.maps.mapValues { $0.slice(i ..< i + 1) }))
        .write(to: dir + "/latent.npz")
    try saveImage(target.row(i), to: dir + "/target.png")
    try saveImage(result.reconstruction.row(i), to: dir + "/reconstruction.png")
    try writeAtomically(resultJSONEncoder().encode(record), to: dir + "/metrics.json")
}

/// Reads back a finished image's record, or nil when it is absent or unreadable (then the
/// image is not finished and is redone).
public func readInversionRecord(dir: String) -> InversionRecord? {
    guard let data = try? readInputFile(path: dir + "/metrics.json", maxBytes: InputFileLimit.text) else { return nil }
    return try? resultJSONDecoder().decode(InversionRecord.self, from: data)
}

/// Whether an image folder holds a finished inversion.
public enum FinishedInversion {
    /// Every output reads back: `latent.npz` with `w` `[1, numWs, wDim]` and noise maps of the
    /// generator's shapes, both PNGs decode at its resolution, `metrics.json` names the image.
    case finished(InversionRecord)
    /// No `metrics.json`, or one of another image: not finished.
    case notFinished
    /// `metrics.json` is there but an output is damaged (why, naming the file): redo the image.
    case damaged(String)
}

/// Checks the outputs of `image` in `dir` against `generator`, reading every one of them back
/// (a resume must not trust a folder whose `latent.npz` was truncated by a full disk or whose
/// PNG was overwritten).
public func checkFinishedInversion(dir: String, image: String, generator G: StyleGAN2Generator) -> FinishedInversion {
    let metricsPath = dir + "/metrics.json"
    guard FileManager.default.fileExists(atPath: metricsPath) else { return .notFinished }
    let record: InversionRecord
    do {
        record = try resultJSONDecoder().decode(InversionRecord.self, from: readInputFile(path: metricsPath, maxBytes: InputFileLimit.text))
    } catch {
        return .damaged("\(metricsPath): \(decodingErrorReason(error))")
    }
    guard record.image == image else { return .notFinished }
    let latentPath = dir + "/latent.npz"
    do {
        let arrays = try readNpz(path: latentPath)
        guard let w = arrays["w"] else { return .damaged("\(latentPath): no array 'w'") }
        try G.validate(ws: w.toTensor())
        guard w.shape[0] == 1 else { return .damaged("\(latentPath): 'w' holds \(w.shape[0]) latents, expected 1") }
        var noise = NoiseMaps()
        for (name, array) in arrays where name.hasPrefix("noise.") { noise[String(name.dropFirst(6))] = array.toTensor() }
        try G.validate(noise: noise, batch: 1)
    } catch let e as StyleGAN2InputError {
        return .damaged("\(latentPath): \(e)")
    } catch {
        return .damaged(errorLine(error))
    }
    // A tuned (PTI) result is only as good as its delta: it must read back and fit this base.
    let deltaPath = dir + "/" + GeneratorDelta.fileName
    if record.arguments["method"]?.text == "pti" || FileManager.default.fileExists(atPath: deltaPath) {
        do { _ = try GeneratorDelta.read(path: deltaPath).applied(to: G) } catch { return .damaged(errorLine(error)) }
    }
    for name in ["target.png", "reconstruction.png"] {
        let path = dir + "/" + name
        do {
            let png = try loadImage(path: path)
            guard png.info.width == G.resolution, png.info.height == G.resolution else {
                return .damaged("\(path): \(png.info.width)×\(png.info.height), expected \(G.resolution)×\(G.resolution)")
            }
        } catch {
            return .damaged(errorLine(error))
        }
    }
    return .finished(record)
}
