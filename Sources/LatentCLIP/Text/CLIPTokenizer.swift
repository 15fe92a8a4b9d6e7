import Foundation
import LatentFormats
import LatentTensor

/// OpenAI CLIP's byte-level BPE tokenizer (`clip/simple_tokenizer.py` + `clip.tokenize`),
/// reproducing its token ids exactly.
///
/// Vocabulary (49 408 entries): the 256 byte characters of `bytes_to_unicode` (in its order),
/// the same with `</w>` appended, one entry per merge (lines 1 ..< 48 895 of the gzipped merges
/// file, ranked by line), then `<|startoftext|>` (49406) and `<|endoftext|>` (49407).
///
/// Internally every vocabulary entry is an id and a merge is a pair of ids, so BPE runs on
/// integer arrays; pre-tokens are handled as UTF-8 bytes, which is exactly what the reference's
/// `bytes_to_unicode` strings encode. Text normalisation is `CLIPTextCleaning.normalize`
/// (see there for the one documented gap, ftfy's mojibake repair).
///
/// Thread-safe: the BPE cache is guarded by a lock.
public final class CLIPTokenizer: @unchecked Sendable {
    /// Number of vocabulary entries (49408 for OpenAI's merges file).
    public let vocabularySize: Int
    /// Id of `<|startoftext|>` (49406).
    public let startOfTextToken: Int
    /// Id of `<|endoftext|>` (49407).
    public let endOfTextToken: Int

    /// Byte value -> id of its single-character symbol (add 256 for the `</w>` form).
    private let byteToId: [Int]
    /// (left id << 32 | right id) -> (merge rank, id of the merged symbol).
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Bytes and word-end flag of every id (specials: their ASCII text, no flag).
    private let symbolBytes: [[UInt8]]
    private let symbolEndsWord: [Bool]
    private let specialByBytes: [[UInt8]: Int]

    private var cache: [[UInt8]: [Int]] = [:]
    private let cacheLock = NSLock()
    private static let cacheLimit = 200_000

    /// OpenAI's `bytes_to_unicode` order: printable Latin-1 first, then the rest ascending;
    /// byte `order[k]` gets character `chars[k]`.
    static let byteOrder: [UInt8] = {
        var bs = Array(UInt8(ascii: "!")...UInt8(ascii: "~")) + Array(UInt8(0xA1)...UInt8(0xAC)) + Array(UInt8(0xAE)...UInt8(0xFF))
        let printable = Set(bs)
        for b in 0...255 where !printable.contains(UInt8(b)) { bs.append(UInt8(b)) }
        return bs
    }()

    /// `bytes_to_unicode()`: byte -> the character that stands for it in vocabulary strings.
    public static let byteEncoder: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in byteOrder {
            let isPrintable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if isPrintable { table[Int(b)] = Unicode.Scalar(UInt32(b))! } else { table[Int(b)] = Unicode.Scalar(256 + n)!; n += 1 }
        }
        return table
    }()

    /// Loads the merges from a gzipped `bpe_simple_vocab_16e6.txt.gz` (or a plain-text copy).
    public convenience init(bpePath: String) throws {
        let data: Data
        do { data = try readInputFile(path: bpePath, maxBytes: InputFileLimit.text) }
        catch { throw CLIPError("\(bpePath): cannot read BPE merges file (\(fileErrorReason(error)))") }
        let raw = (data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B)
            ? try gunzip(data, path: bpePath) : data
        guard let text = String(data: raw, encoding: .utf8) else {
            throw CLIPError("\(bpePath): BPE merges file is not UTF-8")
        }
        try self.init(mergesText: text, source: bpePath)
    }

    /// Builds the tokenizer from the merges file's text; `source` names it in errors.
    public init(mergesText: String, source: String = "merges") throws {
        let lines = mergesText.split(separator: "\n", omittingEmptySubsequences: false)
        let mergeCount = 49152 - 256 - 2
        guard lines.count > mergeCount else {
            throw CLIPError("\(source): expected at least \(mergeCount + 1) lines of BPE merges, found \(lines.count)")
        }
        var byteDecoder: [Unicode.Scalar: UInt8] = [:]
        for b in 0..<256 { byteDecoder[Self.byteEncoder[b]] = UInt8(b) }
        var byteToId = [Int](repeating: 0, count: 256)
        for (k, b) in Self.byteOrder.enumerated() { byteToId[Int(b)] = k }

        struct Symbol: Hashable { var bytes: [UInt8]; var endsWord: Bool }
        var ids: [Symbol: Int] = [:]
        var symbols: [Symbol] = []
        for eow in [false, true] {
            for b in Self.byteOrder {
                ids[Symbol(bytes: [b], endsWord: eow)] = symbols.count
                symbols.append(Symbol(bytes: [b], endsWord: eow))
            }
        }
        func parse(_ part: Substring, line: Int) throws -> Symbol {
            var scalars = Array(part.unicodeScalars)
            let marker = Array("</w>".unicodeScalars)
            let eow = scalars.count > marker.count && Array(scalars.suffix(marker.count)) == marker
            if eow { scalars.removeLast(marker.count) }
            var bytes: [UInt8] = []
            for c in scalars {
                guard let b = byteDecoder[c] else {
                    throw CLIPError("\(source): line \(line + 1): character U+\(String(c.value, radix: 16, uppercase: true)) is not a byte symbol")
                }
                bytes.append(b)
            }
            return Symbol(bytes: bytes, endsWord: eow)
        }
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        merges.reserveCapacity(mergeCount)
        for r in 0..<mergeCount {
            let line = lines[r + 1]
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw CLIPError("\(source): line \(r + 2) is not a merge of two symbols: '\(line)'")
            }
            let a = try parse(parts[0], line: r + 1), b = try parse(parts[1], line: r + 1)
            guard let ia = ids[a], let ib = ids[b] else {
                throw CLIPError("\(source): line \(r + 2) merges a symbol that no earlier line defines: '\(line)'")
            }
            guard !a.endsWord else { throw CLIPError("\(source): line \(r + 2) merges after a word end: '\(line)'") }
            let merged = Symbol(bytes: a.bytes + b.bytes, endsWord: b.endsWord)
            let id = symbols.count
            // Python's dict(zip(vocab, ...)) would let a repeated string shadow the earlier id.
            ids[merged] = id
            symbols.append(merged)
            merges[UInt64(ia) << 32 | UInt64(ib)] = (Int32(r), Int32(id))
        }
        startOfTextToken = symbols.count
        endOfTextToken = symbols.count + 1
        vocabularySize = symbols.count + 2
        self.byteToId = byteToId
        self.merges = merges
        symbolBytes = symbols.map(\.bytes) + [Array("<|startoftext|>".utf8), Array("<|endoftext|>".utf8)]
        symbolEndsWord = symbols.map(\.endsWord) + [false, false]
        specialByBytes = [Array("<|startoftext|>".utf8): startOfTextToken, Array("<|endoftext|>".utf8): endOfTextToken]
    }

    /// The tokenizer for OpenAI's merges file shipped in this package (loaded once).
    public static func loadDefault() throws -> CLIPTokenizer {
        try defaultTokenizer.get()
    }

    private static let defaultTokenizer: Result<CLIPTokenizer, Error> = Result {
        guard let url = Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz",
                                          subdirectory: "Resources") else {
            throw CLIPError("LatentCLIP bundle: Resources/bpe_simple_vocab_16e6.txt.gz is missing")
        }
        return try CLIPTokenizer(bpePath: url.path)
    }

    /// The vocabulary string of `id` as the reference spells it (byte characters, `</w>`).
    public func vocabularyEntry(_ id: Int) -> String? {
        guard id >= 0 && id < vocabularySize else { return nil }
        if id == startOfTextToken { return "<|startoftext|>" }
        if id == endOfTextToken { return "<|endoftext|>" }
        var s = String(scalars: symbolBytes[id].map { Self.byteEncoder[Int($0)] })
        if symbolEndsWord[id] { s += "</w>" }
        return s
    }

    /// `SimpleTokenizer.encode`: normalise, pre-tokenise, byte-encode and BPE each piece.
    /// No start/end tokens are added (see `tokenize`).
    public func encode(_ text: String) -> [Int] {
        let s = CLIPTextCleaning.normalizedScalars(text)
        var ids: [Int] = []
        for piece in Self.preTokenize(s) {
            var bytes: [UInt8] = []
            for c in s[piece] { UTF8.encode(c) { bytes.append($0) } }
            ids += bpe(bytes)
        }
        return ids
    }

    /// BPE of one pre-token given as UTF-8 bytes (the reference's `bpe`, on ids).
    func bpe(_ bytes: [UInt8]) -> [Int] {
        if let special = specialByBytes[bytes] { return [special] }
        cacheLock.lock()
        if let hit = cache[bytes] { cacheLock.unlock(); return hit }
        cacheLock.unlock()

        var word = bytes.map { byteToId[Int($0)] }
        word[word.count - 1] += 256
        while word.count > 1 {
            var best: (rank: Int32, id: Int32)?
            var bestLeft = 0, bestRight = 0
            for k in 0..<(word.count - 1) {
                if let m = merges[UInt64(word[k]) << 32 | UInt64(word[k + 1])], best == nil || m.rank < best!.rank {
                    best = m; bestLeft = word[k]; bestRight = word[k + 1]
                }
            }
            guard let merge = best else { break }
            var next: [Int] = []
            next.reserveCapacity(word.count)
            var k = 0
            while k < word.count {
                if k + 1 < word.count && word[k] == bestLeft && word[k + 1] == bestRight {
                    next.append(Int(merge.id)); k += 2
                } else {
                    next.append(word[k]); k += 1
                }
            }
            word = next
        }

        cacheLock.lock()
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[bytes] = word
        cacheLock.unlock()
        return word
    }

    /// `SimpleTokenizer.decode`: concatenates the entries' bytes, decodes UTF-8 (invalid
    /// sequences become U+FFFD) and turns every `</w>` into a space.
    /// Throws for ids outside the vocabulary.
    public func decode(_ tokens: [Int]) throws -> String {
        var bytes: [UInt8] = []
        for t in tokens {
            guard t >= 0 && t < vocabularySize else {
                throw CLIPError("decode: token id \(t) is outside the vocabulary 0..<\(vocabularySize)")
            }
            bytes += symbolBytes[t]
            if symbolEndsWord[t] { bytes += Array("</w>".utf8) }
        }
        // `</w>` is ASCII, so replacing it before decoding equals the reference's replace after.
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        let marker = Array("</w>".utf8)
        while i < bytes.count {
            if i + 4 <= bytes.count && bytes[i] == marker[0] && Array(bytes[i..<(i + 4)]) == marker {
                out.append(UInt8(ascii: " ")); i += 4
            } else {
                out.append(bytes[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `clip.tokenize`: `[SOT] + encode(text) + [EOT]` per text, zero-padded to `contextLength`.
    /// Too long a sequence is cut to `contextLength` with EOT kept as its last token when
    /// `truncate` is true (default here; the reference defaults to false), else it throws.
    /// - Returns: `[texts.count][contextLength]` token ids.
    public func tokenize(_ texts: [String], contextLength: Int = 77, truncate: Bool = true) throws -> [[Int32]] {
        guard contextLength >= 1 else { throw CLIPError("tokenize: contextLength must be at least 1, got \(contextLength)") }
        return try texts.map { text in
            var tokens = [startOfTextToken] + encode(text) + [endOfTextToken]
            if tokens.count > contextLength {
                guard truncate else {
                    throw CLIPError("tokenize: input '\(text)' is too long for context length \(contextLength) (\(tokens.count) tokens)")
                }
                tokens = Array(tokens.prefix(contextLength))
                tokens[contextLength - 1] = endOfTextToken
            }
            var row = [Int32](repeating: 0, count: contextLength)
            for (k, t) in tokens.enumerated() { row[k] = Int32(t) }
            return row
        }
    }
}
