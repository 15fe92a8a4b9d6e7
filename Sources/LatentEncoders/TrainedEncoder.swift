import Foundation
import LatentTensor
import LatentFormats
import LatentModels

/// An image → latent encoder: what `latentlab encode` and `--method encoder|hybrid` call.
public protocol LatentEncoder: Sendable {
    /// Styles and width of the codes (those of the generator it serves).
    var numWs: Int { get }
    var wDim: Int { get }
    /// Input side the encoder expects.
    var resolution: Int { get }
    /// - Parameter images: `[N, 3, R, R]` in [-1, 1].
    /// - Returns: ws `[N, numWs, wDim]` (ready for `synthesis`, `latent_avg` included).
    func encode(images: Tensor) throws -> Tensor
    /// Trained for ReStyle refinement (input = image + current reconstruction).
    var isIterative: Bool { get }
    /// ReStyle-style refinement through `generator`; a plain encoder runs one pass.
    /// - Returns: the codes after each iteration, last = final, each `[N, numWs, wDim]`.
    func encode(images: Tensor, generator: StyleGAN2Generator, iterations: Int) throws -> [Tensor]
}

extension LatentEncoder {
    public var isIterative: Bool { false }
    public func encode(images: Tensor, generator: StyleGAN2Generator, iterations: Int) throws -> [Tensor] {
        guard iterations >= 1 else { throw EncoderError("iterations must be ≥ 1, got \(iterations)") }
        return [try encode(images: images)]
    }
}

/// An encoder trained by `trainEncoder` (file format `latentlab-e4e`): the network, its
/// `latent_avg` and what it was trained for.
public struct TrainedEncoder: LatentEncoder {
    public let network: EncoderNetwork
    public let config: EncoderFileConfig
    /// `[wDim]`: the generator's `w_avg` at training time; the start of every code.
    public let latentAvg: Tensor

    public var numWs: Int { config.numWs }
    public var wDim: Int { config.wDim }
    public var resolution: Int { config.architecture.resolution }
    public var isIterative: Bool { config.iterative }

    public init(network: EncoderNetwork, config: EncoderFileConfig, latentAvg: Tensor) {
        precondition(latentAvg.shape == [config.wDim], "TrainedEncoder: latentAvg must be [\(config.wDim)]")
        self.network = network; self.config = config; self.latentAvg = latentAvg
    }

    /// Loads an encoder file.
    /// - Throws: `EncoderError` / `FormatError` naming `path` for a file that is not a
    ///   `latentlab-e4e` encoder or whose tensors do not match its config.
    public init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        guard let json = file.metadata["config"] else {
            throw EncoderError("\(path): no 'config' metadata; not a LatentLab encoder file")
        }
        let config = try EncoderFileConfig(json: json, source: path)
        var params = [String: Tensor]()
        for name in file.names where name != "latent_avg" { params[name] = try file.tensor(name) }
        guard file.contains("latent_avg") else { throw EncoderError("\(path): missing tensor 'latent_avg'") }
        let avg = try file.tensor("latent_avg")
        guard avg.shape == [config.wDim], avg.isFinite else {
            throw EncoderError("\(path): 'latent_avg' must be finite [\(config.wDim)], got \(avg.shape)")
        }
        let network = try EncoderNetwork(architecture: config.architecture, parameters: params, source: path)
        self.init(network: network, config: config, latentAvg: avg)
    }

    /// Writes the encoder atomically (safetensors, metadata `config`).
    public func write(to path: String) throws {
        var tensors = config.architecture.parameterShapes.map { (name: $0.name, tensor: network.parameters[$0.name]!) }
        tensors.append((name: "latent_avg", tensor: latentAvg))
        try writeSafeTensors(tensors, metadata: ["config": config.json, "format": EncoderFileConfig.formatName], to: path)
    }

    /// `latent_avg` broadcast to `[n, numWs, wDim]`.
    func averageCodes(_ n: Int) -> Tensor {
        broadcastToWs(Tensor(shape: [1, wDim], data: latentAvg.storage), numWs: numWs).repeated(n)
    }

    /// One forward pass at the trained stage (a plain, non-iterative encoder).
    /// - Throws: `EncoderError` for an iterative encoder (use `encode(images:generator:iterations:)`)
    ///   or images of the wrong shape / with NaN.
    public func encode(images: Tensor) throws -> Tensor {
        if let g = config.guidance {
            throw EncoderError("this is a \(g.rawValue) guidance encoder: it encodes maps, not photos (latentlab translate)")
        }
        guard !config.iterative else {
            throw EncoderError("this encoder was trained for iterative refinement: it needs the generator (encode(images:generator:iterations:))")
        }
        try checkImages(images)
        return network.forward(images, base: averageCodes(images.shape[0]), stage: config.stage).codes
    }

    /// ReStyle-style refinement: start from `latent_avg` and its image, then `iterations` times
    /// `codes += E(image, G(codes))`. A plain encoder ignores `iterations` beyond one pass.
    /// - Returns: the codes after each iteration, last = final, each `[N, numWs, wDim]`.
    public func encode(images: Tensor, generator: StyleGAN2Generator, iterations: Int) throws -> [Tensor] {
        guard iterations >= 1 else { throw EncoderError("iterations must be ≥ 1, got \(iterations)") }
        guard config.iterative else { return [try encode(images: images)] }
        try checkImages(images)
        guard generator.numWs == numWs, generator.wDim == wDim, generator.resolution == resolution else {
            throw EncoderError("the generator (\(generator.numWs)×\(generator.wDim), \(generator.resolution)²) does not match the encoder (\(numWs)×\(wDim), \(resolution)²)")
        }
        var codes = averageCodes(images.shape[0])
        var current = generator.synthesis(ws: codes)
        var out = [Tensor]()
        for _ in 0..<iterations {
            codes = network.forward(concatenateChannels(images, current), base: codes, stage: config.stage).codes
            out.append(codes)
            current = generator.synthesis(ws: codes)
        }
        return out
    }

    /// A guidance encoder's codes for maps `[N, C, R, R]` (`loadGuidanceMap`), `latent_avg`
    /// included.
    /// - Throws: `EncoderError` for an image encoder or maps of the wrong shape / with NaN.
    public func encode(maps: Tensor) throws -> Tensor {
        guard config.guidance != nil else { throw EncoderError("this encoder encodes photos, not guidance maps") }
        try checkImages(maps, channels: config.architecture.inputChannels, what: "maps")
        return network.forward(maps, base: averageCodes(maps.shape[0]), stage: config.stage).codes
    }

    /// `[N, channels, R, R]` with N ≥ 1 and finite values, or an `EncoderError` naming `what`.
    private func checkImages(_ images: Tensor, channels: Int = 3, what: String = "images") throws {
        guard images.rank == 4, images.shape[0] >= 1, images.shape[1] == channels, images.shape[2] == resolution, images.shape[3] == resolution else {
            throw EncoderError("\(what) must be [N, \(channels), \(resolution), \(resolution)], got \(images.shape)")
        }
        guard images.isFinite else { throw EncoderError("\(what) contain NaN or infinity") }
    }
}

extension Tensor {
    /// `[1, …]` repeated to `[n, …]`.
    func repeated(_ n: Int) -> Tensor {
        precondition(shape.first == 1, "repeated: needs a leading 1, got \(shape)")
        var s = shape
        s[0] = n
        return Tensor(shape: s, data: Array([[Float]](repeating: storage, count: n).joined()))
    }
}

/// `[N, Ca, H, W]` and `[N, Cb, H, W]` stacked along channels: `[N, Ca + Cb, H, W]`.
func concatenateChannels(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.rank == 4 && b.rank == 4 && a.shape[0] == b.shape[0] && a.shape[2...] == b.shape[2...],
                 "concatenateChannels: \(a.shape) and \(b.shape)")
    let n = a.shape[0], pa = a.count / n, pb = b.count / n
    var data = [Float]()
    data.reserveCapacity(a.count + b.count)
    for s in 0..<n {
        data += a.storage[(s * pa)..<((s + 1) * pa)]
        data += b.storage[(s * pb)..<((s + 1) * pb)]
    }
    return Tensor(shape: [n, a.shape[1] + b.shape[1], a.shape[2], a.shape[3]], data: data)
}
