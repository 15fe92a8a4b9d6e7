import XCTest
import Foundation
import _TestSupport

/// Shards of one `project` run finishing at the same moment on a shared output folder (as the
/// tasks of a Slurm array do): each rebuilds `summary.csv` / `summary.json` from every image
/// folder, and the summary left behind must cover every finished image, whichever process wrote
/// last (issue 19, item 4).
final class ConcurrentShardsTests: CLITestCase {
    /// Eight processes `project --shard K/8`, started together on 16 scenes with the tiny32
    /// generator and one step (each does one batch and then rebuilds the summary, all within a
    /// few milliseconds of each other), in several rounds on fresh folders. Without a lock around
    /// the rebuild, a process that listed the folders before another's last image was renamed in
    /// can write its stale summary after the other's complete one.
    func testSimultaneousShardsLeaveACompleteSummary() throws {
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared (testdata/scenes) not found") }
        let scenes = shared.appendingPathComponent("testdata/scenes")
        let names = (0..<16).map { String(format: "scene_%03d.png", $0) }
        try FileManager.default.createDirectory(atPath: temp("in"), withIntermediateDirectories: true)
        for n in names {
            try FileManager.default.copyItem(atPath: scenes.appendingPathComponent(n).path, toPath: temp("in/\(n)"))
        }
        let shards = 8, rounds = 6
        for round in 0..<rounds {
            let out = temp("out\(round)")
            let results = try runConcurrently((0..<shards).map { k in
                ["project", temp("in"), "--out", out, "--shard", "\(k)/\(shards)", "--batch", "16", "--steps", "1",
                 "--network", modelsFixture("tiny32_weights.safetensors"), "--w-avg-samples", "64"]
            })
            for (k, r) in results.enumerated() {
                XCTAssertEqual(r.status, 0, "round \(round) shard \(k)/\(shards) failed:\n\(r.stderr)")
            }
            let csv = try String(contentsOfFile: out + "/summary.csv", encoding: .utf8)
                .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            XCTAssertEqual(csv.map { String($0[0]) }.sorted(), names, "round \(round): summary.csv rows")
            XCTAssertTrue(csv.allSatisfy { $0[1] == "ok" }, "round \(round): every row ok")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any]
            XCTAssertEqual(json?["images"] as? Int, 16, "round \(round)")
            XCTAssertEqual(json?["finished"] as? Int, 16, "round \(round): summary.json finished")
            XCTAssertEqual(json?["failed"] as? Int, 0, "round \(round)")
            let temporary = tempListing().filter { $0.hasPrefix("out\(round)/") && $0.contains(".tmp-") }
            XCTAssertEqual(temporary, [], "round \(round): temporary files left")
        }
    }

    /// Starts every `latentlab` command line at once and waits for all.
    func runConcurrently(_ commands: [[String]]) throws -> [CLIResult] {
        let binary = productsDirectory.appendingPathComponent("latentlab")
        let processes = try commands.enumerated().map { i, args in
            try LoggedProcess(executable: binary, arguments: args, directory: tmp, logName: "p\(i)")
        }
        for p in processes { try p.run() }
        return try processes.map { try $0.wait() }
    }
}
