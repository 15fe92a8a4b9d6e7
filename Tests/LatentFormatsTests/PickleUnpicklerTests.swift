import Foundation
import XCTest
import LatentFormats

/// Path of a `pickle_*` fixture (written by `Resources/pickle_make_fixtures.py`).
func pickleFixture(_ name: String) -> String {
    guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources") else {
        fatalError("missing test resource \(name)")
    }
    return url.path
}

/// Decodes a whole file with the snapshot allow-list.
private func loadFixture(_ name: String) throws -> PickleValue {
    let data = try Data(contentsOf: URL(fileURLWithPath: pickleFixture(name)))
    return try Unpickler(source: name, allowList: .nvlabsSnapshot).load(data).value
}

/// The error text of `body`, or a test failure if it did not throw.
func errorText<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
        return ""
    } catch {
        return "\(error)"
    }
}

private func bytes(_ b: [UInt8]) -> Data { Data(b) }

final class PickleUnpicklerTests: XCTestCase {

    // MARK: values written by CPython's pickle, protocols 2 and 4

    func testPlainValuesMatchPythonAtProtocols2And4() throws {
        for name in ["pickle_values_p2.pkl", "pickle_values_p4.pkl"] {
            let root = try XCTUnwrap(loadFixture(name).dictValue, name)
            XCTAssertEqual(root.stringItems.map(\.key),
                           ["ints", "big", "floats", "text", "long_text", "raw", "flags", "nested", "empty",
                            "a_set", "a_frozenset", "odict", "int_keys"], name)
            let ints = try XCTUnwrap(root["ints"]?.sequenceValue).map(\.intValue)
            XCTAssertEqual(ints, [0, 1, -1, 255, 256, 65535, 65536, -(1 << 31), 1 << 31, 1 << 62, Int.min, Int.max], name)
            guard case .bigInt(let big)? = root["big"] else { return XCTFail("2**80+5 should be a bigInt in \(name)") }
            XCTAssertEqual(big, [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], name)
            XCTAssertEqual(try XCTUnwrap(root["floats"]?.sequenceValue).map(\.doubleValue), [0.5, -1e-300, 1e300, 3.141592653589793], name)
            XCTAssertEqual(root["text"]?.stringValue, "héllo ✓", name)
            XCTAssertEqual(root["long_text"]?.stringValue, String(repeating: "x", count: 300), name)
            guard case .bytes(let raw)? = root["raw"] else { return XCTFail("raw should be bytes in \(name)") }
            XCTAssertEqual([UInt8](raw), [0, 1, 0xFE], name)
            let flags = try XCTUnwrap(root["flags"]?.sequenceValue)
            XCTAssertEqual(flags.count, 3)
            XCTAssertEqual(flags[0].boolValue, true); XCTAssertEqual(flags[1].boolValue, false); XCTAssertTrue(flags[2].isNone)

            // nested = [(1, (2, (3,))), {'k': [shared, shared]}] with one shared list object
            let nested = try XCTUnwrap(root["nested"]?.sequenceValue)
            XCTAssertEqual(try nested[0].jsonText(), "[1, [2, [3]]]")
            let pair = try XCTUnwrap(nested[1].dictValue?["k"]?.sequenceValue)
            guard case .list(let a) = pair[0], case .list(let b) = pair[1] else { return XCTFail("shared list") }
            XCTAssertTrue(a === b, "a memoized list must be the same object in both places (\(name))")
            XCTAssertEqual(a.items.map(\.intValue), [1, 2])

            XCTAssertEqual(try root["empty"]?.jsonText(), "[[], [], {}]")
            guard case .set(let s)? = root["a_set"], case .set(let fs)? = root["a_frozenset"] else { return XCTFail("sets in \(name)") }
            XCTAssertEqual(s.items.map(\.intValue), [3]); XCTAssertEqual(fs.items.map(\.intValue), [4])
            XCTAssertEqual(try root["odict"]?.jsonText(), "{\"b\": 1, \"a\": 2}", "OrderedDict keeps its order")
            let intKeys = try XCTUnwrap(root["int_keys"]?.dictValue)
            XCTAssertEqual(intKeys.items.map(\.key.intValue), [1, 2])
            XCTAssertTrue(errorText { try root["int_keys"]!.jsonObject() }.contains("non-string key"))
        }
    }

    func testConcatenatedPicklesReportTheirEnds() throws {
        // PROTO 2, BININT1 7, STOP, then PROTO 4, SHORT_BINUNICODE "ab", STOP
        let data = bytes([0x80, 2, 0x4B, 7, 0x2E, 0x80, 4, 0x8C, 2, 0x61, 0x62, 0x2E])
        let u = Unpickler(source: "inline", allowList: PickleAllowList(globals: []))
        let (first, end1) = try u.load(data)
        XCTAssertEqual(first.intValue, 7); XCTAssertEqual(end1, 5)
        let (second, end2) = try u.load(data, from: end1)
        XCTAssertEqual(second.stringValue, "ab"); XCTAssertEqual(end2, data.count)
    }

    func testHugeMemoIndexAllocatesNothing() throws {
        // PROTO 4, NONE, LONG_BINPUT 0xFFFFFFFF, STOP
        let v = try Unpickler(source: "inline", allowList: PickleAllowList(globals: []))
            .load(bytes([0x80, 4, 0x4E, 0x72, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E])).value
        XCTAssertTrue(v.isNone)
    }

    // MARK: refusals (each names what it refused; nothing is executed)

    private let marker = "/tmp/latentlab-pickle-executed"

    func testOsSystemReduceIsRefusedAndNotExecuted() {
        try? FileManager.default.removeItem(atPath: marker)
        let msg = errorText { try NVLabsSnapshot(path: pickleFixture("pickle_os_system.pkl")) }
        XCTAssertTrue(msg.contains("refusing global 'posix.system'"), msg)
        XCTAssertTrue(msg.contains("pickle_os_system.pkl"), "the error names the file: \(msg)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "pickled code ran")
    }

    func testBuiltinsEvalIsRefusedAndNotExecuted() {
        try? FileManager.default.removeItem(atPath: marker)
        let msg = errorText { try loadFixture("pickle_builtins_eval.pkl") }
        // protocol 2 writes Python 3's builtins as __builtin__
        XCTAssertTrue(msg.contains("refusing global '__builtin__.eval'"), msg)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "pickled code ran")
    }

    func testStorageClassIsRefusedOutsideStorageBytes() {
        let msg = errorText { try loadFixture("pickle_storage_global.pkl") }
        XCTAssertTrue(msg.contains("refusing global 'torch.FloatStorage'"), msg)
    }

    func testUnknownOpcodeIsRefused() {
        let msg = errorText { try loadFixture("pickle_unknown_opcode.pkl") }
        XCTAssertTrue(msg.contains("unknown pickle opcode 0xa5"), msg)
        XCTAssertTrue(msg.contains("at byte 4"), msg)
    }

    func testTruncatedFileIsRefused() {
        let msg = errorText { try NVLabsSnapshot(path: pickleFixture("pickle_truncated.pkl")) }
        XCTAssertTrue(msg.contains("truncated"), msg)
    }

    func testNonPickleFileIsRefused() {
        let msg = errorText { try NVLabsSnapshot(path: pickleFixture("pickle_not_a_pickle.pkl")) }
        XCTAssertTrue(msg.contains("not a pickle"), msg)
        XCTAssertTrue(msg.contains("0x50"), "names the first byte ('P'): \(msg)")
    }

    func testHugeDeclaredLengthsAreRefusedBeforeAllocating() {
        let s = errorText { try loadFixture("pickle_huge_length.pkl") }
        XCTAssertTrue(s.contains("declares a 4611686018427387904-byte string but only 4 bytes remain"), s)
        let b = errorText { try loadFixture("pickle_huge_bytes.pkl") }
        XCTAssertTrue(b.contains("declares a 4294967280-byte bytes object but only 4 bytes remain"), b)
    }

    func testMissingFileIsAClearError() {
        let msg = errorText { try NVLabsSnapshot(path: "/nonexistent/dir/net.pkl") }
        XCTAssertTrue(msg.contains("/nonexistent/dir/net.pkl") && msg.contains("no such file"), msg)
    }

    func testHandMadeAbusesAreRefused() {
        let u = Unpickler(source: "inline", allowList: .nvlabsSnapshot)
        func refuse(_ b: [UInt8], _ expected: String, line: UInt = #line) {
            let msg = errorText({ try u.load(bytes(b)) }, line: line)
            XCTAssertTrue(msg.contains(expected), "\(msg) lacks '\(expected)'", line: line)
        }
        // 1500 nested 1-tuples
        refuse([0x80, 4, 0x4E] + [UInt8](repeating: 0x85, count: 1500) + [0x2E], "nested deeper than 1000 levels")
        // EMPTY_LIST, MEMOIZE, TUPLE1 (list now inside a tuple), BINGET 0, NONE, APPEND
        refuse([0x80, 4, 0x5D, 0x94, 0x85, 0x68, 0, 0x4E, 0x61, 0x2E], "after it was placed inside another value")
        refuse([0x80, 4, 0x68, 5, 0x2E], "memo index 5 was never stored")
        refuse([0x80, 4, 0x4E, 0x4E, 0x2E], "STOP with 2 values")
        refuse([0x80, 4, 0x4E, 0x29, 0x52, 0x2E], "REDUCE of None")
        refuse([0x80, 4, 0x4E, 0x51, 0x2E], "persistent id")
        refuse([0x80, 2, 0x28, 0x69] + Array("os\nsystem\n".utf8) + [0x2E], "unsupported pickle opcode INST")
        refuse([0x80, 2, 0x63] + Array("posix\nsystem\n".utf8) + [0x2E], "refusing global 'posix.system'")
        refuse([0x80, 9, 0x4E, 0x2E], "unsupported pickle protocol 9")
        refuse([0x80, 4, 0x4A, 1, 2], "unexpected end of data")
        refuse([0x80, 4, 0x8C, 2, 0xC3, 0x28, 0x2E], "not valid UTF-8")
        refuse([0x80, 4, 0x29, 0x4E, 0x4E, 0x73, 0x2E], "SETITEM on ()")
        // a torch.nn module class may be instantiated (NEWOBJ) but never called (REDUCE)
        refuse([0x80, 4, 0x63] + Array("torch.nn.modules.linear\nLinear\n".utf8) + [0x29, 0x52, 0x2E], "may only be instantiated with NEWOBJ")
    }

    func testBigEndianNumpyScalar() throws {
        XCTAssertEqual(try loadFixture("pickle_numpy_bigendian.pkl").doubleValue, 1.25)
    }
}
