import XCTest
import Foundation
import LatentTensor
import LatentInversion

/// Dataset folders that used to lose inputs silently or let an input break a run: symbolic links
/// (followed, loops detected), names that are not UTF-8, hidden files, FIFOs named like images,
/// folders with no images, names equal to the tool's own outputs, damaged finished outputs.
final class DatasetRobustnessTests: XCTestCase {
    var root: String!

    override func setUpWithError() throws { root = try BatchFixtures.temporaryFolder("dataset") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    func touch(_ relative: String) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
    }

    func testSymbolicLinksAreFollowedAndLoopsReported() throws {
        try touch("real/a.png")
        try touch("real/sub/b.jpg")
        try touch("elsewhere/c.png")
        let fm = FileManager.default
        // The input folder itself is a link; inside it a linked image and a linked folder.
        try fm.createSymbolicLink(atPath: root + "/input", withDestinationPath: root + "/real")
        try fm.createSymbolicLink(atPath: root + "/real/linked.png", withDestinationPath: root + "/elsewhere/c.png")
        try fm.createSymbolicLink(atPath: root + "/real/more", withDestinationPath: root + "/elsewhere")
        try fm.createSymbolicLink(atPath: root + "/real/sub/loop", withDestinationPath: root + "/real")
        try fm.createSymbolicLink(atPath: root + "/real/broken.png", withDestinationPath: root + "/nowhere.png")
        let listing = try listDataset(root: root + "/input")
        XCTAssertEqual(listing.images, ["a.png", "linked.png", "more/c.png", "sub/b.jpg"])
        XCTAssertEqual(listing.problems.map(\.path), ["broken.png", "sub/loop"])
        XCTAssertEqual(listing.problems.first?.reason, "broken symbolic link")
        XCTAssertTrue(listing.problems.last!.reason.contains("symbolic link loop"), listing.problems.last!.reason)
    }

    func testHiddenNonUTF8AndNonRegularEntriesAreListedNotDropped() throws {
        try touch("a.png")
        try touch(".hidden.png")
        try touch(".cache/x.png")
        try touch("notes.txt")
        // A file name with the byte 0xFF (not UTF-8), created through the system call.
        let raw: [UInt8] = Array((root + "/bad").utf8) + [0xFF] + Array(".png".utf8) + [0]
        let fd = raw.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        XCTAssertGreaterThanOrEqual(fd, 0); close(fd)
        XCTAssertEqual(mkfifo(root + "/pipe.png", 0o600), 0)
        let listing = try listDataset(root: root)
        XCTAssertEqual(listing.images, ["a.png"])
        XCTAssertEqual(listing.hidden, [".cache", ".hidden.png"])
        XCTAssertEqual(listing.problems.map(\.path), ["bad\\xFF.png", "pipe.png"])
        XCTAssertEqual(listing.problems.map(\.reason), ["name is not valid UTF-8; rename it to be read", "not a regular file"])
    }

    func testFolderWithoutImagesIsAnError() throws {
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try listDataset(root: root + "/empty")) {
            XCTAssertEqual("\($0)", "no images under \(self.root!)/empty")
        }
        try touch("text/readme.txt")
        try touch("text/.a.png")
        XCTAssertThrowsError(try listDataset(root: root + "/text")) {
            XCTAssertEqual("\($0)", "no images under \(self.root!)/text (1 hidden entries skipped)")
        }
        XCTAssertThrowsError(try listDataset(root: root + "/text/readme.txt")) { XCTAssertTrue("\($0)".contains("not a folder")) }
    }

    func testOutputFolderInsideTheInputIsNotListed() throws {
        try touch("a.png")
        try touch("out/a/target.png")
        XCTAssertEqual(try listDataset(root: root, excluding: [root + "/out"]).images, ["a.png"])
        XCTAssertEqual(try listDataset(root: root).images, ["a.png", "out/a/target.png"])
    }

    /// Input names equal to output names: no image folder takes the place of a summary or of
    /// another image's `latent.npz`, and every image keeps its own folder.
    func testOutputFolderNamesAvoidTheToolsOwnOutputs() {
        let inputs = ["summary.csv/a.png", "summary.json.png", "a.png", "a/latent.npz.png", "a/metrics.JSON.jpg",
                      "b/target.png.png", "Summary.CSV.jpg"]
        let names = outputFolderNames(for: inputs)
        XCTAssertEqual(Set(names.values).count, inputs.count, "\(names)")
        for (input, folder) in names {
            for component in folder.split(separator: "/") {
                XCTAssertFalse(reservedOutputNames.contains(component.lowercased()), "\(input) → \(folder)")
            }
        }
        XCTAssertEqual(names["a.png"], "a")
        XCTAssertEqual(names["a/latent.npz.png"], "a/latent.npz_")
        XCTAssertEqual(names["summary.csv/a.png"], "summary.csv_/a")
    }

    /// A finished image whose latent.npz was truncated, or whose reconstruction.png is not a
    /// PNG, is redone on resume with a note; intact ones are skipped.
    func testResumeRedoesImagesWithDamagedOutputs() throws {
        let (G, _) = try TinyProjector.load()
        for k in 0..<3 { try BatchFixtures.addScene(k, to: root + "/in", as: "img\(k).png") }
        let out = root + "/out"
        let options = try BatchFixtures.options(steps: 2)
        let first = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: out,
                                           batchSize: 3, options: options)
        XCTAssertEqual(first.inverted, 3)
        for k in 0..<3 {
            guard case .finished = checkFinishedInversion(dir: out + "/img\(k)", image: "img\(k).png", generator: G) else {
                return XCTFail("img\(k) not recognised as finished")
            }
        }
        let latent = try Data(contentsOf: URL(fileURLWithPath: out + "/img0/latent.npz"))
        try latent.prefix(latent.count / 2).write(to: URL(fileURLWithPath: out + "/img0/latent.npz"))
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: out + "/img1/reconstruction.png"))
        guard case .damaged(let why) = checkFinishedInversion(dir: out + "/img0", image: "img0.png", generator: G) else {
            return XCTFail("truncated latent not found")
        }
        XCTAssertTrue(why.hasPrefix(out + "/img0/latent.npz: "), why)
        let second = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: out,
                                            batchSize: 3, options: options)
        XCTAssertEqual(second.skipped, 1)
        XCTAssertEqual(second.inverted, 2)
        XCTAssertEqual(second.notes.filter { $0.hasPrefix("redoing ") }.count, 2, "\(second.notes)")
        XCTAssertTrue(second.notes.contains { $0.hasPrefix("redoing img1.png: its finished output is damaged (\(out)/img1/reconstruction.png: ") }, "\(second.notes)")
        for k in 0..<3 {
            guard case .finished = checkFinishedInversion(dir: out + "/img\(k)", image: "img\(k).png", generator: G) else {
                return XCTFail("img\(k) not finished after the rerun")
            }
        }
    }

    /// A finished image folder that holds a generator delta (a PTI result) is finished only while
    /// the delta reads back and fits the generator: a truncated one or another base's is redone.
    func testDamagedOrForeignDeltaMarksTheImageDamaged() throws {
        let (G, _) = try TinyProjector.load()
        try BatchFixtures.addScene(0, to: root + "/in", as: "img0.png")
        let out = root + "/out"
        _ = try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: out,
                                   options: try BatchFixtures.options(steps: 1))
        let name = G.replaceableParameterNames.first { $0.hasSuffix(".weight") }!
        let tuned = [name: G.parameters[name]! + 0.01]
        let delta = try GeneratorDelta(base: G, tuned: tuned)
        let path = out + "/img0/" + GeneratorDelta.fileName
        try delta.encoded().write(to: URL(fileURLWithPath: path))
        guard case .finished = checkFinishedInversion(dir: out + "/img0", image: "img0.png", generator: G) else {
            return XCTFail("an intact delta should keep the image finished")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        guard case .damaged(let why) = checkFinishedInversion(dir: out + "/img0", image: "img0.png", generator: G) else {
            return XCTFail("a truncated delta was not noticed")
        }
        XCTAssertTrue(why.contains(GeneratorDelta.fileName), why)
        let foreign = GeneratorDelta(baseFingerprint: "0000000000000000", differences: delta.differences, rank: nil)
        try foreign.encoded().write(to: URL(fileURLWithPath: path))
        guard case .damaged = checkFinishedInversion(dir: out + "/img0", image: "img0.png", generator: G) else {
            return XCTFail("a delta of another base was not noticed")
        }
    }

    func testEmptyShardIsANoteAndUnreadableEntriesFailTheirShard() throws {
        let (G, _) = try TinyProjector.load()
        try BatchFixtures.addScene(0, to: root + "/in", as: "only.png")
        XCTAssertEqual(mkfifo(root + "/in/pipe.png", 0o600), 0)
        let options = try BatchFixtures.options(steps: 1)
        var shards: [BatchProjectionReport] = []
        for k in 0..<2 {
            shards.append(try runBatchProjection(generator: G, loss: PixelL2Loss(), inputDir: root + "/in", outputDir: root + "/out",
                                                 shard: try Shard(index: k, count: 2), options: options))
        }
        XCTAssertEqual(shards.map(\.inShard).reduce(0, +), 1)
        let empty = try XCTUnwrap(shards.first { $0.inShard == 0 })
        XCTAssertTrue(empty.notes.contains { $0.contains("holds none of the 1 images") }, "\(empty.notes)")
        XCTAssertEqual(shards.flatMap(\.failures).map(\.image), ["pipe.png"], "the FIFO fails in exactly one shard")
        let summary = try BatchFixtures.summary(root + "/out")
        XCTAssertEqual(summary.failures.map(\.image), ["pipe.png"])
    }
}
