import Foundation
import XCTest
@testable import LatentFormats

final class JSONTests: XCTestCase {
    private func parse(_ s: String) throws -> JSONValue { try JSONParser.parse(Data(s.utf8)) }

    func testParsesScalarsExactly() throws {
        XCTAssertEqual(try parse(" 9007199254740993 "), .integer(9_007_199_254_740_993))  // 2^53 + 1 stays exact
        XCTAssertEqual(try parse("-0"), .integer(0))
        XCTAssertEqual(try parse("2.5e-3"), .number(0.0025))
        XCTAssertEqual(try parse("1E2"), .number(100))
        XCTAssertEqual(try parse("99999999999999999999"), .number(1e20))  // too large for Int
        XCTAssertEqual(try parse("[true,false,null]"), .array([.bool(true), .bool(false), .null]))
        XCTAssertEqual(try parse(#""\u00e9\ud83c\udfa8\n\/""#), .string("é🎨\n/"))
        XCTAssertEqual(try parse(#"{"b":1,"a":{}}"#), .object([("b", .integer(1)), ("a", .object([]))]))
    }

    func testRefusesInvalidJSON() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", ".5", "-", "1e", "tru", "nul", "\"\\x\"", "\"a\nb\"",
                    "\"\\ud800\"", "\"\\udc00\"", "\"\\u12\"", "NaN", "[1 2]", "{\"a\":1,\"a\":2}", "{} {}", "'a'"] {
            XCTAssertThrowsError(try parse(bad), "accepted \(bad.debugDescription)")
        }
    }

    func testWriterEscapesRoundTrip() throws {
        let samples = ["", "plain", "q\"b\\s/", "\u{0}\u{1}\u{8}\u{C}\n\r\t\u{1F}\u{7F}", "é🎨"]
        for s in samples {
            var out = [UInt8]()
            JSONWriter.appendString(s, to: &out)
            XCTAssertEqual(try JSONParser.parse(Data(out)), .string(s))
        }
    }

    func testPrettyKeepsKeyOrder() throws {
        let v = try parse(#"{"z":1,"a":[1,2],"m":{"k":null,"f":0.5},"e":[],"s":"x"}"#)
        XCTAssertEqual(JSONWriter.pretty(v), """
        {
          "z": 1,
          "a": [1, 2],
          "m": {
            "k": null,
            "f": 0.5
          },
          "e": [],
          "s": "x"
        }
        """)
    }
}
