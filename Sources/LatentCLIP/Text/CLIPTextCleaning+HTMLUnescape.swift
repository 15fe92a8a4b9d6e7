/// Python's `html.unescape` (CPython `Lib/html/__init__.py`), scalar for scalar.
///
/// Character references are found with the pattern
/// `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`; numeric ones follow the HTML5
/// rules for invalid code points (Windows-1252 remapping of 0x80–0x9F, U+FFFD for surrogates and
/// out-of-range values, removal of non-characters and most C0/C1 controls); named ones use the
/// full HTML5 table and, failing an exact match, its longest prefix of at least two characters
/// (which only the 106 legacy names without semicolon can match).
extension CLIPTextCleaning {
    public static func htmlUnescape(_ text: String) -> String {
        String(scalars: htmlUnescape(Array(text.unicodeScalars)))
    }

    static func htmlUnescape(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] != "&" { out.append(s[i]); i += 1; continue }
            if let (end, replacement) = matchCharacterReference(s, at: i) {
                out += replacement
                i = end
            } else {
                out.append(s[i]); i += 1
            }
        }
        return out
    }

    /// Matches one reference starting at the `&` at `i`; returns the end index and replacement.
    private static func matchCharacterReference(_ s: [Unicode.Scalar], at i: Int) -> (Int, [Unicode.Scalar])? {
        let n = s.count
        guard i + 1 < n else { return nil }
        if s[i + 1] == "#" {
            var j = i + 2
            var value: UInt64 = 0
            func accumulate(_ d: UInt64, radix: UInt64) {
                // Saturate: anything past 0x10FFFF maps to U+FFFD, like Python's big ints.
                value = min(value * radix + d, 0x1_0000_0000)
            }
            if j < n, asciiDigit(s[j]) != nil {
                while j < n, let d = asciiDigit(s[j]) { accumulate(UInt64(d), radix: 10); j += 1 }
            } else if j + 1 < n, s[j] == "x" || s[j] == "X", hexDigit(s[j + 1]) != nil {
                j += 1
                while j < n, let h = hexDigit(s[j]) { accumulate(UInt64(h), radix: 16); j += 1 }
            } else {
                return nil  // `&#` without digits: the named alternative excludes `#`
            }
            if j < n, s[j] == ";" { j += 1 }
            return (j, numericReplacement(value))
        }
        var j = i + 1
        while j < n, j - (i + 1) < 32, !isNameTerminator(s[j]) { j += 1 }
        guard j > i + 1 else { return nil }
        if j < n, s[j] == ";" { j += 1 }
        let name = String(scalars: Array(s[(i + 1)..<j]))
        let table = HTMLEntities.shared.html5
        if let v = table[name] { return (j, v) }
        let nameScalars = Array(s[(i + 1)..<j])
        var x = nameScalars.count - 1
        while x > 1 {
            if let v = table[String(scalars: Array(nameScalars[0..<x]))] {
                return (j, v + nameScalars[x...])
            }
            x -= 1
        }
        return (j, ["&"] + nameScalars)
    }

    private static func isNameTerminator(_ c: Unicode.Scalar) -> Bool {
        switch c { case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": return true; default: return false }
    }

    static func asciiDigit(_ c: Unicode.Scalar) -> UInt32? {
        (c.value >= 0x30 && c.value <= 0x39) ? c.value - 0x30 : nil
    }

    static func hexDigit(_ c: Unicode.Scalar) -> UInt32? {
        switch c.value {
        case 0x30...0x39: return c.value - 0x30
        case 0x41...0x46: return c.value - 0x41 + 10
        case 0x61...0x66: return c.value - 0x61 + 10
        default: return nil
        }
    }

    /// Windows-1252 characters for bytes 0x80–0x9F; the five bytes it leaves undefined map to
    /// the C1 control of the same value (as in HTML5's table and ftfy's "sloppy" codec).
    static let windows1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
    ]

    private static func numericReplacement(_ num: UInt64) -> [Unicode.Scalar] {
        if num == 0 { return ["\u{FFFD}"] }
        if num == 0x0D { return ["\r"] }
        if num >= 0x80 && num <= 0x9F { return [Unicode.Scalar(windows1252High[Int(num - 0x80)])!] }
        if (num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF { return ["\u{FFFD}"] }
        let v = UInt32(num)
        let invalid = (v >= 0x1 && v <= 0x8) || v == 0xB || (v >= 0xE && v <= 0x1F) || (v >= 0x7F && v <= 0x9F)
            || (v >= 0xFDD0 && v <= 0xFDEF) || (v & 0xFFFE) == 0xFFFE
        if invalid { return [] }
        return [Unicode.Scalar(v)!]
    }
}

/// The parsed HTML5 entity table, plus ftfy's variant (semicolon names only, and upper-cased
/// names of lower-case entities when Python's `html.unescape` would leave them alone).
final class HTMLEntities: @unchecked Sendable {
    static let shared = HTMLEntities()
    /// Name (with `;` where the table has it) -> replacement, as `html.entities.html5`.
    let html5: [String: [Unicode.Scalar]]
    /// `&name;` -> replacement, as ftfy's `chardata.HTML_ENTITIES`.
    let ftfy: [String: [Unicode.Scalar]]

    private init() {
        var table: [String: [Unicode.Scalar]] = [:]
        var order: [String] = []
        for line in htmlEntityTableText.split(separator: "\n") {
            let parts = line.split(separator: " ")
            let name = String(parts[0])
            table[name] = parts.dropFirst().map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
            order.append(name)
        }
        html5 = table
        var f: [String: [Unicode.Scalar]] = [:]
        for name in order where name.hasSuffix(";") {
            let value = table[name]!
            f["&" + name] = value
            if name == name.lowercased() {
                let upper = "&" + name.uppercased()
                if CLIPTextCleaning.htmlUnescapeUsing(table, upper) == upper {
                    f[upper] = Array(String(scalars: value).uppercased().unicodeScalars)
                }
            }
        }
        ftfy = f
    }
}

extension CLIPTextCleaning {
    /// `html.unescape` of an ASCII entity string against an explicit table (used while the
    /// shared table is being built, so it cannot go through `HTMLEntities.shared`).
    static func htmlUnescapeUsing(_ table: [String: [Unicode.Scalar]], _ text: String) -> String {
        // Only called with "&" + upper-case name + ";": a single reference, no numerics.
        let s = Array(text.unicodeScalars)
        let name = Array(s.dropFirst())
        if let v = table[String(scalars: name)] { return String(scalars: v) }
        var x = name.count - 1
        while x > 1 {
            if let v = table[String(scalars: Array(name[0..<x]))] { return String(scalars: v + name[x...]) }
            x -= 1
        }
        return text
    }
}

extension String {
    init(scalars: [Unicode.Scalar]) {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        self = String(v)
    }
}
