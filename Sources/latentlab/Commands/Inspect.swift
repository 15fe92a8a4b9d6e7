import ArgumentParser
import Foundation
import LatentFormats
import LatentImageIO
import LatentTensor

/// `latentlab inspect FILE…`: what each file is, detected by content.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe images, safetensors checkpoints, .npy/.npz arrays and NVIDIA .pkl snapshots.",
        discussion: """
        Files are recognised by their content, not their extension. Images are decoded in full (so damaged \
        pixel data is found, not only a bad header) and described as stored; latentlab loads every image as \
        RGB, alpha composited on white, EXIF orientation applied.
        Each unreadable file gets one line on stderr ('PATH: reason'); the others are still described, and \
        the exit code is 1.
        """)

    @Argument(help: "Files to inspect.") var files: [String]

    func run() throws {
        var failed = false
        for path in files {
            do {
                print("\(path): \(try describeFile(path: path))")
            } catch {
                printError(inspectErrorLine(path: path, error: error))
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `PATH: reason` for a file that could not be described (the path said once, even when the
/// library's error already names it).
func inspectErrorLine(path: String, error: Error) -> String {
    let reason: String
    switch error {
    case let e as ImageError: reason = e.reason
    case let e as FormatError where e.path == path: reason = e.reason
    default:
        let line = oneLine(error)
        reason = line.hasPrefix(path + ": ") ? String(line.dropFirst(path.count + 2)) : line
    }
    return "\(path): \(reason.split(whereSeparator: \.isNewline).joined(separator: " "))"
}

/// What kind of file `path` holds, judged from its first bytes.
enum FileKind: Equatable {
    case png, jpeg, safetensors, npy, npz, pickle
    /// Not one of ours; the associated text says what it looks like (e.g. "a GIF image").
    case unknown(String)

    /// A noun for messages, e.g. "a PNG image".
    var noun: String {
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
}

/// Sniffs the first bytes of `path`.
/// - Throws: `CommandFailure` for a missing path, a folder, a FIFO or device, an unreadable or
///   an empty file.
func sniffFileKind(path: String) throws -> FileKind {
    let head: [UInt8]
    do { head = [UInt8](try readInputFilePrefix(path: path, count: 64).data) } catch {
        throw CommandFailure(error, context: path)
    }
    if head.isEmpty { throw CommandFailure("\(path): empty file (0 bytes)") }
    return fileKind(head: head)
}

/// The kind of a file from its first (up to 64) bytes.
func fileKind(head: [UInt8]) -> FileKind {
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

/// A description of the file at `path`: the first line says what it is, indented lines follow
/// for checkpoints and archives.
func describeFile(path: String) throws -> String {
    switch try sniffFileKind(path: path) {
    case .png, .jpeg:
        // A full decode: a header can be fine while the pixel data is cut or corrupt.
        let image = try loadImage(path: path)
        var line = describeImage(image.info)
        if !["RGB", "RGBA", "YCbCr"].contains(image.info.colorType) {
            line += "; loaded as RGB"
        }
        return line
    case .safetensors:
        let f = try SafeTensorsFile(path: path)
        let kind = f.metadata["format"].map { "safetensors (format \($0))" } ?? "safetensors"
        return ([kind] + describeSafeTensors(f).split(separator: "\n").dropFirst().map(String.init)).joined(separator: "\n")
    case .npy:
        return "npy array, " + describeNpy(try readNpy(path: path))
    case .npz:
        return "npz archive, " + describeNpz(try readNpzEntries(path: path))
    case .pickle:
        let lines = describeSnapshot(try NVLabsSnapshot(path: path)).split(separator: "\n", omittingEmptySubsequences: false)
        // The library's first line starts with the file name, which our caller already prints.
        let name = (path as NSString).lastPathComponent + ": "
        let first = lines.first.map { $0.hasPrefix(name) ? String($0.dropFirst(name.count)) : String($0) } ?? ""
        return ([first] + lines.dropFirst().map(String.init)).joined(separator: "\n")
    case .unknown(let what):
        throw CommandFailure("\(path): \(what)")
    }
}
