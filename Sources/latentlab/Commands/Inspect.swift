import ArgumentParser
import Foundation
import LatentFormats
import LatentImageIO

/// `latentlab inspect FILE…`: what each file is, detected by content.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe images, safetensors checkpoints, .npy/.npz arrays and NVIDIA .pkl snapshots.",
        discussion: "Files are recognised by their content, not their extension. Unreadable files get a one-line error on stderr; the others are still inspected and the exit code is 1.")

    @Argument(help: "Files to inspect.") var files: [String]

    func run() throws {
        var failed = false
        for path in files {
            do {
                let text = try describeFile(path: path)
                print("\(path): \(text)")
            } catch {
                printError("\(path): \(oneLine(error))")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// What kind of file `path` holds, judged from its first bytes.
enum FileKind { case png, jpeg, safetensors, npy, npz, pickle, unknown }

func sniffFileKind(path: String) throws -> FileKind {
    guard let h = FileHandle(forReadingAtPath: path) else {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            throw ValidationError(isDir.boolValue ? "is a folder, not a file" : "cannot be opened (permission?)")
        }
        throw ValidationError("no such file")
    }
    defer { try? h.close() }
    let head = [UInt8](h.readData(ofLength: 16))
    if head.isEmpty { throw ValidationError("empty file") }
    if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
    if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
    if head.starts(with: [0x93] + Array("NUMPY".utf8)) { return .npy }
    if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .npz }
    if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) { return .pickle }
    if head.count >= 9, head[8] == UInt8(ascii: "{") { return .safetensors }
    return .unknown
}

func describeFile(path: String) throws -> String {
    switch try sniffFileKind(path: path) {
    case .png, .jpeg:
        return describeImage(try probeImage(path: path))
    case .safetensors:
        return describeSafeTensors(try SafeTensorsFile(path: path))
    case .npy:
        return describeNpy(try readNpy(path: path))
    case .npz:
        return describeNpz(try readNpz(path: path))
    case .pickle:
        return describeSnapshot(try NVLabsSnapshot(path: path))
    case .unknown:
        throw ValidationError("unknown file kind (not PNG, JPEG, safetensors, npy, npz or a pickle snapshot)")
    }
}

/// An error as one line (multi-line descriptions folded).
func oneLine(_ error: Error) -> String {
    "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
}
