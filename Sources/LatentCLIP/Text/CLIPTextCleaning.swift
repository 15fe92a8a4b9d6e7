/// Text normalisation of OpenAI CLIP's `simple_tokenizer.py`, reproduced on Unicode scalars
/// (Python strings are sequences of code points; Swift `String` comparison would merge
/// canonically equivalent spellings, so nothing here compares `String`s of user text).
///
/// `SimpleTokenizer.encode` runs `whitespace_clean(basic_clean(text)).lower()`, where
/// `basic_clean` is `ftfy.fix_text`, `html.unescape` twice, and `strip()`; `whitespace_clean`
/// replaces each run of `\s` by one space and strips.
public enum CLIPTextCleaning {
    /// `whitespace_clean(basic_clean(text)).lower()`.
    public static func normalize(_ text: String) -> String {
        String(scalars: normalizedScalars(text))
    }

    static func normalizedScalars(_ text: String) -> [Unicode.Scalar] {
        var s = Array(fixText(text).unicodeScalars)
        s = htmlUnescape(htmlUnescape(s))
        s = pythonStrip(s)
        s = collapseWhitespace(s)
        s = pythonStrip(s)
        return pythonLower(s)
    }

    /// `\s` of the `regex` module on `str`: the Unicode White_Space property.
    static func isRegexSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    /// Python's `str.isspace()` (what `str.strip()` removes): White_Space plus U+001C–U+001F.
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace || (c.value >= 0x1C && c.value <= 0x1F)
    }

    static func pythonStrip(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard let lo = s.firstIndex(where: { !isPythonSpace($0) }) else { return [] }
        let hi = s.lastIndex(where: { !isPythonSpace($0) })!
        return Array(s[lo...hi])
    }

    static func collapseWhitespace(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var inRun = false
        for c in s {
            if isRegexSpace(c) {
                if !inRun { out.append(" ") }
                inRun = true
            } else {
                out.append(c)
                inRun = false
            }
        }
        return out
    }

    /// Python's `str.lower()`: the full Unicode lower-case mapping per code point, with the
    /// context-dependent final sigma (Σ -> ς after a cased letter, not before one, skipping
    /// case-ignorable characters), as CPython's `handle_capital_sigma`.
    static func pythonLower(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.isASCII {
                out.append((c >= "A" && c <= "Z") ? Unicode.Scalar(c.value + 32)! : c)
            } else if c.value == 0x3A3 {
                out.append(isFinalSigma(s, i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out += c.properties.lowercaseMapping.unicodeScalars
            }
        }
        return out
    }

    private static func isFinalSigma(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && s[j].properties.isCased else { return false }
        j = i + 1
        while j < s.count && s[j].properties.isCaseIgnorable { j += 1 }
        return j == s.count || !s[j].properties.isCased
    }
}
