import Foundation
import LatentTensor
import LatentModels

/// NVIDIA's official StyleGAN2 generator configurations at the sizes users bring, built with random
/// weights (no checkpoint needed): the speed and memory of a forward or backward pass do not depend
/// on the trained values.
///
/// - `ffhq256`: stylegan2-ada-pytorch `paper256` (channel_base 16384, channel_max 512, 8 mapping
///   layers, conv_clamp 256), 29.8 GFLOP per forward.
/// - `ffhq1024`: the StyleGAN2 `stylegan2` config (channel_base 32768, channel_max 512, 8 mapping
///   layers, conv_clamp 256), 148.5 GFLOP per forward.
/// - `scenes64`, `gan64`: the configs of this project's `scenes64` and `gan64` generators.
enum GeneratorPreset: String, CaseIterable {
    case scenes64, gan64, ffhq256, ffhq1024

    var config: StyleGAN2Config {
        switch self {
        case .scenes64: return StyleGAN2Config(zDim: 512, wDim: 512, imgResolution: 64, channelBase: 2048, channelMax: 128)
        case .gan64: return StyleGAN2Config(zDim: 512, wDim: 512, imgResolution: 64, channelBase: 4096, channelMax: 256)
        case .ffhq256: return StyleGAN2Config(zDim: 512, wDim: 512, imgResolution: 256, channelBase: 16384, channelMax: 512, convClamp: 256)
        case .ffhq1024: return StyleGAN2Config(zDim: 512, wDim: 512, imgResolution: 1024, channelBase: 32768, channelMax: 512, convClamp: 256)
        }
    }

    /// A generator with NVIDIA's initialisation (`networks_stylegan2.py`): weights and `const`
    /// standard normal (fully connected ones divided by their learning-rate multiplier), affine
    /// biases 1, other biases and `w_avg` 0, `noise_const` standard normal. `noise_strength` is
    /// 0.1 instead of the initial 0 so the noise path carries real values.
    func randomGenerator(seed: UInt32 = 0) throws -> StyleGAN2Generator {
        let c = config
        var rng = NumpyRandomState(seed: seed)
        var params = [String: Tensor]()
        for (name, shape) in StyleGAN2Generator.expectedShapes(config: c).sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            if name.hasSuffix("resample_filter") { params[name] = setupFilter([1, 3, 3, 1]); continue }
            if name.hasSuffix("affine.bias") { params[name] = Tensor(shape: shape, repeating: 1); continue }
            if name.hasSuffix("noise_strength") { params[name] = Tensor(shape: shape, repeating: 0.1); continue }
            if name.hasSuffix(".bias") || name == "mapping.w_avg" { params[name] = Tensor(shape: shape, repeating: 0); continue }
            let scale: Double = name.hasPrefix("mapping.") ? 1 / Double(c.mappingLrMultiplier) : 1
            params[name] = Tensor(shape: shape, data: rng.randn(count: count).map { Float($0 * scale) })
        }
        return try StyleGAN2Generator(config: c, parameters: params, source: "preset \(rawValue)")
    }
}

/// Peak resident set size of this process (`VmHWM`) in bytes, and a way to restart it from the
/// current size (Linux `clear_refs` 5), so one process can report the peak of each measurement.
enum ProcessMemory {
    static var peakResidentBytes: Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") else { return 0 }
        return kb * 1024
    }

    /// Restarts the peak from the current resident size; false where the kernel does not allow it.
    @discardableResult
    static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        return (try? h.write(contentsOf: Data("5".utf8))) != nil
    }
}

/// The 1-, 5- and 15-minute load averages, as printed with every timing.
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}
