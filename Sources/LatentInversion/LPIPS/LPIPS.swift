import Foundation
import LatentTensor
import LatentFormats

/// The feature network under LPIPS.
public enum LPIPSNet: String, Sendable, CaseIterable {
    /// torchvision VGG16 `features`, taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
    case vgg
    /// torchvision AlexNet `features`, taps relu1 … relu5.
    case alex
}

/// LPIPS, the learned perceptual image patch similarity (Zhang et al. 2018), as the official
/// `lpips` package version 0.1 (`lpips.LPIPS(net=…, lpips=True, spatial=False)`):
///
/// 1. ScalingLayer: `(x − shift) / scale` per channel, shift (−0.030, −0.088, −0.188), scale
///    (0.458, 0.448, 0.450), on inputs in [-1, 1];
/// 2. the feature tower (torchvision numbering of `features`), five ReLU taps;
/// 3. each tap unit-normalised over channels, `f / (‖f‖₂ + 1e-10)`;
/// 4. squared difference, the 1×1 linear layer `lin{k}` (no bias, non-negative weights), spatial
///    mean; summed over the five taps.
///
/// Weights: `features.N.weight/bias` (ImageNet VGG16/AlexNet) and `lin{k}.model.1.weight`
/// (the released LPIPS layers), supplied by the user as safetensors (the golden tests build
/// formula-defined weights in their test support instead).
public struct LPIPS: Sendable {
    public let net: LPIPSNet
    /// Conv layers by torchvision `features` index.
    let convWeights: [Int: Tensor]
    let convBiases: [Int: Tensor]
    /// `lin{k}` weights flattened to `[C_k]`.
    let linWeights: [Tensor]

    static let shift: [Float] = [-0.030, -0.088, -0.188]
    static let scale: [Float] = [0.458, 0.448, 0.450]
    static let eps: Double = 1e-10

    /// One step of the feature tower.
    enum Op: Equatable {
        case conv(index: Int, stride: Int, padding: Int)
        case relu
        case maxPool(kernel: Int, stride: Int)
        /// The current activation is LPIPS feature k.
        case tap
    }

    /// A conv layer: torchvision index, output and input channels, square kernel size.
    struct ConvSpec { let index: Int, out: Int, input: Int, kernel: Int }

    static func convSpecs(_ net: LPIPSNet) -> [ConvSpec] {
        switch net {
        case .vgg:
            return [(0, 64, 3), (2, 64, 64), (5, 128, 64), (7, 128, 128), (10, 256, 128), (12, 256, 256), (14, 256, 256),
                    (17, 512, 256), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512), (28, 512, 512)]
                .map { ConvSpec(index: $0.0, out: $0.1, input: $0.2, kernel: 3) }
        case .alex:
            return [ConvSpec(index: 0, out: 64, input: 3, kernel: 11), ConvSpec(index: 3, out: 192, input: 64, kernel: 5),
                    ConvSpec(index: 6, out: 384, input: 192, kernel: 3), ConvSpec(index: 8, out: 256, input: 384, kernel: 3),
                    ConvSpec(index: 10, out: 256, input: 256, kernel: 3)]
        }
    }

    /// Channels of the five taps (`self.chns` in lpips).
    public static func tapChannels(_ net: LPIPSNet) -> [Int] {
        switch net {
        case .vgg: return [64, 128, 256, 512, 512]
        case .alex: return [64, 192, 384, 256, 256]
        }
    }

    /// The tower up to relu5 (layers after the last tap are never run), torchvision order.
    static func ops(_ net: LPIPSNet) -> [Op] {
        switch net {
        case .vgg:
            func block(_ convs: [Int], pool: Bool) -> [Op] {
                (pool ? [.maxPool(kernel: 2, stride: 2)] : []) + convs.flatMap { [.conv(index: $0, stride: 1, padding: 1), .relu] } + [.tap]
            }
            return block([0, 2], pool: false) + block([5, 7], pool: true) + block([10, 12, 14], pool: true)
                + block([17, 19, 21], pool: true) + block([24, 26, 28], pool: true)
        case .alex:
            return [.conv(index: 0, stride: 4, padding: 2), .relu, .tap,
                    .maxPool(kernel: 3, stride: 2), .conv(index: 3, stride: 1, padding: 2), .relu, .tap,
                    .maxPool(kernel: 3, stride: 2), .conv(index: 6, stride: 1, padding: 1), .relu, .tap,
                    .conv(index: 8, stride: 1, padding: 1), .relu, .tap,
                    .conv(index: 10, stride: 1, padding: 1), .relu, .tap]
        }
    }

    /// Parameter names and shapes in the order of the golden files' `tensor_order`: every conv's
    /// weight then bias, by index, then `lin0` … `lin4`.
    public static func parameterShapes(_ net: LPIPSNet) -> [(name: String, shape: [Int])] {
        var out = [(name: String, shape: [Int])]()
        for c in convSpecs(net) {
            out.append(("features.\(c.index).weight", [c.out, c.input, c.kernel, c.kernel]))
            out.append(("features.\(c.index).bias", [c.out]))
        }
        for (k, ch) in tapChannels(net).enumerated() { out.append(("lin\(k).model.1.weight", [1, ch, 1, 1])) }
        return out
    }

    /// An LPIPS from named parameters (`parameterShapes` names); every one must be present with
    /// its exact shape.
    public init(net: LPIPSNet, parameters: [String: Tensor], source: String = "parameters") throws {
        var weights = [Int: Tensor](), biases = [Int: Tensor](), lins = [Tensor]()
        for (name, shape) in Self.parameterShapes(net) {
            guard let t = parameters[name] else { throw FormatError(source, "missing LPIPS-\(net.rawValue) tensor '\(name)'") }
            guard t.shape == shape else {
                throw FormatError(source, "tensor '\(name)' has shape \(t.shape), LPIPS-\(net.rawValue) needs \(shape)")
            }
            guard t.isFinite else { throw FormatError(source, "tensor '\(name)' contains NaN or infinity") }
            let parts = name.split(separator: ".")
            if name.hasPrefix("features.") {
                let index = Int(parts[1])!
                if parts[2] == "weight" { weights[index] = t } else { biases[index] = t }
            } else {
                lins.append(t.reshaped([shape[1]]))
            }
        }
        self.net = net
        self.convWeights = weights
        self.convBiases = biases
        self.linWeights = lins
    }

    /// Loads weights from a safetensors file with keys `features.N.weight/bias` and
    /// `lin{k}.model.1.weight`. The `lpips` package's own state-dict names are accepted too
    /// (`net.slice{s}.N.weight/bias` → `features.N.*`; `scaling_layer.shift/scale` are checked
    /// against the fixed constants and otherwise ignored). Any other key is an error unless
    /// `allowUnusedKeys` (e.g. torchvision's `classifier.*`).
    public init(net: LPIPSNet, weightsPath path: String, allowUnusedKeys: Bool = false) throws {
        let file = try SafeTensorsFile(path: path)
        var params = [String: Tensor]()
        var unused = [String]()
        for name in file.entries.keys.sorted() {
            var key = name
            let parts = name.split(separator: ".")
            if parts.count == 4, parts[0] == "net", parts[1].hasPrefix("slice") {
                key = "features.\(parts[2]).\(parts[3])"
            }
            if name == "scaling_layer.shift" || name == "scaling_layer.scale" {
                let want = name.hasSuffix("shift") ? Self.shift : Self.scale
                let t = try file.tensor(name)
                guard t.count == 3, zip(t.storage, want).allSatisfy({ abs($0 - $1) < 1e-6 }) else {
                    throw FormatError(path, "'\(name)' is \(t.storage), LPIPS 0.1 uses \(want)")
                }
                continue
            }
            if key.hasPrefix("features.") || key.hasPrefix("lin") {
                guard params[key] == nil else { throw FormatError(path, "tensor '\(key)' appears twice (as '\(name)')") }
                params[key] = try file.tensor(name)
            } else {
                unused.append(name)
            }
        }
        let known = Set(Self.parameterShapes(net).map(\.name))
        unused += params.keys.filter { !known.contains($0) }.sorted()
        if !unused.isEmpty && !allowUnusedKeys {
            throw FormatError(path, "keys not used by LPIPS-\(net.rawValue): \(unused.prefix(8).joined(separator: ", "))" +
                              (unused.count > 8 ? " and \(unused.count - 8) more" : "") + " (pass allowUnusedKeys to ignore them)")
        }
        try self.init(net: net, parameters: params, source: path)
    }
}
