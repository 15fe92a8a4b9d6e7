import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lock file in a shared output folder that serialises summary rebuilds.
let summaryLockName = ".summary.lock"

/// Runs `body` holding an exclusive `flock` on `outputDir/.summary.lock`.
///
/// Why: every shard rebuilds `summary.csv` / `summary.json` from all image folders. Two shards
/// finishing at the same moment could otherwise interleave as "A lists the folders, B writes its
/// last image, B rebuilds (complete), A renames its summary (missing B's image)", and the stale
/// summary would be the one left. Under the lock the last rebuild starts after every earlier
/// rebuild ended, hence after every image written before those, so it lists them all.
///
/// `flock` works between processes on one machine and, on Linux, between machines over NFS
/// (the kernel maps it to POSIX locks there). Where the lock cannot be taken at all (a file
/// system without locking, e.g. Lustre mounted without `-o flock`, or an unwritable folder) the
/// rebuild runs unlocked as before: the summary can then miss an image until the next rebuild,
/// and the images themselves are never affected.
func withSummaryLock<T>(outputDir: String, _ body: () throws -> T) throws -> T {
    let fd = open(outputDir + "/" + summaryLockName, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return try body() }
    // Closing the descriptor releases the lock, also when `body` throws.
    defer { close(fd) }
    while flock(fd, LOCK_EX) != 0 {
        guard errno == EINTR else { return try body() }
    }
    return try body()
}
