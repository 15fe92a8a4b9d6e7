import XCTest
import Foundation
import LatentInversion
import _TestSupport

/// `--shard K/N`, the dataset listing and output folder names: deterministic, exact partitions,
/// stable when the dataset grows, collision-free folders.
final class ShardingTests: XCTestCase {
    /// Paths like a real dataset: nested folders, several extensions, non-ASCII names.
    func datasetPaths(_ count: Int, prefix: String = "") -> [String] {
        let exts = ["png", "jpg", "jpeg", "PNG"]
        return (0..<count).map { i in
            let dir = ["", "cats/", "dogs/", "dogs/puppies/", "été/"][i % 5]
            return "\(prefix)\(dir)img_\(i * 7919 % 1000)_\(i).\(exts[i % exts.count])"
        }
    }

    /// FNV-1a 64 test vectors (Fowler/Noll/Vo reference): shard membership must not change
    /// across versions, machines or Swift releases.
    func testHashIsTheStandardFNV1a64() {
        XCTAssertEqual(fnv1a64(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(fnv1a64("a"), 0xaf63_dc4c_8601_ec8c)
        XCTAssertEqual(fnv1a64("foobar"), 0x8594_4171_f739_67e8)
    }

    func testShardsPartitionTheListingExactly() throws {
        let paths = datasetPaths(400)
        for n in 1...7 {
            let shards = try (0..<n).map { try Shard(index: $0, count: n) }
            var union = [String]()
            for s in shards { union += paths.filter { s.contains($0) } }
            XCTAssertEqual(union.count, paths.count, "N = \(n): pairwise disjoint (no path in two shards)")
            XCTAssertEqual(Set(union), Set(paths), "N = \(n): the union is the whole listing")
            // Hash membership spreads the work: each shard near 1/N (binomial, ±6σ).
            for s in shards {
                let k = Double(paths.filter { s.contains($0) }.count), mean = 400 / Double(n)
                XCTAssertLessThan(abs(k - mean), 6 * (mean * (1 - 1 / Double(n))).squareRoot() + 1, "shard \(s)")
            }
        }
        XCTAssertTrue(paths.allSatisfy(Shard.all.contains))
    }

    /// Adding images never moves an existing image to another shard (membership depends on the
    /// path alone), and existing output folder names stay put unless a new file collides.
    func testMembershipStableWhenFilesAreAdded() throws {
        let before = datasetPaths(120)
        let after = before + datasetPaths(80, prefix: "new/")
        for n in [2, 3, 5] {
            for k in 0..<n {
                let s = try Shard(index: k, count: n)
                XCTAssertEqual(before.filter { s.contains($0) }, after.filter { s.contains($0) && before.contains($0) })
            }
        }
        let f0 = outputFolderNames(for: before), f1 = outputFolderNames(for: after)
        for p in before { XCTAssertEqual(f0[p], f1[p], p) }
    }

    /// The same listing on another machine, in another order, gives the same shards and folders.
    func testOrderIndependence() throws {
        let paths = datasetPaths(60)
        XCTAssertEqual(outputFolderNames(for: paths), outputFolderNames(for: paths.reversed()))
        let s = try Shard(parsing: "2/3")
        XCTAssertEqual(Set(paths.filter(s.contains)), Set(paths.reversed().filter(s.contains)))
    }

    func testShardParsing() throws {
        XCTAssertEqual(try Shard(parsing: "0/4"), try Shard(index: 0, count: 4))
        XCTAssertEqual(try Shard(parsing: "3/4").description, "3/4")
        for bad in ["4/4", "-1/4", "1/0", "a/b", "1", "1/2/3", "1//4", "", "/4", " 1/4"] {
            XCTAssertThrowsError(try Shard(parsing: bad), "'\(bad)'") { error in
                XCTAssertTrue("\(error)".contains("K/N"), "\(error)")
            }
        }
        XCTAssertThrowsError(try Shard(index: 2, count: 2))
    }

    func testFolderNamesForCollisions() {
        let names = outputFolderNames(for: ["a.png", "a.jpg", "b.png", "sub/a.png", "c.JPEG"])
        XCTAssertEqual(names["a.png"], "a_png")
        XCTAssertEqual(names["a.jpg"], "a_jpg")
        XCTAssertEqual(names["b.png"], "b")
        XCTAssertEqual(names["sub/a.png"], "sub/a", "another folder does not collide")
        XCTAssertEqual(names["c.JPEG"], "c")
        // Corner cases: the suffixed name of one equals the stem of another; case-only differences
        // (distinct files on Linux, one folder on case-insensitive file systems).
        let tricky = ["a.png", "a.jpg", "a_png.png", "x.png", "X.png", "y.png", "y.PNG"]
        let t = outputFolderNames(for: tricky)
        XCTAssertEqual(t.count, tricky.count)
        XCTAssertEqual(Set(t.values.map { $0.lowercased() }).count, tricky.count, "unique even ignoring case: \(t)")
        // Random collision-heavy sets stay unique.
        var rng = TestRNG(seed: 5)
        for _ in 0..<50 {
            let set = Set((0..<12).map { _ in ["p", "P", "p_png", "p_jpg", "q"][Int(rng.next() % 5)] + "." + ["png", "PNG", "jpg", "jpeg"][Int(rng.next() % 4)] })
            let f = outputFolderNames(for: Array(set))
            XCTAssertEqual(Set(f.values.map { $0.lowercased() }).count, set.count, "\(f)")
        }
    }

    func testListImagesRecursiveSortedSkippingHiddenAndOtherFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-listing-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files = ["b.png", "a.jpg", "A.PNG", "sub/c.jpeg", "sub/deeper/d.png", ".hidden.png", ".cache/e.png",
                     "notes.txt", "sub/readme.md"]
        for f in files {
            let p = root + "/" + f
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: p, contents: Data([1, 2, 3]))
        }
        try FileManager.default.createDirectory(atPath: root + "/folder.png", withIntermediateDirectories: true)
        XCTAssertEqual(try listImages(root: root), ["A.PNG", "a.jpg", "b.png", "sub/c.jpeg", "sub/deeper/d.png"])
        XCTAssertThrowsError(try listImages(root: root + "/missing")) { XCTAssertTrue("\($0)".contains("not a folder")) }
        XCTAssertThrowsError(try listImages(root: root + "/b.png"))
    }
}
