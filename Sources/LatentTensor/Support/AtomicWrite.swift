import Foundation

/// Writes `data` to `path` atomically: the bytes go to a temporary file in the same folder,
/// are flushed to disk, and the file is renamed over `path`. A reader (or a rerun after a
/// SIGKILL) sees either the old file, no file, or the complete new one, never a partial write.
public func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))")
    guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: tmp.path])
    }
    do {
        let h = try FileHandle(forWritingTo: tmp)
        try h.write(contentsOf: data)
        try h.synchronize()
        try h.close()
        // rename(2) replaces the destination atomically on POSIX file systems.
        guard rename(tmp.path, url.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path,
                             NSLocalizedDescriptionKey: "rename failed: \(String(cString: strerror(errno)))"])
        }
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw error
    }
}
