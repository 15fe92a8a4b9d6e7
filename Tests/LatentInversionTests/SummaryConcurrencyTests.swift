import XCTest
import Foundation
import LatentTensor
import LatentInversion
import _TestSupport

/// `writeBatchSummary` when several shards finish at the same moment on one output folder: each
/// writes its last image and then rebuilds the summary from every folder. The summary left
/// behind must list every finished image, whichever writer came last (issue 19, item 4).
final class SummaryConcurrencyTests: XCTestCase {
    /// `metrics.json` of a finished image, as `writeInversionOutputs` writes it.
    func finishedRecord(_ image: String) -> Data {
        Data("""
        {"image": "\(image)", "generator": "test", "space": "w+", "arguments": {},
         "metrics": {"mse": 0.01, "psnr": 20, "ssim": 0.9, "ms_ssim": 0.9, "loss": 0.1, "steps": 1, "seconds": 0.1}}
        """.utf8)
    }

    /// Eight writers (threads, each with its own file descriptors as separate processes have),
    /// released together, each finishing one image and rebuilding the summary; 30 rounds on
    /// fresh folders. A rebuild that listed the folders before another writer's image appeared
    /// and renamed its summary after that writer's complete one would drop the image.
    func testSimultaneousRebuildsListEveryFinishedImage() throws {
        let root = try BatchFixtures.temporaryFolder("summary-race")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let writers = 8
        let images = (0..<writers).map { "img\($0).png" }
        let folders = outputFolderNames(for: images)
        for round in 0..<30 {
            let out = root + "/out\(round)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let start = DispatchSemaphore(value: 0), done = DispatchGroup()
            let errors = ErrorBox()
            for k in 0..<writers {
                done.enter()
                let t = Thread {
                    defer { done.leave() }
                    start.wait()
                    do {
                        try writeAtomically(self.finishedRecord(images[k]), to: out + "/" + folders[images[k]]! + "/metrics.json")
                        try writeBatchSummary(outputDir: out, images: images, folders: folders)
                    } catch { errors.add("writer \(k): \(error)") }
                }
                t.start()
            }
            for _ in 0..<writers { start.signal() }
            done.wait()
            XCTAssertEqual(errors.all, [], "round \(round)")
            let s = try BatchFixtures.summary(out)
            XCTAssertEqual(s.results.map(\.image), images, "round \(round): summary.json lists every finished image")
            XCTAssertEqual(s.finished, writers, "round \(round)")
            XCTAssertEqual(try BatchFixtures.csvRows(out).count, writers, "round \(round): summary.csv rows")
            XCTAssertEqual(BatchFixtures.temporaryFiles(under: out), [], "round \(round)")
            if s.finished != writers { break }  // one failing round says it all
        }
    }
}

/// Errors collected from several threads.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [String] = []
    func add(_ e: String) { lock.lock(); errors.append(e); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return errors }
}
