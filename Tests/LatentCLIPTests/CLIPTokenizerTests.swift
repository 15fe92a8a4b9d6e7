import Foundation
import XCTest
import LatentFormats
import LatentModels
import _TestSupport
import LatentCLIP

/// The CLIP tokenizer against OpenAI's `simple_tokenizer.py` / `clip.tokenize` (with ftfy 6.3.1).
final class CLIPTokenizerTests: XCTestCase {
    static let shared = Result { try CLIPTokenizer.loadDefault() }

    func tokenizer() throws -> CLIPTokenizer { try Self.shared.get() }

    /// Swift `String` equality merges canonically equivalent spellings; the reference does not.
    func assertSameScalars(_ a: String, _ b: String, _ message: String = "",
                           file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.unicodeScalars.map(\.value), b.unicodeScalars.map(\.value),
                       "\(a.debugDescription) vs \(b.debugDescription) \(message)", file: file, line: line)
    }

    func testVocabularyLayout() throws {
        let t = try tokenizer()
        XCTAssertEqual(t.vocabularySize, 49408)
        XCTAssertEqual(t.startOfTextToken, 49406)
        XCTAssertEqual(t.endOfTextToken, 49407)
        XCTAssertEqual(t.vocabularyEntry(0), "!")
        XCTAssertEqual(t.vocabularyEntry(256), "!</w>")
        XCTAssertEqual(t.vocabularyEntry(320), "a</w>")
        XCTAssertEqual(t.vocabularyEntry(512), "in")          // merge line 1: "i n"
        XCTAssertEqual(t.vocabularyEntry(49405), "jekyll</w>") // last merge: "jeky ll</w>"
        XCTAssertEqual(t.vocabularyEntry(49406), "<|startoftext|>")
        XCTAssertNil(t.vocabularyEntry(49408))
        // bytes_to_unicode: printable Latin-1 maps to itself, the space byte to U+0120.
        XCTAssertEqual(CLIPTokenizer.byteEncoder[Int(UInt8(ascii: "a"))], "a")
        XCTAssertEqual(CLIPTokenizer.byteEncoder[32], "\u{120}")
        XCTAssertEqual(CLIPTokenizer.byteEncoder[0], "\u{100}")
        XCTAssertEqual(Set(CLIPTokenizer.byteEncoder).count, 256)
    }

    func testGoldenTokens() throws {
        guard let url = Bundle.module.url(forResource: "clip_golden", withExtension: "safetensors", subdirectory: "Resources") else {
            return XCTFail("clip_golden.safetensors missing from the test resources")
        }
        let golden = try SafeTensorsFile(path: url.path)
        let texts = try JSONDecoder().decode([String].self, from: Data(golden.metadata["texts"]!.utf8))
        let (shape, values) = try golden.integers("tokens")
        XCTAssertEqual(texts.count, 8)
        XCTAssertEqual(shape, [8, 32])
        let tokens = try tokenizer().tokenize(texts, contextLength: 32)
        for (i, row) in tokens.enumerated() {
            XCTAssertEqual(row.map(Int.init), Array(values[(i * 32)..<((i + 1) * 32)]), "text \(i): \(texts[i].debugDescription)")
        }
    }

    func testEncodeMatchesReference() throws {
        let t = try tokenizer()
        for (text, ids, decoded) in Self.encodeCases {
            XCTAssertEqual(t.encode(text), ids, "encode \(text.debugDescription)")
            assertSameScalars(try t.decode(ids), decoded, "decode of \(text.debugDescription)")
        }
    }

    func testFixTextMatchesFtfy() {
        for (input, expected) in Self.fixTextCases {
            assertSameScalars(CLIPTextCleaning.fixText(input), expected, "fixText(\(input.debugDescription))")
        }
    }

    func testHTMLUnescapeMatchesPython() {
        // Expectations from CPython's html.unescape.
        let cases: [(String, String)] = [
            ("&amp;", "&"), ("&amp", "&"), ("&ampx", "&x"), ("&notit;", "\u{AC}it;"), ("&notin;", "\u{2209}"),
            ("&#0;", "\u{FFFD}"), ("&#x80;", "\u{20AC}"), ("&#13;", "\r"), ("&#1;", ""), ("&#xD800;", "\u{FFFD}"),
            ("&#99999999999999999999;", "\u{FFFD}"), ("&#65", "A"), ("&#x41x", "Ax"), ("&#xZ;", "&#xZ;"),
            ("&bogus;", "&bogus;"), ("& amp;", "& amp;"), ("&&lt;", "&<"), ("&#xFFFF;", ""), ("&NotNestedGreaterGreater;", "\u{2AA2}\u{338}"),
        ]
        for (input, expected) in cases {
            assertSameScalars(CLIPTextCleaning.htmlUnescape(input), expected, "htmlUnescape(\(input.debugDescription))")
        }
    }

    func testTokenizePadsTruncatesAndRejects() throws {
        let t = try tokenizer()
        let rows = try t.tokenize(["a red sphere", ""], contextLength: 8)
        XCTAssertEqual(rows[0], [49406, 320, 736, 6987, 49407, 0, 0, 0])
        XCTAssertEqual(rows[1], [49406, 49407, 0, 0, 0, 0, 0, 0])
        let long = String(repeating: "red ", count: 100)
        let cut = try t.tokenize([long], contextLength: 77)[0]
        XCTAssertEqual(cut.count, 77)
        XCTAssertEqual(cut.first, 49406)
        XCTAssertEqual(cut.last, 49407)
        XCTAssertEqual(Set(cut[1..<76]), [736])
        XCTAssertThrowsError(try t.tokenize([long], contextLength: 77, truncate: false))
        XCTAssertThrowsError(try t.tokenize(["a"], contextLength: 0))
        XCTAssertThrowsError(try t.decode([49408]))
        XCTAssertThrowsError(try t.decode([-1]))
    }

    func testBadMergesFileIsRejected() {
        XCTAssertThrowsError(try CLIPTokenizer(mergesText: "header\ni n\n", source: "tiny.txt")) { error in
            XCTAssertTrue("\(error)".contains("tiny.txt"), "\(error)")
        }
        XCTAssertThrowsError(try CLIPTokenizer(bpePath: "/nonexistent/bpe.txt.gz"))
    }

    // (input, ftfy.fix_text(input)) computed offline with ftfy 6.3.1.
    static let fixTextCases: [(String, String)] = [
        ("\u{FF2C}\u{FF2F}\u{FF35}\u{FF24}\u{3000}\u{FF2E}\u{FF2F}\u{FF29}\u{FF33}\u{FF25}\u{FF33}", "LOUD NOISES"),
        ("\u{FB02}u\u{FB03}e\u{FB06}", "fluffiest"),
        ("\u{201C}here\u{2019}s a test\u{201D}", "\"here's a test\""),
        ("P&EACUTE;REZ", "P\u{C9}REZ"),
        ("BUNDESSTRA&SZLIG;E", "BUNDESSTRASSE"),
        ("&ntilde; &Ntilde; &NTILDE; &nTILDE;", "\u{F1} \u{D1} \u{D1} &nTILDE;"),
        ("&Jscr;ohn &HilbertSpace;ancock", "\u{1D4A5}ohn \u{210B}ancock"),
        ("Broken text&hellip; it&#x2019;s \u{FB02}ubberi\u{FB01}c!", "Broken text\u{2026} it's flubberific!"),
        ("\u{1B}[36;44mI'm blue, da ba dee\u{1B}[0m", "I'm blue, da ba dee"),
        ("&amp;amp;amp;lt;", "<"),
        ("&amp;amp;amp;lt; <b>", "&amp;amp;amp;lt; <b>"),
        ("x<y\u{A}&amp;amp;\u{A}&amp;", "x<y\u{A}&amp;amp;\u{A}&amp;"),
        ("a\u{D}\u{A}b\u{D}c\u{2028}d\u{85}e", "a\u{A}b\u{A}c\u{A}d\u{2026}e"),
        ("ctrl\u{1}\u{2}\u{7F}\u{FEFF}chars\u{200B}", "ctrlchars\u{200B}"),
        ("e\u{301} vs \u{E9}", "\u{E9} vs \u{E9}"),
        ("c1 \u{80}\u{93}\u{81} here", "c1 \u{20AC}\"\u{81} here"),
        ("&#59; &#x3b; &#65; &#0; &#1234567;", "&#59; &#x3b; A \u{FFFD} \u{FFFD}"),
        ("\u{1C5}emal \u{133}ssel", "D\u{17E}emal ijssel"),
        ("\u{FF35}\u{FF80}\u{FF70}\u{FF9D}", "U\u{30BF}\u{30FC}\u{30F3}"),
        ("&amp", "&amp"),
        ("&#x1F600; &#128512;", "\u{1F600} \u{1F600}"),
    ]
    // (text, SimpleTokenizer.encode(text), decode of it) from the reference code with ftfy 6.3.1.
    static let encodeCases: [(String, [Int], String)] = [
        ("It's a dog's life, isn't it? They're here, we've won, I'm sure, you'll see, he'd go.", [585, 568, 320, 1929, 568, 970, 267, 2923, 713, 585, 286, 889, 982, 763, 267, 649, 1200, 1749, 267, 328, 880, 1650, 267, 592, 1342, 862, 267, 797, 1896, 861, 269], "it 's a dog 's life , isn 't it ? they 're here , we 've won , i 'm sure , you 'll see , he 'd go . "),
        ("\u{DC}n\u{EF}c\u{F6}d\u{E9} fa\u{E7}ade na\u{EF}ve caf\u{E9} Stra\u{DF}e", [6522, 77, 35689, 66, 7255, 67, 4166, 778, 10067, 1928, 1097, 35689, 563, 15304, 1894, 127, 253, 324], "\u{FC}n\u{EF}c\u{F6}d\u{E9} fa\u{E7}ade na\u{EF}ve caf\u{E9} stra\u{DF}e "),
        ("\u{39F}\u{394}\u{39F}\u{3A3} \u{3A3}\u{38A}\u{3A3}\u{3A5}\u{3A6}\u{39F}\u{3A3} \u{3A3}", [138, 123, 138, 112, 138, 123, 139, 480, 139, 225, 138, 107, 139, 225, 139, 227, 139, 228, 138, 123, 139, 480, 139, 481], "\u{3BF}\u{3B4}\u{3BF}\u{3C2} \u{3C3}\u{3AF}\u{3C3}\u{3C5}\u{3C6}\u{3BF}\u{3C2} \u{3C3} "),
        ("pi is 3.14159, year 2024 and \u{BD} plus \u{B2}", [5357, 533, 274, 269, 272, 275, 272, 276, 280, 267, 935, 273, 271, 273, 275, 537, 33613, 3097, 41175], "pi is 3 . 1 4 1 5 9 , year 2 0 2 4 and \u{BD} plus \u{B2} "),
        ("hello<|endoftext|>world <|startoftext|>x", [3306, 49407, 1002, 49406, 343], "hello <|endoftext|>world <|startoftext|>x "),
        ("emoji \u{1F431}\u{1F680} and \u{65E5}\u{672C}\u{8A9E}\u{306E}\u{30C6}\u{30AD}\u{30B9}\u{30C8}", [16327, 35710, 13542, 537, 39121, 44353, 34002, 252, 21575, 2429, 228, 47121, 32421, 486], "emoji \u{1F431}\u{1F680} and \u{65E5}\u{672C}\u{8A9E}\u{306E}\u{30C6}\u{30AD}\u{30B9}\u{30C8} "),
        ("tabs\u{9}and\u{A}newlines\u{A0}and\u{2003}spaces", [29163, 537, 1218, 3418, 537, 9006], "tabs and newlines and spaces "),
        ("a &amp; b &lt;3 &copy 2024 &notit; &#x41;&#66;&#128;", [320, 261, 321, 283, 274, 5811, 273, 271, 273, 275, 126, 361, 585, 282, 3937, 6309], "a & b < 3 \u{A9} 2 0 2 4 \u{AC} it ; ab \u{20AC} "),
        ("!!!??? ... --- ((()))", [11194, 3824, 678, 11079, 22944, 7, 18305], "!!!??? ... --- ((())) "),
        ("don'T WON'T I'LL", [847, 713, 1749, 713, 328, 1342], "don 't won 't i 'll "),
        ("\u{130}stanbul", [328, 16384, 11231], "i \u{307} stanbul "),
        ("supercalifragilisticexpialidocious antidisestablishmentarianism", [1642, 2857, 13093, 2076, 5868, 26850, 835, 639, 38466, 3120, 4262, 7726, 12658, 1585, 44351], "supercalifragilisticexpialidocious antidisestablishmentarianism "),
        ("\u{FB01}ne \u{FF26}\u{FF35}\u{FF2C}\u{FF2C}\u{FF37}\u{FF29}\u{FF24}\u{FF34}\u{FF28} \u{201C}quoted\u{201D} e\u{301}t\u{E9} &amp;amp;amp;", [3797, 9407, 23571, 257, 27706, 257, 3459, 39694, 261], "fine fullwidth \" quoted \" \u{E9}t\u{E9} & "),
        ("", [], ""),
        ("   ", [], ""),
    ]
}
