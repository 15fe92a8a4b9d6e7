import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentCore

/// Saves one image `[C, R, R]` in [-1, 1], enlarged `scale`× (see `ImageScaleOption`).
func saveScaled(_ image: Tensor, to path: String, scale: Int) throws {
    do { try saveImage(nearestUpscale(image, factor: scale), to: path) } catch { throw CommandFailure(error, context: path) }
}

/// Creates a folder (and its parents), as a one-line failure naming it.
func makeFolder(_ path: String) throws {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
        throw CommandFailure(error, context: path)
    }
}

/// Writes a command's `RunRecord` next to its results (inside a folder output as `name`, or as
/// `<file>.json` beside a file output) so every result can be reproduced.
/// - Returns: the record's path.
@discardableResult
func writeRecord(_ record: RunRecord, besides out: String, name: String) throws -> String {
    var isDir: ObjCBool = false
    let path: String
    if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), isDir.boolValue {
        path = (out.hasSuffix("/") ? out : out + "/") + name
    } else {
        path = out + ".json"
    }
    do { try record.write(to: path) } catch { throw CommandFailure(error, context: path) }
    return path
}

/// A contact sheet: one row per item, its images side by side (all `[C, R, R]` of one size).
func writeContactSheet(rows: [[Tensor]], to path: String, scale: Int) throws {
    guard let width = rows.map(\.count).max(), width > 0 else { return }
    let blank = Tensor(shape: rows.first { !$0.isEmpty }![0].shape, repeating: 1)
    let cells = rows.flatMap { $0 + Array(repeating: blank, count: width - $0.count) }
    try saveScaled(try imageGrid(cells, columns: width, padding: 1), to: path, scale: scale)
}
