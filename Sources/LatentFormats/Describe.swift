import Foundation

// Human-readable summaries for `latentlab inspect`.

/// Summary of a safetensors file: tensor count with dtype counts, parameter count, data and header
/// bytes, every metadata entry (the `config` JSON pretty-printed with its key order kept; other
/// long values shortened), and, with `listTensors`, one line per tensor in data order.
public func describeSafeTensors(_ f: SafeTensorsFile, listTensors: Bool = false) -> String {
    var lines = [URL(fileURLWithPath: f.path).lastPathComponent]
    var dtypeCounts: [String: Int] = [:]
    var params = 0, dataBytes = 0
    for e in f.entries.values {
        dtypeCounts[e.dtype, default: 0] += 1
        params += e.elementCount
        dataBytes += e.dataOffsets.count
    }
    let dtypes = dtypeCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        .map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
    lines.append("  tensors: \(f.entries.count)" + (dtypes.isEmpty ? "" : " (\(dtypes))"))
    lines.append("  parameters: \(grouped(params))")
    lines.append("  data: \(grouped(dataBytes)) bytes (\(humanBytes(dataBytes))), header \(grouped(f.headerByteCount)) bytes")
    if !f.metadata.isEmpty {
        lines.append("  metadata:")
        for key in f.metadata.keys.sorted() {
            let value = f.metadata[key]!
            if key == "config", let json = try? JSONParser.parse(Data(value.utf8)) {
                let pretty = JSONWriter.pretty(json).split(separator: "\n", omittingEmptySubsequences: false)
                lines.append("    config: " + pretty[0])
                lines += pretty.dropFirst().map { "    " + $0 }
            } else {
                lines.append("    \(key): \(abbreviated(value))")
            }
        }
    }
    if listTensors {
        lines.append("  tensor list:")
        let width = f.names.map(\.count).max() ?? 0
        for name in f.names {
            let e = f.entries[name]!
            lines.append("    \(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(e.dtype.padding(toLength: 4, withPad: " ", startingAt: 0)) \(e.shape)")
        }
    }
    return lines.joined(separator: "\n")
}

/// One line describing an array: name, dtype, shape, element and byte counts, and the value range.
public func describeNpy(_ array: NpyArray, name: String? = nil) -> String {
    var s = (name.map { "\($0): " } ?? "") + "\(array.dtype.name) \(array.shape), \(grouped(array.count)) elements, \(grouped(array.bytes.count)) bytes"
    if array.count > 0 {
        let v = array.doubles()
        let lo = v.min()!, hi = v.max()!, mean = v.reduce(0, +) / Double(v.count)
        s += ", min \(number(lo)), max \(number(hi)), mean \(number(mean))"
    }
    return s
}

/// Summary of an npz archive: array count and total bytes, then one `describeNpy` line per array
/// (sorted by name).
public func describeNpz(_ arrays: [String: NpyArray]) -> String {
    describeNpz(arrays.keys.sorted().map { ($0, arrays[$0]!) })
}

/// Summary of an npz archive with arrays in the given (archive) order.
public func describeNpz(_ arrays: [(name: String, array: NpyArray)]) -> String {
    let total = arrays.reduce(0) { $0 + $1.array.bytes.count }
    var lines = ["\(arrays.count) array\(arrays.count == 1 ? "" : "s"), \(grouped(total)) bytes"]
    lines += arrays.map { "  " + describeNpy($0.array, name: $0.name) }
    return lines.joined(separator: "\n")
}

private func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

private func humanBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.1f", v) + " " + units[u]
}

private func number(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(format: "%.6g", x)
}

private func abbreviated(_ s: String, limit: Int = 160) -> String {
    let flat = s.replacingOccurrences(of: "\n", with: "⏎")
    return flat.count <= limit ? flat : String(flat.prefix(limit)) + "… (\(grouped(s.utf8.count)) bytes)"
}
