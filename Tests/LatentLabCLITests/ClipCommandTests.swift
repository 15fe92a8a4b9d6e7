import Foundation
import XCTest
import _TestSupport
import LatentFormats
import LatentTensor

/// `latentlab clip …` run as a process: token ids against OpenAI's tokenizer, the shape and
/// consistency of `score`, `encode-text` and `encode-image` outputs, and argument errors.
final class ClipCommandTests: XCTestCase {
    /// The built `latentlab` executable next to the test bundle.
    static func executable() throws -> URL {
        let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for dir in candidates {
            let url = dir.appendingPathComponent("latentlab")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw MissingTestInput("latentlab executable not found next to the tests (looked in \(candidates.map(\.path)))")
    }

    /// Runs latentlab; returns (exit status, stdout, stderr).
    @discardableResult
    static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        try process.run()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-clip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Token ids of OpenAI's `clip.tokenize` (`shared/golden/clip_golden.safetensors`, zero padding dropped).
    static let golden: [(String, [Int])] = [
        ("a red sphere", [49406, 320, 736, 6987, 49407]),
        ("a photo of a big blue cube on the left", [49406, 320, 1125, 539, 320, 1205, 1746, 11353, 525, 518, 1823, 49407]),
        ("a small green cone in front of a yellow wall", [49406, 320, 2442, 1901, 10266, 530, 2184, 539, 320, 4481, 2569, 49407]),
        ("an orange cylinder on a purple floor", [49406, 550, 4287, 22092, 525, 320, 5496, 4125, 49407]),
        ("a tiny pink ball", [49406, 320, 5591, 3360, 1069, 49407]),
        ("a huge cyan pyramid in the middle", [49406, 320, 2699, 1470, 550, 18725, 530, 518, 3694, 49407]),
        ("A Purple Block, on the right!", [49406, 320, 5496, 4593, 267, 525, 518, 1155, 256, 49407]),
        ("  a  yellow   can   with a red background  ", [49406, 320, 4481, 753, 593, 320, 736, 5994, 49407]),
    ]

    func testTokenizePrintsGoldenIds() throws {
        let r = try Self.run(["clip", "tokenize"] + Self.golden.map(\.0))
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map { $0.split(separator: " ").compactMap { Int($0) } }
        XCTAssertEqual(lines.count, Self.golden.count)
        for (line, (text, ids)) in zip(lines, Self.golden) { XCTAssertEqual(line, ids, text) }
        // --pad: zero padding to the embedded model's context length (32).
        let padded = try Self.run(["clip", "tokenize", "--pad", "a red sphere"])
        XCTAssertEqual(padded.out.split(separator: "\n").first?.split(separator: " ").compactMap { Int($0) },
                       Self.golden[0].1 + [Int](repeating: 0, count: 32 - 5))
        // Too long for the context: an error naming the text, unless --truncate.
        let long = Array(repeating: "red", count: 40).joined(separator: " ")
        let failed = try Self.run(["clip", "tokenize", long])
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertTrue(failed.err.contains("too long"), failed.err)
        let cut = try Self.run(["clip", "tokenize", "--truncate", long])
        XCTAssertEqual(cut.status, 0, cut.err)
        XCTAssertEqual(cut.out.split(separator: " ").count, 32)
    }

    func testScoreTableAndFeatureFilesAgree() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gen = try Self.run(["generate", "--seeds", "0-2", "--out", dir.path])
        XCTAssertEqual(gen.status, 0, gen.err)
        let images = (0..<3).map { dir.appendingPathComponent(String(format: "seed%04d.png", $0)).path }
        let texts = ["a red sphere", "a blue cube", "a green cone", "a yellow cylinder"]

        let score = try Self.run(["clip", "score"] + images + ["--text"] + texts + ["--out", dir.appendingPathComponent("cos.npy").path])
        XCTAssertEqual(score.status, 0, score.err)
        let rows = score.out.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        XCTAssertEqual(rows.count, 1 + images.count, "a header and one row per image:\n\(score.out)")
        XCTAssertEqual(rows[0].map(String.init), ["image"] + texts + ["best"])
        var printed: [[Float]] = []
        for (row, path) in zip(rows.dropFirst(), images) {
            XCTAssertEqual(row.count, texts.count + 2)
            XCTAssertEqual(String(row[0]), path)
            let values = row[1...texts.count].compactMap { Float($0) }
            XCTAssertEqual(values.count, texts.count)
            XCTAssertTrue(values.allSatisfy { abs($0) <= 1 }, "cosines \(values)")
            XCTAssertEqual(String(row.last!), texts[values.indices.max { values[$0] < values[$1] }!])
            printed.append(values)
        }
        let table = try readNpy(path: dir.appendingPathComponent("cos.npy").path).toTensor()
        XCTAssertEqual(table.shape, [images.count, texts.count])
        for i in 0..<images.count { for j in 0..<texts.count { XCTAssertEqual(table[i, j], printed[i][j], accuracy: 6e-5) } }

        // The cosines follow from the encode-text / encode-image features.
        let tf = dir.appendingPathComponent("text.npy").path, imf = dir.appendingPathComponent("image.npy").path
        XCTAssertEqual(try Self.run(["clip", "encode-text"] + texts + ["--out", tf]).status, 0)
        XCTAssertEqual(try Self.run(["clip", "encode-image"] + images + ["--out", imf]).status, 0)
        let t = try readNpy(path: tf).toTensor(), f = try readNpy(path: imf).toTensor()
        XCTAssertEqual(t.shape, [texts.count, 128])
        XCTAssertEqual(f.shape, [images.count, 128])
        for i in 0..<images.count {
            for j in 0..<texts.count {
                let a = f.row(i).doubles, b = t.row(j).doubles
                let cos = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
                    / (a.reduce(0) { $0 + $1 * $1 }.squareRoot() * b.reduce(0) { $0 + $1 * $1 }.squareRoot())
                XCTAssertEqual(Float(cos), table[i, j], accuracy: 1e-5)
            }
        }

        // --softmax: zero-shot probabilities, each row sums to 1.
        let soft = try Self.run(["clip", "score"] + images + ["--text"] + texts + ["--softmax"])
        XCTAssertEqual(soft.status, 0, soft.err)
        for row in soft.out.split(separator: "\n").dropFirst() {
            let p = row.split(separator: "\t")[1...texts.count].compactMap { Double($0) }
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-3)
        }
    }

    func testArgumentErrors() throws {
        let noText = try Self.run(["clip", "score", "missing.png"])
        XCTAssertNotEqual(noText.status, 0)
        XCTAssertTrue(noText.err.contains("--text"), noText.err)
        let missing = try Self.run(["clip", "score", "/nonexistent/x.png", "--text", "a cube"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("/nonexistent/x.png"), missing.err)
        let badModel = try Self.run(["clip", "encode-text", "a cube", "--model", "/nonexistent/clip.safetensors", "--out", "/tmp/x.npy"])
        XCTAssertNotEqual(badModel.status, 0)
        XCTAssertTrue(badModel.err.contains("/nonexistent/clip.safetensors"), badModel.err)
        let badOut = try Self.run(["clip", "encode-text", "a cube", "--out", "features.txt"])
        XCTAssertNotEqual(badOut.status, 0)
    }
}
