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
