import Foundation
import LatentTensor
import LatentFormats

extension StyleGAN2Generator {
    /// Loads a generator from a safetensors checkpoint with a StyleGAN2 `config` in its metadata
    /// and the reference `state_dict()` key names (F32 or F16 weights).
    /// - Throws: `FormatError` naming the file when the config is missing or unsupported, a key is
    ///   missing, has the wrong shape, or is not part of a StyleGAN2 generator.
    public init(file: SafeTensorsFile) throws {
        guard let json = file.metadata["config"] else {
            throw FormatError(file.path, "not a StyleGAN2 generator: no 'config' in the safetensors metadata")
        }
        let config = try StyleGAN2Config(json: json, source: file.path)
        var params = [String: Tensor]()
        for name in file.entries.keys { params[name] = try file.tensor(name) }
        try self.init(config: config, parameters: params, source: file.path)
    }

    /// Loads the safetensors checkpoint at `path` (see `init(file:)`).
    public init(path: String) throws {
        try self.init(file: try SafeTensorsFile(path: path))
    }

    /// The embedded default model (`scenes64`: 64×64 tabletop scenes, z/w 512).
    public static var defaultModelURL: URL {
        Bundle.module.url(forResource: "scenes64", withExtension: "safetensors", subdirectory: "Resources")
            ?? Bundle.module.bundleURL.appendingPathComponent("Resources/scenes64.safetensors")
    }

    /// Loads the embedded default model.
    public static func loadDefault() throws -> StyleGAN2Generator {
        try StyleGAN2Generator(path: defaultModelURL.path)
    }

    /// The key → shape table a generator with `config` must have (buffers included).
    public static func expectedShapes(config c: StyleGAN2Config) -> [String: [Int]] {
        var s = [String: [Int]]()
        let features = [c.zDim] + Array(repeating: c.wDim, count: c.mappingLayers)
        for i in 0..<c.mappingLayers {
            s["mapping.fc\(i).weight"] = [features[i + 1], features[i]]
            s["mapping.fc\(i).bias"] = [features[i + 1]]
        }
        s["mapping.w_avg"] = [c.wDim]
        for res in c.blockResolutions {
            let out = c.channels(at: res), p = "synthesis.b\(res)"
            s[p + ".resample_filter"] = [4, 4]
            var convs = [("conv1", out)]
            if res == 4 { s[p + ".const"] = [out, 4, 4] } else { convs.insert(("conv0", c.channels(at: res / 2)), at: 0) }
            for (name, inC) in convs {
                let q = p + "." + name
                s[q + ".affine.weight"] = [inC, c.wDim]
                s[q + ".affine.bias"] = [inC]
                s[q + ".weight"] = [out, inC, 3, 3]
                s[q + ".bias"] = [out]
                s[q + ".noise_const"] = [res, res]
                s[q + ".noise_strength"] = []
                s[q + ".resample_filter"] = [4, 4]
            }
            s[p + ".torgb.affine.weight"] = [out, c.wDim]
            s[p + ".torgb.affine.bias"] = [out]
            s[p + ".torgb.weight"] = [c.imgChannels, out, 1, 1]
            s[p + ".torgb.bias"] = [c.imgChannels]
        }
        return s
    }

    /// Builds a generator from official-name tensors. `resample_filter` buffers may be absent
    /// (they are the fixed `setup_filter([1,3,3,1])`); when present they must equal it.
    /// - Parameter source: names the origin in errors (a path).
    public init(config: StyleGAN2Config, parameters: [String: Tensor], source: String) throws {
        try config.validate(source: source)
        let expected = Self.expectedShapes(config: config)
        let standardFilter = setupFilter([1, 3, 3, 1])
        if let extra = parameters.keys.sorted().first(where: { expected[$0] == nil }) {
            throw FormatError(source, "not a StyleGAN2 generator of this config: unexpected tensor '\(extra)'")
        }
        for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
            guard let t = parameters[name] else {
                if name.hasSuffix("resample_filter") { continue }
                throw FormatError(source, "StyleGAN2 generator: missing tensor '\(name)'")
            }
            guard t.shape == shape else {
                throw FormatError(source, "StyleGAN2 generator: tensor '\(name)' has shape \(t.shape), expected \(shape)")
            }
            guard t.isFinite else { throw FormatError(source, "StyleGAN2 generator: tensor '\(name)' has NaN or infinite values") }
            if name.hasSuffix("resample_filter"), maxAbsDifference(t, standardFilter) > 1e-6 {
                throw FormatError(source, "StyleGAN2 generator: '\(name)' is not setup_filter([1, 3, 3, 1]); other filters are not supported")
            }
        }
        func p(_ name: String) -> Tensor { parameters[name]! }

        let mapping = MappingNetwork(
            layers: (0..<config.mappingLayers).map {
                FullyConnectedLayer(weight: p("mapping.fc\($0).weight"), bias: p("mapping.fc\($0).bias"),
                                    lrMultiplier: config.mappingLrMultiplier, activation: .lrelu)
            },
            wAvg: p("mapping.w_avg"), zDim: config.zDim, wDim: config.wDim, numWs: config.numWs)

        var blocks = [SynthesisBlock]()
        var wIndex = 0
        for res in config.blockResolutions {
            let prefix = "synthesis.b\(res)"
            func layer(_ name: String, up: Int) -> SynthesisLayer {
                let q = prefix + "." + name
                defer { wIndex += 1 }
                return SynthesisLayer(
                    name: "b\(res).\(name)", resolution: res, wIndex: wIndex,
                    affine: FullyConnectedLayer(weight: p(q + ".affine.weight"), bias: p(q + ".affine.bias")),
                    conv: ModulatedConv2d(weight: p(q + ".weight"), up: up, demodulate: true, padding: 1,
                                          resampleFilter: up == 2 ? standardFilter : nil),
                    bias: p(q + ".bias"), noiseConst: p(q + ".noise_const"), noiseStrength: p(q + ".noise_strength").storage[0],
                    convClamp: config.convClamp)
            }
            let conv0 = res == 4 ? nil : layer("conv0", up: 2)
            let conv1 = layer("conv1", up: 1)
            let rgbW = p(prefix + ".torgb.weight")
            let torgb = ToRGBLayer(
                name: "b\(res).torgb", wIndex: wIndex,
                affine: FullyConnectedLayer(weight: p(prefix + ".torgb.affine.weight"), bias: p(prefix + ".torgb.affine.bias")),
                conv: ModulatedConv2d(weight: rgbW, up: 1, demodulate: false, padding: 0),
                bias: p(prefix + ".torgb.bias"), weightGain: 1 / Float(rgbW.shape[1]).squareRoot(),
                convClamp: config.convClamp)
            blocks.append(SynthesisBlock(resolution: res, const: res == 4 ? p(prefix + ".const") : nil,
                                         conv0: conv0, conv1: conv1, torgb: torgb, resampleFilter: standardFilter))
        }
        precondition(wIndex + 1 == config.numWs, "internal: ws bookkeeping \(wIndex + 1) != \(config.numWs)")
        let synthesis = SynthesisNetwork(blocks: blocks, numWs: config.numWs, wDim: config.wDim,
                                         imgChannels: config.imgChannels, resolution: config.imgResolution)
        self.init(config: config, parameters: parameters, fingerprint: Self.fingerprint(of: parameters),
                  mappingNetwork: mapping, synthesisNetwork: synthesis)
    }

    /// FNV-1a (64-bit) over the sorted names, shapes, and float32 bit patterns (word-wise).
    static func fingerprint(of parameters: [String: Tensor]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let prime: UInt64 = 0x0000_0100_0000_01b3
        for name in parameters.keys.sorted() {
            for b in name.utf8 { h = (h ^ UInt64(b)) &* prime }
            let t = parameters[name]!
            for d in t.shape { h = (h ^ UInt64(d)) &* prime }
            t.withUnsafeBufferPointer { buf in
                for v in buf { h = (h ^ UInt64(v.bitPattern)) &* prime }
            }
        }
        return String(format: "%016llx", h)
    }
}

private func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.storage, b.storage).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
