import Foundation
import LatentFormats
import LatentTensor
import LatentModels
import LatentEncoders

extension Convert {
    /// `convert X.safetensors OUT.safetensors --dtype f16`: the same tensors and metadata in
    /// another float dtype. The copy is loaded back as a generator or an encoder (whichever the
    /// original is) before success is reported, and its largest deviation from the original is
    /// printed, so a lossy copy never passes silently.
    func runSafeTensorsCopy() throws {
        guard let target = DType(rawValue: dtype.uppercased()) ?? DType(rawValue: dtype), [.f16, .bf16, .f32].contains(target) else {
            throw CommandFailure("--dtype \(dtype): give f16, bf16 or f32")
        }
        _ = try sniffFileKind(path: snapshot)
        let file = try SafeTensorsFile(path: snapshot)
        var tensors: [(name: String, tensor: Tensor)] = []
        for name in file.names { tensors.append((name, try file.tensor(name))) }
        do { try writeSafeTensors(tensors, metadata: file.metadata, dtype: target, to: out) } catch { throw CommandFailure(error, context: out) }
        let copy = try SafeTensorsFile(path: out)
        var maxRel: Float = 0
        for (name, t) in tensors {
            let c = try copy.tensor(name)
            let scale = max(t.storage.map(abs).max() ?? 0, 1e-30)
            for (a, b) in zip(t.storage, c.storage) { maxRel = max(maxRel, abs(a - b) / scale) }
        }
        // Proves the copy still loads as what the original was.
        let kind: String
        if file.metadata["format"] == EncoderFileConfig.formatName || file.metadata["config"]?.contains("encoder_type") == true {
            let e = try loadLatentEncoder(path: out)
            kind = "encoder (\(e.numWs)×\(e.wDim) codes from \(e.resolution)² images)"
        } else {
            let g = try StyleGAN2Generator(path: out)
            kind = "generator (\(g.resolution)², fingerprint \(g.fingerprint))"
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        print(String(format: "wrote %@: %@, %d tensors in %@, %.1f MB, largest change %.2e of a tensor's largest |value|",
                     out, kind, tensors.count, target.rawValue, Double(bytes) / 1e6, maxRel))
    }
}
