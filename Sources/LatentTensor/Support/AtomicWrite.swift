import Foundation

/// Writes `data` to `path` atomically: the bytes go to a temporary file in the same folder,
/// are flushed to disk, and the file is renamed over `path`. A reader (or a rerun after a
/// SIGKILL) sees either the old file, no file, or the complete new one, never a partial write.
/// - Throws: `FileAccessError` naming `path` (or the folder that cannot be created) and the
///   system's reason.
public func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent()
    do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    catch { throw FileAccessError(fileErrorPath(error) ?? dir.path, "cannot create folder: \(fileErrorReason(error))") }
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
    let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
    guard fd >= 0 else { throw FileAccessError(path, "cannot write: \(systemReason(errno))") }
    func fail(_ what: String) -> FileAccessError {
        let reason = systemReason(errno)
        close(fd)
        unlink(tmp)
        return FileAccessError(path, "\(what): \(reason)")
    }
    var done = 0
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, min(raw.count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("cannot write")
            }
            done += n
        }
    }
    guard fsync(fd) == 0 || errno == EINVAL else { throw fail("cannot flush to disk") }
    guard close(fd) == 0 else {
        let reason = systemReason(errno)
        unlink(tmp)
        throw FileAccessError(path, "cannot write: \(reason)")
    }
    // rename(2) replaces the destination atomically on POSIX file systems.
    guard rename(tmp, path) == 0 else {
        let reason = systemReason(errno)
        unlink(tmp)
        throw FileAccessError(path, "cannot write: \(reason)")
    }
}

/// The folder part of a path, as `NSString.deletingLastPathComponent` gives it ("a/b" → "a",
/// "/b" → "/", "b" → ""), written out because swift-corelibs-foundation's version traps on a
/// one-character path (`"A"`), which a user's folder or recipe name can be.
public func parentPath(_ path: String) -> String {
    var p = Substring(path)
    while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
    guard let slash = p.lastIndex(of: "/") else { return "" }
    if slash == p.startIndex { return "/" }
    var head = p[..<slash]
    while head.count > 1, head.hasSuffix("/") { head = head.dropLast() }
    return String(head)
}
