import Foundation
import LatentCore
import LatentTensor
import LatentModels
import LatentInversion
import LatentImageIO

/// W+ codes of training images read from `folder`, the output of `latentlab project` or `encode`
/// run on `root` (the folder the images were listed from): `folder/<name>/latent.npz`, with the
/// sub-folder names those commands give the whole listing of `root` (`outputFolderNames`).
///
/// These are the latent targets of an encoder trained on real images (`--image-latents`) or on
/// paired maps (`--pair-latents`): codes that optimisation found for the photos, which the
/// encoder regresses besides (or instead of) the image losses.
/// - Parameters:
///   - images: absolute paths under `root` (as `listTrainingImages` or `GuidancePairs` give them).
/// - Returns: `[images.count, numWs, wDim]` in the order of `images`.
/// - Throws: `EncoderError` naming the first image whose latent file is missing or unusable (a z
///   file, a batch, another generator's shape).
public func loadImageLatents(for images: [String], listedFrom root: String, folder: String,
                             generator G: StyleGAN2Generator) throws -> Tensor {
    let numWs = G.numWs, wDim = G.wDim
    let listing: [String]
    do { listing = try listImages(root: root) } catch { throw EncoderError("\(root): \(errorLine(error))") }
    // Folder names depend on the whole listing (stems that collide get their extension).
    let names = outputFolderNames(for: listing)
    var data = [Float]()
    data.reserveCapacity(images.count * numWs * wDim)
    // `listTrainingImages` joins names to the folder as a file URL (absolute, no trailing slash);
    // `GuidancePairs` to the folder as given.
    let prefixes = Set([root, URL(fileURLWithPath: root).path]).map { $0.hasSuffix("/") ? $0 : $0 + "/" }
    for image in images {
        let rel = prefixes.first(where: { image.hasPrefix($0) }).map { String(image.dropFirst($0.count)) } ?? image
        guard let name = names[rel] else { throw EncoderError("\(image): not an image listed under \(root)") }
        let path = folder + "/" + name + "/latent.npz"
        let file: LatentFile
        do { file = try LatentFile.read(path: path, generator: G) }
        catch { throw EncoderError("latent target of \(rel): \(errorLine(error))") }
        guard case .w(let w) = file.codes, w.shape == [1, numWs, wDim] else {
            throw EncoderError("\(path): needs one W+ code [1, \(numWs), \(wDim)] (as `encode`/`project` write)")
        }
        data += w.storage
    }
    return Tensor(shape: [images.count, numWs, wDim], data: data)
}
