import Foundation
import CImageCodecs
import LatentTensor

/// One value in [-1, 1] as the 8-bit sample `quantizeToUInt8` stores: `(x · 127.5 + 128)`
/// clamped to [0, 255] and truncated. `x` must be finite.
@inlinable public func uint8Sample(_ x: Float) -> UInt8 { UInt8(min(max(x * 127.5 + 128, 0), 255)) }

/// Quantises an image in [-1, 1] to interleaved 8-bit samples (rows top to bottom), as NVIDIA's
/// scripts do before saving: `(x * 127.5 + 128).clamp(0, 255).to(uint8)` (truncation after the
/// +128, i.e. round-half-up of `x * 127.5 + 127.5`).
///
/// - Parameter image: `[3, H, W]` (RGB) or `[1, H, W]` (gray); `[1, 3 or 1, H, W]` is accepted too.
/// - Returns: the samples (`H * W * channels`), width, height and channel count.
/// - Throws: `ImageError` (`.invalidArgument`) for other shapes or non-finite values.
public func quantizeToUInt8(_ image: Tensor) throws -> (samples: [UInt8], width: Int, height: Int, channels: Int) {
    var shape = image.shape
    if shape.count == 4 && shape[0] == 1 { shape.removeFirst() }
    guard shape.count == 3, shape[0] == 1 || shape[0] == 3, shape[1] >= 1, shape[2] >= 1 else {
        throw ImageError(.invalidArgument, subject: "image",
                         reason: "expected a [3, H, W] or [1, H, W] tensor to encode, got \(image.shape)")
    }
    let (c, h, w) = (shape[0], shape[1], shape[2])
    let plane = h * w
    var out = [UInt8](repeating: 0, count: plane * c)
    var bad = -1
    image.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for ch in 0..<c {
                for i in 0..<plane {
                    let x = src[ch * plane + i]
                    guard x.isFinite else { bad = ch * plane + i; return }
                    dst[i * c + ch] = uint8Sample(x)
                }
            }
        }
    }
    if bad >= 0 {
        throw ImageError(.invalidArgument, subject: "image",
                         reason: "non-finite value \(image[flat: bad]) at flat index \(bad); refusing to encode")
    }
    return (out, w, h, c)
}

/// Encodes an image in [-1, 1] as an 8-bit PNG (RGB for `[3, H, W]`, gray for `[1, H, W]`),
/// quantised by `quantizeToUInt8`.
public func encodePNG(_ image: Tensor) throws -> Data {
    let q = try quantizeToUInt8(image)
    return try encodeWithCodec(name: "PNG") { out, size, message, messageSize in
        llc_encode_png(q.samples, Int32(q.width), Int32(q.height), Int32(q.channels), out, size, message, messageSize)
    }
}

/// Encodes an image in [-1, 1] as a baseline JPEG (4:4:4 chroma, optimised Huffman tables),
/// quantised by `quantizeToUInt8`.
///
/// - Parameter quality: libjpeg quality 1...100 (default 95).
public func encodeJPEG(_ image: Tensor, quality: Int = 95) throws -> Data {
    guard (1...100).contains(quality) else {
        throw ImageError(.invalidArgument, subject: "quality", reason: "JPEG quality must be in 1...100, got \(quality)")
    }
    let q = try quantizeToUInt8(image)
    guard q.width <= 65_500 && q.height <= 65_500 else {
        throw ImageError(.invalidArgument, subject: "image", reason: "JPEG sides are at most 65500, got \(q.width)×\(q.height)")
    }
    return try encodeWithCodec(name: "JPEG") { out, size, message, messageSize in
        llc_encode_jpeg(q.samples, Int32(q.width), Int32(q.height), Int32(q.channels), Int32(quality),
                        out, size, message, messageSize)
    }
}

/// Writes an image in [-1, 1] to `path`, as PNG for `.png` and JPEG for `.jpg`/`.jpeg`
/// (case-insensitive), atomically (a crash never leaves a partial file).
///
/// - Parameter quality: JPEG quality 1...100 (default 95); ignored for PNG.
public func saveImage(_ image: Tensor, to path: String, quality: Int = 95) throws {
    let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
    let data: Data
    switch ext {
    case "png": data = try encodePNG(image)
    case "jpg", "jpeg": data = try encodeJPEG(image, quality: quality)
    default:
        throw ImageError(.invalidArgument, subject: path,
                         reason: "cannot choose an image format from the extension '\(ext)' (use .png, .jpg or .jpeg)")
    }
    do {
        try writeAtomically(data, to: path)
    } catch {
        throw ImageError(.writeFailed, subject: path, reason: "cannot write file (\(fileErrorReason(error)))")
    }
}

private func encodeWithCodec(name: String,
                             _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
                                      UnsafeMutablePointer<CChar>, Int) -> Int32) throws -> Data {
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    var message = [CChar](repeating: 0, count: 512)
    let status = message.withUnsafeMutableBufferPointer { m in
        body(&out, &size, m.baseAddress!, m.count)
    }
    defer { llc_free(out) }
    guard status == 0, let bytes = out else {
        let reason = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        throw ImageError(status == Int32(LLC_ERR_ARGUMENT) ? .invalidArgument : .writeFailed,
                         subject: name, reason: "encoding failed (\(reason))")
    }
    return Data(bytes: bytes, count: size)
}

/// The image as an 8-bit PNG stores it (`saveImage`'s rounding, `uint8Sample`), back in [-1, 1].
public func quantized8Bit(_ image: Tensor) -> Tensor {
    image.map { Float(uint8Sample($0)) / 127.5 - 1 }
}
