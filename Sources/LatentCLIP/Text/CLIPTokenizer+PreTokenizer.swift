/// The pre-tokeniser of `simple_tokenizer.py`, a hand-written scanner equivalent to
/// `regex.findall(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
/// text, IGNORECASE)`: at each position the alternatives are tried in order and the first that
/// matches wins; positions where none matches (white space) are skipped.
extension CLIPTokenizer {
    /// Splits normalised text into pre-tokens (ranges into `s`).
    static func preTokenize(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var i = 0
        let n = s.count
        while i < n {
            let c = s[i]
            if CLIPTextCleaning.isRegexSpace(c) { i += 1; continue }
            if c == "<" {
                if let end = matchLiteral(s, i, "<|startoftext|>") ?? matchLiteral(s, i, "<|endoftext|>") {
                    pieces.append(i..<end); i = end; continue
                }
            }
            if c == "'" {
                var matched: Int?
                for suffix in ["s", "t", "re", "ve", "m", "ll", "d"] {
                    if let end = matchLiteral(s, i + 1, suffix) { matched = end; break }
                }
                if let end = matched { pieces.append(i..<end); i = end; continue }
            }
            if isLetter(c) {
                var j = i + 1
                while j < n && isLetter(s[j]) { j += 1 }
                pieces.append(i..<j); i = j; continue
            }
            if isNumber(c) { pieces.append(i..<(i + 1)); i += 1; continue }
            var j = i + 1
            while j < n && !CLIPTextCleaning.isRegexSpace(s[j]) && !isLetter(s[j]) && !isNumber(s[j]) { j += 1 }
            pieces.append(i..<j); i = j
        }
        return pieces
    }

    /// Case-insensitive literal match at `i`; returns the end index. The text is already
    /// lower-cased, so only simple case folding of what remains matters: U+017F (long s)
    /// folds to `s`.
    private static func matchLiteral(_ s: [Unicode.Scalar], _ i: Int, _ literal: String) -> Int? {
        var j = i
        for l in literal.unicodeScalars {
            guard j < s.count else { return nil }
            let c = s[j]
            let folded: Unicode.Scalar = c.value == 0x17F ? "s" : ((c >= "A" && c <= "Z") ? Unicode.Scalar(c.value + 32)! : c)
            guard folded == l else { return nil }
            j += 1
        }
        return j
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c >= "0" && c <= "9" }
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
}
