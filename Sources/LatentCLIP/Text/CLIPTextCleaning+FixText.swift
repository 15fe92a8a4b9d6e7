import Foundation

/// The part of `ftfy.fix_text` (ftfy 6.x, default `TextFixerConfig`) that CLIP's `basic_clean`
/// relies on, applied the way ftfy applies it: the text is cut into segments after each `\n`,
/// each segment is fixed repeatedly until nothing changes, and HTML unescaping is switched off
/// from the first segment that contains a literal `<` onwards (`unescape_html="auto"`).
///
/// One pass applies, in ftfy's order: `unescape_html` (semicolon-terminated HTML5 names, the
/// upper-cased names of lower-case entities such as `&EACUTE;`, numeric references whose
/// decoding consumes the semicolon), `fix_c1_controls` (U+0080–U+009F read as Windows-1252),
/// `fix_latin_ligatures`, `fix_character_width` (fullwidth/halfwidth forms to their NFKC form,
/// U+3000 to a space), `uncurl_quotes` (U+02BC, U+2018–U+201B to `'`; U+201C–U+201F to `"`),
/// `fix_line_breaks`, `remove_terminal_escapes`, `remove_control_chars`, then NFC.
///
/// Not implemented (documented gap): ftfy's `fix_encoding` step, the heuristic mojibake repair
/// (`is_bad` badness scoring, re-decoding Latin-1/Windows-125x/MacRoman text as UTF-8,
/// `restore_byte_a0`, `replace_lossy_sequences`, `decode_inconsistent_utf8`). It only changes
/// text that already contains mojibake such as `cafÃ©`; ASCII text and correctly decoded
/// Unicode are untouched by it, so for them this function equals `ftfy.fix_text`.
/// `fix_surrogates` has no counterpart because a Swift `String` cannot hold lone surrogates.
extension CLIPTextCleaning {
    public static func fixText(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        var unescape = true
        var pos = 0
        while pos < scalars.count {
            var end = pos
            while end < scalars.count && scalars[end] != "\n" { end += 1 }
            end = min(end + 1, scalars.count)
            let segment = Array(scalars[pos..<end])
            if unescape && segment.contains("<") { unescape = false }
            out += fixSegment(segment, unescapeHTML: unescape)
            pos = end
        }
        return String(scalars: out)
    }

    static func fixSegment(_ segment: [Unicode.Scalar], unescapeHTML: Bool) -> [Unicode.Scalar] {
        var text = segment
        while true {
            let original = text
            if unescapeHTML { text = ftfyUnescapeHTML(text) }
            text = fixC1Controls(text)
            text = fixLatinLigatures(text)
            text = fixCharacterWidth(text)
            text = uncurlQuotes(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = removeControlChars(text)
            text = nfc(text)
            if text == original { return text }
        }
    }

    /// ftfy `unescape_html`: matches `&#?[0-9A-Za-z]{1,24};`.
    static func ftfyUnescapeHTML(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        func isAlnum(_ c: Unicode.Scalar) -> Bool {
            (c >= "0" && c <= "9") || (c >= "A" && c <= "Z") || (c >= "a" && c <= "z")
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            guard s[i] == "&" else { out.append(s[i]); i += 1; continue }
            var j = i + 1
            if j < s.count && s[j] == "#" { j += 1 }
            var k = j
            while k < s.count && isAlnum(s[k]) { k += 1 }
            let run = k - j
            guard run >= 1 && run <= 24 && k < s.count && s[k] == ";" else {
                out.append(s[i]); i += 1; continue
            }
            let match = Array(s[i...k])
            let key = String(scalars: match)
            if let v = HTMLEntities.shared.ftfy[key] {
                out += v
            } else if j == i + 2 {
                // Numeric: keep it unless Python's unescape consumed the semicolon.
                let u = htmlUnescape(match)
                out += u.contains(";") ? match : u
            } else {
                out += match
            }
            i = k + 1
        }
        return out
    }

    static func fixC1Controls(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        s.map { c in
            (c.value >= 0x80 && c.value <= 0x9F) ? Unicode.Scalar(windows1252High[Int(c.value - 0x80)])! : c
        }
    }

    private static let ligatures: [UInt32: String] = [
        0x132: "IJ", 0x133: "ij", 0x149: "\u{2BC}n", 0x1F1: "DZ", 0x1F2: "Dz", 0x1F3: "dz",
        0x1C4: "D\u{17D}", 0x1C5: "D\u{17E}", 0x1C6: "d\u{17E}", 0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj",
        0x1CA: "NJ", 0x1CB: "Nj", 0x1CC: "nj", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi",
        0xFB04: "ffl", 0xFB05: "\u{17F}t", 0xFB06: "st",
    ]

    static func fixLatinLigatures(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for c in s {
            if let r = ligatures[c.value] { out += r.unicodeScalars } else { out.append(c) }
        }
        return out
    }

    /// U+3000 and every U+FF01–U+FFEF whose NFKC form differs, mapped to that form.
    private static let widthMap: [UInt32: [Unicode.Scalar]] = {
        var m: [UInt32: [Unicode.Scalar]] = [0x3000: [" "]]
        for v in UInt32(0xFF01)..<0xFFF0 {
            guard let c = Unicode.Scalar(v) else { continue }
            let alt = Array(String(Character(c)).precomposedStringWithCompatibilityMapping.unicodeScalars)
            if alt != [c] { m[v] = alt }
        }
        return m
    }()

    static func fixCharacterWidth(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for c in s {
            if let r = widthMap[c.value] { out += r } else { out.append(c) }
        }
        return out
    }

    static func uncurlQuotes(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        s.map { c in
            switch c.value {
            case 0x2BC, 0x2018...0x201B: return "'"
            case 0x201C...0x201F: return "\""
            default: return c
            }
        }
    }

    static func fixLineBreaks(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            switch s[i].value {
            case 0x0D:
                out.append("\n")
                if i + 1 < s.count && s[i + 1] == "\n" { i += 1 }
            case 0x2028, 0x2029, 0x85: out.append("\n")
            default: out.append(s[i])
            }
            i += 1
        }
        return out
    }

    /// Removes `ESC [ (digits|;)* letter` (ftfy's ANSI_RE; `\d` is any Unicode decimal digit).
    static func removeTerminalEscapes(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("\u{1B}") else { return s }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < s.count {
            if s[i] == "\u{1B}", i + 1 < s.count, s[i + 1] == "[" {
                var j = i + 2
                while j < s.count && (s[j] == ";" || s[j].properties.generalCategory == .decimalNumber) { j += 1 }
                if j < s.count, s[j].isASCII, s[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    static func removeControlChars(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        s.filter { c in
            let v = c.value
            return !(v <= 0x08 || v == 0x0B || (v >= 0x0E && v <= 0x1F) || v == 0x7F
                || (v >= 0x206A && v <= 0x206F) || v == 0xFEFF || (v >= 0xFFF9 && v <= 0xFFFC))
        }
    }

    static func nfc(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Pure ASCII is already NFC; skip the Foundation round trip.
        if s.allSatisfy({ $0.isASCII }) { return s }
        return Array(String(scalars: s).precomposedStringWithCanonicalMapping.unicodeScalars)
    }
}
