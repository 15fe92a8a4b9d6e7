import Foundation

/// Size limits of the files LatentLab reads whole, by kind. Each is far above what a real file
/// of that kind needs and far below what would exhaust a machine: a limit turns a wrong or
/// hostile file into one error line before any memory is spent on it.
public enum InputFileLimit {
    /// PNG/JPEG files (a 100-megapixel JPEG is about 50 MB).
    public static let image = 1 << 30
    /// Checkpoints and snapshots (safetensors, NVIDIA .pkl), memory-mapped: StyleGAN2 at 1024² is 0.4 GB.
    public static let checkpoint = 32 << 30
    /// Arrays and latents (.npy/.npz, direction files), memory-mapped.
    public static let arrays = 8 << 30
    /// JSON records and recipes, CSV label lists, text files.
    public static let text = 64 << 20
}

/// A file that cannot be read as input: missing, not a regular file (folder, FIFO, device,
/// socket), over its size limit, or failing to read. `description` is one line, `PATH: reason`.
public struct FileAccessError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public init(_ path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// Reads the whole regular file at `path`, refusing anything else before reading a byte.
///
/// FIFOs, character and block devices (`/dev/zero`, a terminal behind `/dev/stdin`), sockets and
/// folders are refused from their `stat`, so they can neither block (a FIFO with no writer is never
/// opened for a blocking read) nor be read until memory runs out. The size is known before
/// reading and checked against `maxBytes`; exactly that many bytes are read, so a file that keeps
/// growing is read as it was when opened.
/// - Parameters:
///   - maxBytes: the largest accepted size (see `InputFileLimit`).
///   - mapped: memory-map the file instead of copying it (for large checkpoints and arrays).
/// - Throws: `FileAccessError` naming the file and the reason.
public func readInputFile(path: String, maxBytes: Int, mapped: Bool = false) throws -> Data {
    let (fd, size) = try openRegularFile(path: path)
    defer { close(fd) }
    guard size <= maxBytes else {
        throw FileAccessError(path, "\(size) bytes, more than the \(maxBytes)-byte limit for this kind of file")
    }
    if size == 0 { return Data() }
    if mapped, let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED {
        // The mapping outlives the descriptor; it is released with the Data.
        return Data(bytesNoCopy: p, count: size, deallocator: .custom { p, n in munmap(p, n) })
    }
    return try readExactly(fd: fd, count: size, path: path)
}

/// The first `count` bytes of the regular file at `path` (fewer when it is shorter) and its size,
/// with the checks of `readInputFile` (used to sniff a file's kind or read an image header).
public func readInputFilePrefix(path: String, count: Int) throws -> (data: Data, fileSize: Int) {
    let (fd, size) = try openRegularFile(path: path)
    defer { close(fd) }
    return (try readExactly(fd: fd, count: min(count, size), path: path), size)
}

/// Opens `path` for reading when it is a regular file (symbolic links followed).
/// - Returns: the descriptor and the file's size.
private func openRegularFile(path: String) throws -> (fd: Int32, size: Int) {
    var st = stat()
    // stat before open: opening a FIFO or a device can block or have side effects.
    guard stat(path, &st) == 0 else { throw FileAccessError(path, systemReason(errno)) }
    try requireRegular(st, path: path)
    // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open still returns at once.
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { throw FileAccessError(path, systemReason(errno)) }
    guard fstat(fd, &st) == 0 else {
        let reason = systemReason(errno)
        close(fd)
        throw FileAccessError(path, reason)
    }
    do { try requireRegular(st, path: path) } catch { close(fd); throw error }
    return (fd, Int(st.st_size))
}

private func requireRegular(_ st: stat, path: String) throws {
    let kind: String
    switch st.st_mode & S_IFMT {
    case S_IFREG: return
    case S_IFDIR: kind = "is a folder, not a file"
    case S_IFIFO: kind = "is a FIFO (named pipe), not a regular file"
    case S_IFCHR: kind = "is a character device, not a regular file"
    case S_IFBLK: kind = "is a block device, not a regular file"
    case S_IFSOCK: kind = "is a socket, not a regular file"
    default: kind = "is not a regular file"
    }
    throw FileAccessError(path, kind)
}

/// Reads `count` bytes from the start of `fd`.
private func readExactly(fd: Int32, count: Int, path: String) throws -> Data {
    var data = Data(count: count)
    var done = 0
    try data.withUnsafeMutableBytes { (buf: UnsafeMutableRawBufferPointer) in
        while done < count {
            let n = pread(fd, buf.baseAddress! + done, min(count - done, 1 << 30), off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileAccessError(path, "cannot read: \(systemReason(errno))")
            }
            if n == 0 { throw FileAccessError(path, "file shrank while being read (\(done) of \(count) bytes)") }
            done += n
        }
    }
    return data
}

/// A short lower-case reason for an `errno` value.
public func systemReason(_ code: Int32) -> String {
    switch code {
    case ENOENT: return "no such file"
    case EACCES, EPERM: return "permission denied"
    case ENOTDIR: return "no such file (a component of the path is not a folder)"
    case ELOOP: return "too many levels of symbolic links"
    case ENAMETOOLONG: return "file name too long"
    case ENOSPC: return "no space left on device"
    case EROFS: return "read-only file system"
    case EISDIR: return "is a folder, not a file"
    default:
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
