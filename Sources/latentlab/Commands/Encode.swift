import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentModels

/// `latentlab encode --encoder E.safetensors --input X.npy --raw --out codes.npy`: a pSp/e4e
/// encoder's raw codes for an already normalised input tensor (exactness scripts).
struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode inputs to W+ codes with a pSp/e4e encoder.",
        discussion: """
        --raw reads --input, a float32 .npy [N, C, H, W] already normalised as the encoder expects (pSp/e4e: \
        (image − 0.5) / 0.5, 256×256, C = the encoder's input_nc), and writes the network's raw codes \
        [N, numWs, 512] to --out (.npy) without latent_avg, exactly what the official encoder module returns. \
        Convert official checkpoints with 'latentlab convert e4e_ffhq_encode.pt OUT/' first.
        Image inputs (IMAGE|DIR → latent.npz) are not available yet: give --raw.
        """)

    @Option(help: "Encoder .safetensors (from 'latentlab convert').") var encoder: String
    @Option(help: "Input .npy, float32 [N, C, H, W], normalised.") var input: String
    @Flag(help: "Write the raw codes of --input (no latent_avg).") var raw = false
    @Option(help: "Output .npy for the codes [N, numWs, 512].") var out: String

    func validate() throws {
        guard raw else { throw ValidationError("give --raw: encode currently writes the raw codes of a normalised .npy tensor (--input X.npy)") }
        guard !out.isEmpty else { throw ValidationError("the output path is empty") }
    }

    func run() throws {
        _ = try sniffFileKind(path: encoder)
        _ = try sniffFileKind(path: input)
        let enc = try PSPEncoder(path: encoder)
        let x = try readNpy(path: input).toTensor()
        let codes: Tensor
        do { codes = try enc.codes(x, addLatentAvg: false) }
        catch let e as StyleGAN2InputError { throw CommandFailure("\(input): \(e.reason) (encoder input must be [N, \(enc.config.inputNc), 256, 256])") }
        do { try writeNpy(codes, to: out) } catch { throw CommandFailure(error, context: out) }
        print("wrote \(out): codes \(codes.shape) (\(enc.config.encoderType.rawValue), raw, no latent_avg)")
    }
}
