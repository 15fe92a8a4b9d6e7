import Foundation
import LatentTensor

/// Reads a `.npz` archive (`numpy.savez` / `savez_compressed`) as its arrays in archive order.
/// Member `name.npy` becomes array `name` (as `numpy.load` names them); a member without the
/// suffix is read too when it is an npy file. Stored and deflated members are CRC-checked;
/// zip64 archives are read.
public func readNpzEntries(path: String) throws -> [(name: String, array: NpyArray)] {
    try readNpzEntries(archive: ZipArchive(path: path))
}

/// In-memory variant of `readNpzEntries(path:)`; `name` stands for the path in errors.
public func readNpzEntries(data: Data, name: String = "<memory>") throws -> [(name: String, array: NpyArray)] {
    try readNpzEntries(archive: ZipArchive(data: data, name: name))
}

private func readNpzEntries(archive: ZipArchive) throws -> [(name: String, array: NpyArray)] {
    var out: [(name: String, array: NpyArray)] = []
    var seen = Set<String>()
    for entry in archive.entries where !entry.name.hasSuffix("/") {
        let key = entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : entry.name
        guard seen.insert(key).inserted else { throw FormatError(archive.path, "array '\(key)' appears twice in the archive") }
        let memberName = "\(archive.path)[\(entry.name)]"
        // The npy header says how many bytes the array has: inflate no more than that.
        let bytes = try archive.contents(of: entry, headBytes: maxNpyHeaderBytes) { head in
            try head.withUnsafeBytes { try npySize(head: $0, name: memberName) }
        }
        let array = try bytes.withUnsafeBytes { try parseNpy($0, name: "\(archive.path)[\(entry.name)]") }
        out.append((key, array))
    }
    return out
}

/// Reads a `.npz` archive into a dictionary of arrays (see `readNpzEntries(path:)`).
public func readNpz(path: String) throws -> [String: NpyArray] {
    Dictionary(uniqueKeysWithValues: try readNpzEntries(path: path).map { ($0.name, $0.array) })
}

/// In-memory variant of `readNpz(path:)`.
public func readNpz(data: Data, name: String = "<memory>") throws -> [String: NpyArray] {
    Dictionary(uniqueKeysWithValues: try readNpzEntries(data: data, name: name).map { ($0.name, $0.array) })
}

/// The `.npz` encoding of `arrays` in the given order, as `numpy.savez` (stored) or
/// `numpy.savez_compressed` (deflated) writes it: one member `name.npy` per array. Stored output
/// is byte-identical to numpy's; deflated output matches it when both use the same zlib.
public func encodeNpz(_ arrays: [(name: String, array: NpyArray)], compressed: Bool = false) throws -> Data {
    var zip = ZipWriter()
    var seen = Set<String>()
    for (name, array) in arrays {
        guard !name.isEmpty, seen.insert(name).inserted else {
            throw FormatError("npz writer", name.isEmpty ? "an array name is empty" : "array '\(name)' given twice")
        }
        try zip.add(name: name + ".npy", contents: [UInt8](encodeNpy(array)), compressed: compressed)
    }
    return zip.finished()
}

/// Writes `arrays` to `path` atomically as an `.npz` (names sorted, since a dictionary has no order).
public func writeNpz(_ arrays: [String: NpyArray], to path: String, compressed: Bool = false) throws {
    try writeNpz(arrays.keys.sorted().map { ($0, arrays[$0]!) }, to: path, compressed: compressed)
}

/// Writes float32 tensors to `path` atomically as an `.npz` (names sorted).
public func writeNpz(_ tensors: [String: Tensor], to path: String, compressed: Bool = false) throws {
    try writeNpz(tensors.keys.sorted().map { ($0, try NpyArray(tensors[$0]!)) }, to: path, compressed: compressed)
}

/// Writes `arrays` to `path` atomically as an `.npz`, members in the given order.
public func writeNpz(_ arrays: [(name: String, array: NpyArray)], to path: String, compressed: Bool = false) throws {
    let data: Data
    do { data = try encodeNpz(arrays, compressed: compressed) }
    catch let e as FormatError { throw FormatError(path, e.reason) }
    do { try writeAtomically(data, to: path) }
    catch { throw FormatError(path, "cannot write file (\(fileErrorReason(error)))") }
}
