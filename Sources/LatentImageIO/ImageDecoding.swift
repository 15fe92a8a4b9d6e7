import Foundation
import CImageCodecs
import LatentTensor

/// Reads only the header of the PNG or JPEG file at `path` (size, channels, bit depth, colour
/// type, interlacing, EXIF orientation). Throws `ImageError` for unreadable, empty, unknown or
/// damaged headers; a file whose image data is damaged may still probe fine.
public func probeImage(path: String) throws -> ImageInfo {
    // Headers (with EXIF) sit near the start: read a prefix first, the whole file only if the
    // header runs past it.
    let prefix = try readFile(path, limit: 1 << 20)
    do {
        return try probeImage(data: prefix.data, name: path)
    } catch let error as ImageError where error.kind == .truncated && !prefix.complete {
        return try probeImage(data: readFile(path, limit: nil).data, name: path)
    }
}

/// Reads only the header of an in-memory PNG or JPEG; `name` is used in error messages.
public func probeImage(data: Data, name: String) throws -> ImageInfo {
    var info = llc_image_info()
    try callCodec(data: data, name: name) { bytes, count, message, messageSize in
        llc_probe(bytes, count, &info, message, messageSize)
    }
    return imageInfo(from: info)
}

/// Decodes the PNG or JPEG file at `path` (format detected from its first bytes).
///
/// - Parameter maxPixels: refuse images with more pixels than this (checked from the header,
///   before any pixel buffer is allocated). Default 100 000 000.
/// - Returns: `[3, H, W]` in [-1, 1], upright, alpha composited on white; see `LoadedImage`.
/// - Throws: `ImageError` naming the file and the reason (missing, empty, unknown format,
///   corrupt, truncated, too large, unsupported).
public func loadImage(path: String, maxPixels: Int = 100_000_000) throws -> LoadedImage {
    try decodeImage(data: readFile(path, limit: nil).data, name: path, maxPixels: maxPixels)
}

/// Decodes an in-memory PNG or JPEG; `name` is used in error messages. See `loadImage(path:)`.
public func decodeImage(data: Data, name: String, maxPixels: Int = 100_000_000) throws -> LoadedImage {
    guard maxPixels >= 1 else {
        throw ImageError(.invalidArgument, subject: name, reason: "maxPixels must be at least 1, got \(maxPixels)")
    }
    var info = llc_image_info()
    var pixels = llc_pixels()
    try callCodec(data: data, name: name) { bytes, count, message, messageSize in
        llc_decode(bytes, count, UInt64(maxPixels), &info, &pixels, message, messageSize)
    }
    defer { llc_free(pixels.pixels) }
    let stored = imageTensor(from: pixels, adobeInvertedCMYK: info.adobeMarker != 0)
    let orientation = Int(info.orientation)
    return LoadedImage(tensor: applyExifOrientation(stored, orientation: orientation),
                       info: imageInfo(from: info),
                       compositedAlpha: pixels.channels == 2 || (pixels.channels == 4 && pixels.isCMYK == 0))
}

// MARK: - helpers

/// Runs a codec entry point on `data`, turning its status into an `ImageError`.
private func callCodec(data: Data, name: String,
                       _ body: (UnsafePointer<UInt8>, Int, UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
    guard !data.isEmpty else {
        throw ImageError(.empty, subject: name, reason: "empty file (0 bytes)")
    }
    var message = [CChar](repeating: 0, count: 512)
    let status = data.withUnsafeBytes { raw in
        message.withUnsafeMutableBufferPointer { m in
            body(raw.bindMemory(to: UInt8.self).baseAddress!, raw.count, m.baseAddress!, m.count)
        }
    }
    guard status != 0 else { return }
    var reason = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    let kind: ImageError.Kind
    switch Int(status) {
    case Int(LLC_ERR_UNKNOWN_FORMAT):
        kind = .unknownFormat
        reason = unknownFormatReason(data)
    case Int(LLC_ERR_TRUNCATED): kind = .truncated
    case Int(LLC_ERR_TOO_LARGE): kind = .tooLarge
    case Int(LLC_ERR_NO_MEMORY): kind = .outOfMemory
    case Int(LLC_ERR_UNSUPPORTED): kind = .unsupported
    default:
        kind = .corrupt
        let format = data.first == 0x89 ? "PNG" : "JPEG"
        // libjpeg's own wording often starts "Corrupt JPEG data: ..."; do not say it twice.
        if let range = reason.range(of: "Corrupt JPEG data: ", options: .anchored) {
            reason = "corrupt JPEG data: " + reason[range.upperBound...]
        } else {
            reason = "corrupt \(format) data (\(reason))"
        }
    }
    throw ImageError(kind, subject: name, reason: reason)
}

/// Names the format of a file we do not decode when its signature is a well-known one.
private func unknownFormatReason(_ data: Data) -> String {
    let b = [UInt8](data.prefix(12))
    func starts(_ s: [UInt8], at offset: Int = 0) -> Bool {
        b.count >= offset + s.count && Array(b[offset..<offset + s.count]) == s
    }
    let known: String?
    if starts(Array("GIF8".utf8)) { known = "GIF" }
    else if starts(Array("BM".utf8)) { known = "BMP" }
    else if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { known = "WebP" }
    else if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { known = "TIFF" }
    else if starts(Array("ftyp".utf8), at: 4) { known = "HEIF/AVIF" }
    else if starts([0x89, 0x50, 0x4E, 0x47]) { known = "a damaged PNG signature" }
    else { known = nil }
    if let known { return "not a PNG or JPEG file (looks like \(known); only PNG and JPEG are decoded)" }
    let hex = b.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " ")
    return "not a PNG or JPEG file (unrecognised first bytes \(hex))"
}

/// Reads up to `limit` bytes (all when nil); `complete` tells whether the whole file was read.
private func readFile(_ path: String, limit: Int?) throws -> (data: Data, complete: Bool) {
    do {
        if let limit {
            let (data, size) = try readInputFilePrefix(path: path, count: limit)
            return (data, data.count == size)
        }
        return (try readInputFile(path: path, maxBytes: InputFileLimit.image), true)
    } catch let e as FileAccessError {
        throw ImageError(.unreadable, subject: path, reason: e.reason)
    }
}

private func imageInfo(from c: llc_image_info) -> ImageInfo {
    let orientation = Int(c.orientation)
    let swaps = orientation >= 5 && orientation <= 8
    let colorType = withUnsafeBytes(of: c.colorDescription) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    return ImageInfo(format: c.format == Int32(LLC_FORMAT_PNG) ? .png : .jpeg,
                     width: Int(swaps ? c.height : c.width), height: Int(swaps ? c.width : c.height),
                     channels: Int(c.channels), bitDepth: Int(c.bitDepth), colorType: colorType,
                     hasAlpha: c.hasAlpha != 0, interlaced: c.interlaced != 0, orientation: orientation)
}
