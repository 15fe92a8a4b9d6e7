import Foundation
import LatentTensor
import LatentModels
import LatentEncoders

/// pSp / e4e encoder speed: one forward (backbone + style heads) per image at 256×256, batch 1,
/// for IR-SE50 encoders of the given generator sizes, with weights drawn at the official init
/// scale (the values do not change the cost).
///
/// Arguments: `--sizes 1024,64` (stylegan_size: 18 / 10 styles), `--types e4e,psp`,
/// `--batches 1`, `--iterations N` (timed runs, median and best reported; default 5),
/// `--end-to-end ffhq1024|ffhq256` (instead: a photo at the preset's resolution → resize to
/// 256² → e4e codes + latent_avg → the preset generator's image, as `encode` runs it).
public func runEncoderBench(arguments: [String]) {
    var sizes = [1024, 64], types = ["e4e", "psp"], batches = [1], iterations = 5
    if let k = arguments.firstIndex(of: "--end-to-end"), k + 1 < arguments.count {
        let n = arguments.firstIndex(of: "--iterations").flatMap { Int(arguments[$0 + 1]) } ?? 3
        return runEndToEndEncodeBench(preset: arguments[k + 1], iterations: max(1, n))
    }
    var i = 0
    while i < arguments.count {
        let a = arguments[i], v = i + 1 < arguments.count ? arguments[i + 1] : ""
        switch a {
        case "--sizes": sizes = v.split(separator: ",").compactMap { Int($0) }; i += 1
        case "--types": types = v.split(separator: ",").map(String.init); i += 1
        case "--batches": batches = v.split(separator: ",").compactMap { Int($0) }; i += 1
        case "--iterations": iterations = max(1, Int(v) ?? iterations); i += 1
        default: break
        }
        i += 1
    }
    print("Per image at 256×256; GFLOP counts the convolutions' multiply-adds ×2; cpu = process CPU time (all threads).")
    print("encoder              size styles batch  GFLOP   fwd ms (median / best)  backbone ms  GFLOP/s (best)  cpu ms (median)")
    for size in sizes {
        for type in types {
            let config = PSPEncoderConfig(encoderType: type == "psp" ? .gradualStyleEncoder : .encoder4Editing,
                                          styleganSize: size, startFromLatentAvg: false)
            let encoder: PSPEncoder
            do { encoder = try randomPSPEncoder(config: config) } catch { print("\(type) \(size): \(error)"); continue }
            for batch in batches {
                let x = Tensor(shape: [batch, 3, 256, 256]) { Float(sin(0.013 * Double($0))) * 0.8 }
                _ = try? encoder.codes(x, addLatentAvg: false)   // warm-up
                var total = [Double](), backbone = [Double](), cpu = [Double]()
                for _ in 0..<iterations {
                    let c0 = processCPUSeconds()
                    let t0 = Date()
                    let f = encoder.features(x)
                    let t1 = Date()
                    _ = encoder.rawCodes(features: f)
                    let t2 = Date()
                    cpu.append((processCPUSeconds() - c0) * 1000 / Double(batch))
                    total.append(t2.timeIntervalSince(t0) * 1000 / Double(batch))
                    backbone.append(t1.timeIntervalSince(t0) * 1000 / Double(batch))
                }
                total.sort(); backbone.sort(); cpu.sort()
                let gflop = encoderGFLOP(config: config, size: 256)
                print(String(format: "%-20@ %4d %6d %5d %6.1f   %8.1f / %-8.1f   %9.1f   %10.1f   %12.1f", config.encoderType.rawValue as NSString,
                             size, config.styleCount, batch, gflop, total[total.count / 2], total[0], backbone[backbone.count / 2],
                             gflop / (total[0] / 1000), cpu[cpu.count / 2]))
            }
        }
    }
}

/// A pSp/e4e encoder with weights drawn at the official init scale.
func randomPSPEncoder(config: PSPEncoderConfig, latentAvg: Tensor? = nil) throws -> PSPEncoder {
    var rng = SplitMix64(seed: 7)
    var tensors = [String: Tensor]()
    for (name, shape) in try PSPEncoder.stateDictShapes(config: config) {
        let fanIn = Float(shape.dropFirst().reduce(1, *))
        let scale: Float = shape.count > 1 && !name.contains("linear") ? (2 / fanIn).squareRoot() : 1
        tensors[name] = Tensor(shape: shape) { _ in
            let u = Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1
            if name.hasSuffix("running_var") { return 1 + 0.5 * abs(u) }
            if shape.count == 1 { return name.hasSuffix("bias") || name.hasSuffix("running_mean") ? 0.05 * u : 1 + 0.1 * u }
            return u * scale * 1.7
        }
    }
    if let latentAvg { tensors["latent_avg"] = latentAvg }
    return try PSPEncoder(config: config, tensors: tensors, source: "bench")
}

/// `encode` end to end at an official config: an image `[1, 3, R, R]` → bilinear resize to 256²
/// → e4e IR-SE50 codes + `latent_avg` (`OfficialEncoder`) → the generator's image (const noise).
/// Random weights at the official init scales; best and median of `iterations` runs.
func runEndToEndEncodeBench(preset name: String, iterations: Int) {
    guard let preset = GeneratorPreset(rawValue: name) else { return print("--end-to-end: one of \(GeneratorPreset.allCases.map(\.rawValue))") }
    do {
        let G = try preset.randomGenerator()
        let config = PSPEncoderConfig(encoderType: .encoder4Editing, styleganSize: G.resolution, startFromLatentAvg: true)
        let encoder = try OfficialEncoder(encoder: try randomPSPEncoder(config: config, latentAvg: G.wAvg))
        let r = G.resolution
        let image = Tensor(shape: [1, 3, r, r]) { Float(sin(0.0007 * Double($0))) * 0.8 }
        _ = G.synthesis(ws: try encoder.encode(images: image))   // warm-up
        var enc = [Double](), total = [Double](), cpu = [Double]()
        for _ in 0..<iterations {
            let c0 = processCPUSeconds()
            let t0 = Date()
            let ws = try encoder.encode(images: image)
            let t1 = Date()
            _ = G.synthesis(ws: ws)
            let t2 = Date()
            enc.append(t1.timeIntervalSince(t0) * 1000); total.append(t2.timeIntervalSince(t0) * 1000)
            cpu.append((processCPUSeconds() - c0) * 1000)
        }
        enc.sort(); total.sort(); cpu.sort()
        print("load average \(loadAverage())")
        print(String(format: "%@ + e4e IR-SE50 (%d styles): encode %.0f ms (best; median %.0f), encode + synthesis %.0f ms (best; median %.0f), cpu %.0f ms",
                     name, config.styleCount, enc[0], enc[enc.count / 2], total[0], total[total.count / 2], cpu[cpu.count / 2]))
    } catch { print("end-to-end \(name): \(error)") }
}

/// Convolution FLOPs (2 × multiply-adds) of an IR-SE50 pSp/e4e forward at `size`×`size`: input
/// layer, the 24 units (3×3 convs and 1×1 shortcuts), the FPN lateral layers and every style
/// block (SE, BatchNorm and the final linear layers are negligible and left out).
func encoderGFLOP(config: PSPEncoderConfig, size: Int) -> Double {
    var f = 0.0
    func conv(_ cout: Int, _ cin: Int, _ k: Int, _ res: Int) { f += 2 * Double(cout * cin * k * k) * Double(res * res) }
    conv(64, config.inputNc, 3, size)
    var res = size
    for stage in [(64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3)] {
        for u in 0..<stage.2 {
            let cin = u == 0 ? stage.0 : stage.1, stride = u == 0 ? 2 : 1
            conv(stage.1, cin, 3, res)
            res /= stride
            conv(stage.1, stage.1, 3, res)
            if cin != stage.1 { conv(stage.1, cin, 1, res) }
        }
    }
    conv(512, 256, 1, size / 8); conv(512, 128, 1, size / 4)
    for i in 0..<config.styleCount {
        var r = i < 3 ? size / 16 : i < 7 ? size / 8 : size / 4
        while r > 1 { r = (r + 1) / 2; conv(512, 512, 3, r) }
    }
    return f / 1e9
}
