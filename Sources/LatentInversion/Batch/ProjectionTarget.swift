import Foundation
import LatentTensor
import LatentImageIO

/// Reads an image file and prepares it as a projector target, as NVIDIA's `projector.py` does:
/// decode (PNG or JPEG by content, EXIF orientation applied, grey/alpha converted to RGB), crop
/// (default: the largest centred square), Lanczos resize to the generator's resolution.
///
/// - Parameters:
///   - path: the image file.
///   - resolution: output side `R` (the generator's `img_resolution`).
///   - crop: default `.center`.
/// - Returns: `[3, R, R]` in [-1, 1].
/// - Throws: `ImageError` naming the file for unreadable, truncated or mislabelled files.
public func loadProjectionTarget(path: String, resolution: Int, crop: CropMode = .center) throws -> Tensor {
    let loaded = try loadImage(path: path)
    return try preprocess(loaded.tensor, crop: crop, size: resolution)
}
