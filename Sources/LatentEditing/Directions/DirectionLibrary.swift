import Foundation
import LatentTensor

/// The shipped direction library (`Latents/`) and edit recipes (`Edits/`), found from anywhere:
/// `LATENTLAB_LIBRARY` (a folder holding `Latents/` and `Edits/`), else the working directory
/// when it holds them, else the folders above the running executable (an install or
/// `.build/release/latentlab` in a checkout), else the checkout this library was built from.
public enum DirectionLibrary {
    /// The folder holding `Latents/` and `Edits/`, or nil when none is found.
    public static var root: String? {
        let fm = FileManager.default
        func holdsLibrary(_ dir: String) -> Bool {
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: dir + "/Latents", isDirectory: &isDir) && isDir.boolValue
        }
        if let env = ProcessInfo.processInfo.environment["LATENTLAB_LIBRARY"], !env.isEmpty { return env }
        if holdsLibrary(fm.currentDirectoryPath) { return fm.currentDirectoryPath }
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() { candidates.append(exe.deletingLastPathComponent()) }
        // Sources/LatentEditing/Directions/DirectionLibrary.swift → the checkout.
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent())
        for start in candidates {
            var dir = start
            for _ in 0..<6 {
                if holdsLibrary(dir.path) { return dir.path }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }

    /// `Latents/` of the library (or `Latents` relative to the working directory when none is found).
    public static var latentsFolder: String { root.map { $0 + "/Latents" } ?? "Latents" }

    /// `Edits/` of the library.
    public static var editsFolder: String { root.map { $0 + "/Edits" } ?? "Edits" }

    /// Resolves the file part of a direction reference: an existing path as given (relative paths
    /// tried first against `base`, e.g. a recipe's folder and its parent), else a name of the
    /// shipped library (`sefa` → `Latents/sefa.safetensors`, `Latents/sefa.safetensors` →
    /// the library's copy).
    /// - Throws: `EditingError` naming the reference when nothing matches.
    public static func resolve(file: String, relativeTo bases: [String] = []) throws -> String {
        let fm = FileManager.default
        var candidates: [String] = []
        if file.hasPrefix("/") {
            candidates = [file]
        } else {
            candidates = bases.map { ($0 as NSString).appendingPathComponent(file) } + [file]
            if let root {
                candidates.append(root + "/" + file)
                if !file.contains("/") {
                    candidates.append(root + "/Latents/" + file)
                    if !file.hasSuffix(".safetensors") { candidates.append(root + "/Latents/" + file + ".safetensors") }
                }
            }
        }
        if let found = candidates.first(where: { fm.fileExists(atPath: $0) }) { return found }
        throw EditingError("direction file \(file) not found (looked in \(Array(Set(candidates.map { parentPath($0) })).sorted().joined(separator: ", ")))")
    }

    /// Loads `FILE[:name|index]` (see `resolve`): the set, the entry's index and the file used.
    public static func load(reference: String, relativeTo bases: [String] = []) throws -> (set: DirectionSet, index: Int, path: String) {
        let (file, entry) = parseDirectionReference(reference)
        let path = try resolve(file: file, relativeTo: bases)
        let set = try DirectionSet.load(path: path)
        return (set, try entry.map { try set.index(of: $0) } ?? 0, path)
    }
}
