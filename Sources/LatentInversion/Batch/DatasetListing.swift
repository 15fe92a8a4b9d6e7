import Foundation
import LatentTensor

/// File extensions `project` picks up when walking a dataset folder. Decoding itself detects
/// the format by content, so a mislabelled file is reported as a failure, not mis-read.
public let imageFileExtensions: Set<String> = ["png", "jpg", "jpeg"]

/// What `listDataset` found under a folder.
public struct DatasetListing: Sendable {
    /// Image files (by extension), relative to the root, sorted bytewise.
    public var images: [String] = []
    /// Hidden entries (names starting with "."), skipped and not descended into: macOS `._x.jpg`
    /// resource forks and tool caches are not images, but the user is told they were left out.
    public var hidden: [String] = []
    /// Entries that cannot be taken, with the reason: names that are not valid UTF-8 (shown with
    /// `\xNN` escapes), broken symbolic links, image names that are not regular files, folders
    /// that cannot be read, symbolic-link loops.
    public var problems: [(path: String, reason: String)] = []
}

/// Every image file under `root` (recursive), as paths relative to `root`, sorted bytewise so
/// every machine sees the same order.
///
/// Symbolic links are followed, the root included, for folders and files alike; a folder met a
/// second time (a link loop, or two links to one folder) is not walked again and is listed in
/// `problems`. Hidden entries are skipped and listed in `hidden`; entries that cannot be taken
/// are listed in `problems`: nothing is left out silently. Folders in `excluding` (the output
/// folder, when it lies inside the input) are skipped.
/// - Throws: `ProjectorError` when `root` is not a folder, or "no images under ROOT" when the
///   walk finds no image at all.
public func listDataset(root: String, excluding: [String] = []) throws -> DatasetListing {
    var st = stat()
    guard stat(root, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
        throw ProjectorError("\(root): not a folder")
    }
    func identity(_ s: stat) -> String { "\(s.st_dev):\(s.st_ino)" }
    var excluded = Set<String>()
    for dir in excluding {
        var e = stat()
        if stat(dir, &e) == 0 { excluded.insert(identity(e)) }
    }
    var listing = DatasetListing()
    var visited: [String: String] = [identity(st): "."]
    // Depth-first over (absolute path, relative path) pairs.
    var pending: [(String, String)] = [(root, "")]
    while let (dir, rel) = pending.popLast() {
        guard let handle = opendir(dir) else {
            listing.problems.append((rel.isEmpty ? "." : rel, "cannot read folder: \(systemReason(errno))"))
            continue
        }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let raw = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if raw == [0x2E] || raw == [0x2E, 0x2E] { continue }
            guard let name = String(validating: raw, as: UTF8.self) else {
                let shown = raw.map { $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
                listing.problems.append((rel + shown, "name is not valid UTF-8; rename it to be read"))
                continue
            }
            let relPath = rel + name
            if name.hasPrefix(".") { listing.hidden.append(relPath); continue }
            let path = dir + "/" + name
            var target = stat()
            guard stat(path, &target) == 0 else {
                var link = stat()
                let broken = lstat(path, &link) == 0 && link.st_mode & S_IFMT == S_IFLNK
                listing.problems.append((relPath, broken ? "broken symbolic link" : systemReason(errno)))
                continue
            }
            switch target.st_mode & S_IFMT {
            case S_IFDIR:
                let id = identity(target)
                if excluded.contains(id) { continue }
                if let first = visited[id] {
                    listing.problems.append((relPath, "same folder as '\(first)' (symbolic link loop or second link), not walked again"))
                    continue
                }
                visited[id] = relPath
                pending.append((path, relPath + "/"))
            default:
                guard imageFileExtensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
                // A FIFO or device named like an image would block or never end when decoded.
                guard target.st_mode & S_IFMT == S_IFREG else {
                    listing.problems.append((relPath, "not a regular file"))
                    continue
                }
                listing.images.append(relPath)
            }
        }
    }
    let bytewise: (String, String) -> Bool = { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    listing.images.sort(by: bytewise)
    listing.hidden.sort(by: bytewise)
    listing.problems.sort { bytewise($0.path, $1.path) }
    guard !listing.images.isEmpty else {
        var extra: [String] = []
        if !listing.problems.isEmpty { extra.append("\(listing.problems.count) unreadable: \(listing.problems[0].path): \(listing.problems[0].reason)") }
        if !listing.hidden.isEmpty { extra.append("\(listing.hidden.count) hidden entries skipped") }
        throw ProjectorError("no images under \(root)" + (extra.isEmpty ? "" : " (\(extra.joined(separator: "; ")))"))
    }
    return listing
}

/// The images of `listDataset(root:)`.
public func listImages(root: String) throws -> [String] {
    try listDataset(root: root).images
}

/// Names `project` writes itself, at the top of the output folder (the summaries) or inside an
/// image's folder (see `writeInversionOutputs`), in lower case. Image folders never take them.
public let reservedOutputNames: Set<String> = [
    "summary.csv", "summary.json",
    "latent.npz", "target.png", "reconstruction.png", "metrics.json", "error.json", "progress.png",
]

/// A deterministic 1/N slice of a dataset, for N machines with no coordination
/// (Slurm array jobs, Kubernetes indexed Jobs).
///
/// Membership hashes the relative path (64-bit FNV-1a), so it does not depend on the listing
/// order or on which other files exist: adding images to the folder never moves a finished
/// image to another shard.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    /// 0-based shard index, `0 ..< count`.
    public var index: Int
    public var count: Int

    public static let all = try! Shard(index: 0, count: 1)

    /// - Throws: `ProjectorError` unless `0 <= index < count`.
    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw ProjectorError("shard \(index)/\(count): expected 0 <= K < N")
        }
        self.index = index
        self.count = count
    }

    /// Parses `K/N` with `0 <= K < N`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let k = parts[0], let n = parts[1], n >= 1, k >= 0, k < n else {
            throw ProjectorError("--shard '\(text)': expected K/N with 0 <= K < N (e.g. 0/4)")
        }
        try self.init(index: k, count: n)
    }

    public func contains(_ relativePath: String) -> Bool {
        count == 1 || Int(fnv1a64(relativePath) % UInt64(count)) == index
    }

    public var description: String { "\(index)/\(count)" }
}

/// 64-bit FNV-1a over the UTF-8 bytes: stable across runs, machines and Swift versions
/// (unlike `Hasher`, which is seeded per process).
public func fnv1a64(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}

/// Output sub-folder names for relative image paths: the path without its extension
/// (`cats/a.png` → `cats/a`), keeping the extension only where two images would collide
/// (`a.png` and `a.jpg` → `a_png`, `a_jpg`). Names are unique even in corner cases (`a.png`,
/// `a.PNG` and `a_png.jpg` together): a remaining clash gets the path's FNV-1a hash appended.
/// A path component that equals one of the tool's own output names (`reservedOutputNames`, any
/// case: `summary.csv` as an input folder, `a/latent.npz.png` beside `a.png`) gets a trailing
/// `_`, so an image folder never takes the place of an output file.
/// The result depends only on the set of paths, so every shard of a run computes the same names.
public func outputFolderNames(for paths: [String]) -> [String: String] {
    func stem(_ p: String) -> String {
        let dir = parentPath(p)
        let s = ((p as NSString).lastPathComponent as NSString).deletingPathExtension
        return dir.isEmpty ? s : dir + "/" + s
    }
    let unique = Array(Set(paths)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    var counts: [String: Int] = [:]
    for p in unique { counts[stem(p), default: 0] += 1 }
    var candidate: [String: String] = [:]
    for p in unique {
        let s = stem(p)
        let name = counts[s]! > 1 ? s + "_" + (p as NSString).pathExtension.lowercased() : s
        candidate[p] = name.split(separator: "/").map { c in
            reservedOutputNames.contains(c.lowercased()) ? c + "_" : String(c)
        }.joined(separator: "/")
    }
    // Folder names compare case-insensitively on some file systems (macOS, Windows shares).
    var owners: [String: Int] = [:]
    for p in unique { owners[candidate[p]!.lowercased(), default: 0] += 1 }
    var out: [String: String] = [:]
    var taken = Set<String>()
    for p in unique where owners[candidate[p]!.lowercased()] == 1 {
        out[p] = candidate[p]!; taken.insert(candidate[p]!.lowercased())
    }
    for p in unique where out[p] == nil {
        var name = candidate[p]! + "_" + String(fnv1a64(p), radix: 16)
        while taken.contains(name.lowercased()) { name += "_" }
        out[p] = name; taken.insert(name.lowercased())
    }
    return out
}
