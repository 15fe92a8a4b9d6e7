import Foundation
import LatentTensor

/// What kind of file `path` holds, judged from its first bytes.
public enum FileKind: Equatable, Sendable {
    case png, jpeg, safetensors, npy, npz, pickle
    /// Not one of ours; the associated text says what it looks like (e.g. "a GIF image").
    case unknown(String)

    /// A noun for messages, e.g. "a PNG image".
    public var noun: String {
        switch self {
        case .png: return "a PNG image"
        case .jpeg: return "a JPEG image"
        case .safetensors: return "a safetensors file"
        case .npy: return "an .npy array"
        case .npz: return "an .npz archive"
        case .pickle: return "a pickle"
        case .unknown(let what): return what
        }
    }

    /// `noun` without any of the file's bytes (no text excerpt, no leading bytes in hex): for
    /// messages about a file the user did not mean to show, e.g. one a recipe points at.
    public var nounWithoutContent: String {
        guard case .unknown(let what) = self else { return noun }
        if what.hasPrefix("a text file") { return "a text file" }
        if what.hasPrefix("unknown file kind") { return "a file of unknown kind" }
        return what.components(separatedBy: " (").first ?? what
    }
}

/// Sniffs the first bytes of `path`.
/// - Throws: `FormatError` naming the file for a missing path, a folder, a FIFO or device, an
///   unreadable or an empty file.
public func sniffFileKind(path: String) throws -> FileKind {
    // Through the bounded reader: a FIFO, device or folder is refused from its stat, never opened
    // for a blocking read.
    let head: [UInt8]
    do { head = [UInt8](try readInputFilePrefix(path: path, count: 64).data) } catch {
        throw FormatError(path, fileErrorReason(error))
    }
    if head.isEmpty { throw FormatError(path, "empty file (0 bytes)") }
    return fileKind(head: head)
}

/// The kind of a file from its first (up to 64) bytes.
public func fileKind(head: [UInt8]) -> FileKind {
    func starts(_ s: String) -> Bool { head.starts(with: Array(s.utf8)) }
    if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
    if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
    if head.starts(with: [0x93] + Array("NUMPY".utf8)) { return .npy }
    if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .npz }
    if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) { return .pickle }
    // safetensors: an 8-byte little-endian header length, then the JSON header.
    if head.count >= 9, head[8] == UInt8(ascii: "{") { return .safetensors }
    if starts("GIF87a") || starts("GIF89a") { return .unknown("a GIF image (latentlab reads PNG and JPEG)") }
    if starts("BM") && head.count >= 14 { return .unknown("a BMP image (latentlab reads PNG and JPEG)") }
    if starts("RIFF") && head.count >= 12 && Array(head[8..<12]) == Array("WEBP".utf8) {
        return .unknown("a WebP image (latentlab reads PNG and JPEG)")
    }
    if starts("II*\u{0}") || starts("MM\u{0}*") { return .unknown("a TIFF image (latentlab reads PNG and JPEG)") }
    if head.starts(with: [0x1F, 0x8B]) { return .unknown("a gzip file") }
    if let text = String(bytes: head, encoding: .utf8),
       text.unicodeScalars.allSatisfy({ $0.value >= 0x20 || [0x09, 0x0A, 0x0D].contains($0.value) }) {
        let start = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return .unknown("a text file (starts \"\(start.prefix(40))\(start.count > 40 ? "…" : "")\"), not an image, array or checkpoint")
    }
    let hex = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
    return .unknown("unknown file kind (starts with bytes \(hex)); latentlab reads PNG, JPEG, safetensors, npy, npz and NVIDIA .pkl snapshots")
}
