import Foundation
import LatentTensor
import LatentModels

/// An official pSp / e4e encoder (converted by `latentlab convert`) used as a `LatentEncoder`
/// for its generator: images at the generator's resolution are resized to the encoder's 256×256
/// input as pSp's inference transform does (`transforms.Resize((256, 256))`, PIL bilinear with
/// its antialiasing footprint), already in [-1, 1] (= `(img − 0.5) / 0.5`), and the codes get
/// `latent_avg` added (`models/psp.py` `forward` with `start_from_latent_avg`).
public struct OfficialEncoder: LatentEncoder {
    public let encoder: PSPEncoder
    /// The generator resolution the images come at (`stylegan_size`).
    public let resolution: Int
    /// The network's input side (pSp/e4e: 256).
    public static let inputSide = 256

    public var numWs: Int { encoder.styleCount }
    public var wDim: Int { 512 }

    /// - Throws: `EncoderError` for an encoder whose input is not 3-channel (guidance encoders
    ///   take maps, not photos).
    public init(encoder: PSPEncoder) throws {
        guard encoder.config.inputNc == 3 else {
            throw EncoderError("this pSp/e4e encoder takes \(encoder.config.inputNc) input channels; image inversion needs 3")
        }
        self.encoder = encoder
        self.resolution = encoder.config.styleganSize
    }

    public func encode(images: Tensor) throws -> Tensor {
        guard images.rank == 4, images.shape[0] >= 1, images.shape[1] == 3, images.shape[2] == resolution, images.shape[3] == resolution else {
            throw EncoderError("images must be [N, 3, \(resolution), \(resolution)], got \(images.shape)")
        }
        guard images.isFinite else { throw EncoderError("images contain NaN or infinity") }
        let side = Self.inputSide
        let x = resolution == side ? images : resize(images, height: side, width: side, method: .bilinear)
        do { return try encoder.codes(x, addLatentAvg: true) }
        catch let e as StyleGAN2InputError { throw EncoderError("encoder input: \(e.reason)") }
    }
}
