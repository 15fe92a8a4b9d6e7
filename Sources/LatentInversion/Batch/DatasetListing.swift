import Foundation

/// File extensions `project` picks up when walking a dataset folder. Decoding itself detects
/// the format by content, so a mislabelled file is reported as a failure, not mis-read.
public let imageFileExtensions: Set<String> = ["png", "jpg", "jpeg"]

/// Every image file under `root` (recursive), as paths relative to `root`, sorted bytewise so
/// every machine sees the same order. Hidden files and folders (".name") are skipped.
public func listImages(root: String) throws -> [String] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
        throw ProjectorError("\(root): not a folder")
    }
    let base = URL(fileURLWithPath: root).standardizedFileURL
    guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey],
                                                      options: [.skipsHiddenFiles]) else {
        throw ProjectorError("\(root): cannot list folder")
    }
    var out: [String] = []
    let prefix = base.path.hasSuffix("/") ? base.path : base.path + "/"
    for case let url as URL in walker {
        guard imageFileExtensions.contains(url.pathExtension.lowercased()),
              (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
        let full = url.standardizedFileURL.path
        guard full.hasPrefix(prefix) else { continue }
        out.append(String(full.dropFirst(prefix.count)))
    }
    return out.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
}

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
/// The result depends only on the set of paths, so every shard of a run computes the same names.
public func outputFolderNames(for paths: [String]) -> [String: String] {
    func stem(_ p: String) -> String {
        let dir = (p as NSString).deletingLastPathComponent
        let s = ((p as NSString).lastPathComponent as NSString).deletingPathExtension
        return dir.isEmpty ? s : dir + "/" + s
    }
    let unique = Array(Set(paths)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    var counts: [String: Int] = [:]
    for p in unique { counts[stem(p), default: 0] += 1 }
    var candidate: [String: String] = [:]
    for p in unique {
        let s = stem(p)
        candidate[p] = counts[s]! > 1 ? s + "_" + (p as NSString).pathExtension.lowercased() : s
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
