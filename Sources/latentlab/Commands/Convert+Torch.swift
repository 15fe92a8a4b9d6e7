import ArgumentParser
import Foundation
import LatentFormats
import LatentModels

/// `latentlab convert CHECKPOINT.pt OUT`: PyTorch checkpoints (torch's zip format), read without
/// executing code. A rosinality generator (`{'g_ema', 'latent_avg'}`) becomes OUT (one
/// .safetensors file); a pSp/e4e checkpoint becomes OUT/generator.safetensors and
/// OUT/encoder.safetensors.
extension Convert {
    /// Whether the input is a torch `.pt` (zip archive) rather than an NVIDIA pickle.
    static func isTorchCheckpoint(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        return TorchCheckpoint.isZip((try? h.read(upToCount: 4)) ?? Data())
            || ["pt", "pth"].contains((path as NSString).pathExtension.lowercased())
    }

    func runTorch() throws {
        let conv = try convertTorchCheckpoint(path: snapshot, requireCompleteEncoder: !partialEncoder)
        let g = conv.builtGenerator
        let summary = "\(g.resolution)×\(g.resolution), w \(g.wDim), numWs \(g.numWs), fingerprint \(g.fingerprint)"
        guard let encoder = conv.encoder else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), isDir.boolValue {
                throw CommandFailure("\(out): is a folder; a rosinality generator converts to one .safetensors file")
            }
            do { try writeSafeTensors(conv.generator.tensors, metadata: conv.generator.metadata, to: out) }
            catch { throw CommandFailure(error, context: out) }
            print("wrote \(out): \(conv.kind.rawValue), \(conv.generator.tensors.count) tensors, \(summary)")
            return
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
            throw CommandFailure("\(out): exists and is not a folder; a pSp/e4e checkpoint converts to a folder (generator.safetensors + encoder.safetensors)")
        }
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        catch { throw CommandFailure(error, context: out) }
        let gPath = (out as NSString).appendingPathComponent("generator.safetensors")
        let ePath = (out as NSString).appendingPathComponent("encoder.safetensors")
        do { try writeSafeTensors(conv.generator.tensors, metadata: conv.generator.metadata, to: gPath) }
        catch { throw CommandFailure(error, context: gPath) }
        do { try writeSafeTensors(encoder.tensors, metadata: encoder.metadata, to: ePath) }
        catch { throw CommandFailure(error, context: ePath) }
        let e = conv.builtEncoder
        print("wrote \(gPath): decoder, \(conv.generator.tensors.count) tensors, \(summary)")
        if let e {
            print("wrote \(ePath): \(e.config.encoderType.rawValue), \(encoder.tensors.count) tensors, \(e.styleCount) styles")
        } else {
            print("wrote \(ePath): \(encoder.tensors.count) tensors, not checked as a complete encoder (--partial-encoder)")
        }
    }
}
