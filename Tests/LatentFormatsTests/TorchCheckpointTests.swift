import Foundation
import XCTest
@testable import LatentFormats
import LatentTensor
import _TestSupport

/// Protocol-2 pickle bytes built opcode by opcode, for hand-made (malicious or malformed) `.pt`s.
struct PickleBytes {
    var b: [UInt8] = [0x80, 0x02]
    mutating func global(_ module: String, _ name: String) { b += [UInt8(ascii: "c")] + Array("\(module)\n\(name)\n".utf8) }
    mutating func str(_ s: String) { let u = Array(s.utf8); b += [UInt8(ascii: "X")] + le32(u.count) + u }
    mutating func int(_ v: Int) { b += [UInt8(ascii: "J")] + le32(v) }
    mutating func op(_ c: Character) { b.append(c.asciiValue!) }
    mutating func raw(_ v: UInt8) { b.append(v) }
    func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
    /// `_rebuild_tensor_v2(storage(key, type, numel), 0, size, contiguous stride, False, OrderedDict())`.
    /// `legacy`: the 6-element persistent id of the pre-zip format (view metadata None).
    mutating func tensor(key: String, storageType: String, size: [Int], legacy: Bool = false) {
        global("torch._utils", "_rebuild_tensor_v2"); op("(")
        op("("); str("storage"); global("torch", storageType); str(key); str("cpu"); int(size.reduce(1, *))
        if legacy { op("N") }
        op("t"); op("Q")
        int(0)
        op("("); for s in size { int(s) }; op("t")
        op("("); for i in size.indices { int(size[(i + 1)...].reduce(1, *)) }; op("t")
        raw(0x89)
        global("collections", "OrderedDict"); op(")"); op("R")
        op("t"); op("R")
    }
    mutating func stop() { op(".") }
}

/// A torch zip archive `archive/{data.pkl, data/<key>…, version}` around `pickle`.
func torchZip(_ pickle: [UInt8], storages: [String: [UInt8]]) throws -> Data {
    var z = ZipWriter()
    try z.add(name: "archive/data.pkl", contents: pickle, compressed: false)
    for k in storages.keys.sorted() { try z.add(name: "archive/data/\(k)", contents: storages[k]!, compressed: false) }
    try z.add(name: "archive/version", contents: Array("3\n".utf8), compressed: false)
    return z.finished()
}

final class TorchCheckpointTests: XCTestCase {
    var tmp: URL!
    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("torchckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func write(_ d: Data, _ name: String) throws -> String {
        let p = tmp.appendingPathComponent(name).path
        try d.write(to: URL(fileURLWithPath: p))
        return p
    }

    func assertRefused(_ path: String, contains: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TorchCheckpoint(path: path), file: file, line: line) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains(contains), "'\(s)' lacks '\(contains)'", file: file, line: line)
            XCTAssertFalse(s.contains("\n"), "one line: \(s)", file: file, line: line)
            XCTAssertTrue(s.hasPrefix(path), "names the file: \(s)", file: file, line: line)
        }
    }

    func testReadsRosinalityZipCheckpoint() throws {
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared missing") }
        let path = shared.appendingPathComponent("golden/rosinality_tiny32.pt").path
        let c = try TorchCheckpoint(path: path)
        XCTAssertEqual(c.version, 3)
        XCTAssertEqual(c.topLevelKeys, ["g_ema", "latent_avg"])
        let sd = try c.tensorDict("g_ema")
        XCTAssertEqual(sd.count, 73)
        XCTAssertEqual(sd.first?.name, "style.1.weight")
        XCTAssertEqual(sd.first?.tensor.size, [64, 64])
        // The golden weight formula: style.1.weight is entry t = 0, rule eq_lr0.01.
        let w = sd[0].tensor.floatTensor()
        let a = 0.37 * 5.0 + 1.1 * 0 + 0.001 * 25
        XCTAssertEqual(w.storage[5], Float(sin(a) * 2.0.squareRoot() / 0.01))
    }

    func testMaliciousGlobalsAreRefusedBeforeAnythingRuns() throws {
        for (module, name) in [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load")] {
            var p = PickleBytes()
            p.global(module, name); p.str("touch /tmp/pwned"); p.raw(0x85); p.op("R"); p.stop()
            let path = try write(try torchZip(p.b, storages: [:]), "evil_\(name).pt")
            assertRefused(path, contains: "refusing global '\(module).\(name)'")
        }
    }

    func testTruncatedAndCorruptArchivesAreRefused() throws {
        guard let shared = sharedDirectory() else { throw MissingTestInput("../shared missing") }
        let full = try Data(contentsOf: shared.appendingPathComponent("golden/rosinality_tiny32.pt"))
        assertRefused(try write(full.prefix(full.count / 2), "half.pt"), contains: "zip")
        assertRefused(try write(full.prefix(full.count - 10), "tail.pt"), contains: "zip")
        assertRefused(try write(Data("hello world, not a checkpoint".utf8), "text.pt"), contains: "not a PyTorch checkpoint")
        var notTorch = PickleBytes(); notTorch.int(1); notTorch.stop()
        assertRefused(try write(Data(notTorch.b), "pickle.pt"), contains: "not a PyTorch checkpoint")
        // A flipped byte inside a storage: the CRC check catches it.
        var flipped = full
        let mid = flipped.startIndex + flipped.count / 2
        flipped[mid] ^= 0xFF
        XCTAssertThrowsError(try TorchCheckpoint(path: try write(flipped, "flipped.pt")))
    }

    func testStorageSizeMustMatchDeclaration() throws {
        var p = PickleBytes()
        p.op("}"); p.str("w"); p.tensor(key: "0", storageType: "FloatStorage", size: [2, 3]); p.op("s"); p.stop()
        let ok = try write(try torchZip(p.b, storages: ["0": [UInt8](repeating: 0, count: 24)]), "ok.pt")
        XCTAssertEqual(try TorchCheckpoint(path: ok).tensorDict(nil).first?.tensor.size, [2, 3])
        assertRefused(try write(try torchZip(p.b, storages: ["0": [UInt8](repeating: 0, count: 20)]), "short.pt"),
                      contains: "declares 6 float32 elements (24 bytes) but its member holds 20 bytes")
        assertRefused(try write(try torchZip(p.b, storages: [:]), "missing.pt"), contains: "no member archive/data/0")
        var q = PickleBytes()
        q.op("}"); q.str("w"); q.tensor(key: "0", storageType: "ComplexFloatStorage", size: [2]); q.op("s"); q.stop()
        assertRefused(try write(try torchZip(q.b, storages: ["0": [UInt8](repeating: 0, count: 16)]), "complex.pt"),
                      contains: "refusing global 'torch.ComplexFloatStorage'")
    }

    /// The legacy (torch < 1.6) container: magic, 1001, sys-info, the object, the key list, the data.
    func legacyFile(values: [Float], count: Int64? = nil, global: (String, String)? = nil) -> Data {
        var parts = [[UInt8]]()
        parts.append([0x80, 0x02, 0x8A, 0x0A] + TorchStorage.legacyMagic + [0x2E])
        var proto = PickleBytes(); proto.int(1001); proto.stop(); parts.append(proto.b)
        var info = PickleBytes(); info.op("}"); info.str("little_endian"); info.raw(0x88); info.op("s"); info.stop(); parts.append(info.b)
        var obj = PickleBytes()
        obj.op("}"); obj.str("g_ema"); obj.op("}"); obj.str("w")
        if let (m, n) = global { obj.global(m, n); obj.op(")"); obj.op("R") } else { obj.tensor(key: "7", storageType: "FloatStorage", size: [2, 2], legacy: true) }
        obj.op("s"); obj.op("s"); obj.stop(); parts.append(obj.b)
        var keys = PickleBytes(); keys.op("]"); keys.str("7"); keys.op("a"); keys.stop(); parts.append(keys.b)
        parts.append((0..<8).map { UInt8((Int64(count ?? Int64(values.count)) >> (8 * Int64($0))) & 0xFF) })
        for v in values { parts.append((0..<4).map { UInt8((v.bitPattern >> (8 * UInt32($0))) & 0xFF) }) }
        return Data(parts.flatMap { $0 })
    }

    func testReadsLegacyTorchSaveFiles() throws {
        let path = try write(legacyFile(values: [1, -2, 0.5, 4]), "legacy.pt")
        let c = try TorchCheckpoint(path: path)
        XCTAssertEqual(c.version, 1001)
        let sd = try c.tensorDict("g_ema")
        XCTAssertEqual(sd.map(\.name), ["w"])
        XCTAssertEqual(sd[0].tensor.floatTensor(), Tensor(shape: [2, 2], data: [1, -2, 0.5, 4]))
        assertRefused(try write(legacyFile(values: [1, 2, 3]), "short.pt"), contains: "declares 4 elements but its data has 3")
        assertRefused(try write(legacyFile(values: [1, 2, 3], count: 4), "cut.pt"), contains: "truncated or corrupt")
        assertRefused(try write(legacyFile(values: [1, 2, 3, 4], global: ("builtins", "eval")), "eval.pt"), contains: "refusing global 'builtins.eval'")
    }

    /// rosinality training checkpoints keep `args`, an argparse.Namespace (NEWOBJ + BUILD): inert
    /// data; calling it with REDUCE is still refused.
    func testArgparseNamespaceIsInertData() throws {
        var p = PickleBytes()
        p.op("}"); p.str("args"); p.global("argparse", "Namespace"); p.op(")"); p.raw(0x81)
        p.op("}"); p.str("size"); p.int(256); p.op("s"); p.op("b"); p.op("s"); p.stop()
        let c = try TorchCheckpoint(path: try write(try torchZip(p.b, storages: [:]), "args.pt"))
        let args = try XCTUnwrap(c.rootDict?["args"]?.callValue)
        XCTAssertEqual(args.callee.qualifiedName, "argparse.Namespace")
        XCTAssertEqual(args.state?.dictValue?["size"]?.intValue, 256)
        var q = PickleBytes()
        q.global("argparse", "ArgumentParser"); q.op(")"); q.op("R"); q.stop()
        assertRefused(try write(try torchZip(q.b, storages: [:]), "parser.pt"), contains: "refusing to call 'argparse.ArgumentParser'")
    }

    /// Integer weights where floats belong: the rosinality converter refuses them by name.
    func testWrongDtypeIsRefusedByTheConverter() throws {
        var p = PickleBytes()
        p.op("}"); p.str("g_ema"); p.op("}"); p.op("(")
        p.str("conv1.conv.modulation.weight"); p.tensor(key: "0", storageType: "FloatStorage", size: [4, 4])
        p.str("style.1.weight"); p.tensor(key: "1", storageType: "LongStorage", size: [4, 4])
        p.str("input.input"); p.tensor(key: "2", storageType: "FloatStorage", size: [1, 4, 4, 4])
        p.op("u"); p.op("s"); p.stop()
        let path = try write(try torchZip(p.b, storages: ["0": [UInt8](repeating: 0, count: 64), "1": [UInt8](repeating: 0, count: 128),
                                                         "2": [UInt8](repeating: 0, count: 256)]), "longweights.pt")
        let c = try TorchCheckpoint(path: path)
        XCTAssertThrowsError(try convertRosinalityGenerator(stateDict: try c.tensorDict("g_ema"), latentAvg: nil, source: path)) { e in
            XCTAssertTrue("\(e)".contains("tensor 'style.1.weight' has dtype int64, expected a floating-point type"), "\(e)")
        }
    }
}
