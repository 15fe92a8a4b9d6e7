import Foundation
import LatentTensor

/// The latents a folder-mode command works on: `path` itself when it is a file (name ""), or
/// every `latent.npz` under a folder (e.g. a `project` output), named by its sub-folder
/// relative to `path` and sorted, so results land in matching sub-folders. Hidden folders (a run's
/// in-progress `.tmp-` work) are skipped.
/// - Throws: `LatentFileError` for a missing path or a folder without any `latent.npz`.
public func findLatentFiles(_ path: String) throws -> [(name: String, path: String)] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw LatentFileError(path, "no such file or folder")
    }
    guard isDir.boolValue else { return [("", path)] }
    let base = URL(fileURLWithPath: path)
    var found: [(String, String)] = []
    let walker = FileManager.default.enumerator(atPath: path)
    while let rel = walker?.nextObject() as? String {
        // Hidden entries are skipped, folders with all they hold: the `.tmp-` folders an
        // interrupted run leaves behind hold partial results, never finished latents.
        if (rel as NSString).lastPathComponent.hasPrefix(".") {
            walker?.skipDescendants()
            continue
        }
        if (rel as NSString).lastPathComponent == "latent.npz" {
            found.append((parentPath(rel), base.appendingPathComponent(rel).path))
        }
    }
    guard !found.isEmpty else { throw LatentFileError(path, "no latent.npz files found") }
    return found.sorted { $0.0 < $1.0 }
}
