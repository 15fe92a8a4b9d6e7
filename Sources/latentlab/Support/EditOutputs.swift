import ArgumentParser
import Foundation
import LatentTensor
import LatentImageIO
import LatentCore
import LatentModels

/// What an edit run produced: per latent its images (for the contact sheet) and record, and
/// the latents that failed.
struct EditOutcome {
    var rows: [[Tensor]] = []
    var items: [RecordValue] = []
    var failures: [(path: String, error: String)] = []

    /// Writes the summary record (and, in folder mode, the contact sheet), reports failures and
    /// exits 2 when some latents failed (1 when the only one did). `announce`: print the single
    /// result's path (text edits print their own judged line).
    func finish(inputs: [(name: String, path: String)], out: String, scale: Int, record: RunRecord, announce: Bool = true) throws {
        let folderMode = inputs.count > 1 || inputs.first?.name.isEmpty == false
        if !folderMode {
            if let f = failures.first { throw CommandFailure(f.error) }
            if announce { print("edited \(inputs[0].path) → \(out)/strip.png") }
            return
        }
        for f in failures { printError("failed: \(f.error)") }
        try makeFolder(out)
        var summary = record
        summary["latents"] = .array(items)
        summary["failed"] = .array(failures.map { ["latent": .string($0.path), "error": .string($0.error)] })
        try summary.write(to: out + "/edit.json")
        if !rows.isEmpty { try writeContactSheet(rows: rows, to: out + "/contact_sheet.png", scale: scale) }
        print("\(items.count) latent(s) edited, \(failures.count) failed → \(out)/contact_sheet.png")
        if !failures.isEmpty { throw ExitCode(2) }
    }
}

/// One edited result of a latent: its file-name tag ("" or a strength), latent and image.
struct EditedResult {
    var tag: String
    var ws: Tensor
    var image: Tensor
}

/// Writes one latent's edit into `dir`: `original.png`, `edited[_tag].png`, `strip.png` (each image
/// labelled: "original", the strength or "edited"), then
/// the latents `latent[_tag].npz` and `edit.json` last, so a folder never holds a latent
/// without its images.
func writeEditResult(dir: String, original: Tensor, results: [EditedResult], source: LatentFile, scale: Int,
                     record: RunRecord) throws {
    try makeFolder(dir)
    func name(_ base: String, _ tag: String, _ ext: String) -> String { dir + "/" + base + (tag.isEmpty ? "" : "_" + tag) + "." + ext }
    try saveScaled(original, to: dir + "/original.png", scale: scale)
    for r in results { try saveScaled(r.image, to: name("edited", r.tag, "png"), scale: scale) }
    let cells = labelledCells(original: original, results: results)
    try saveScaled(try imageGrid(cells, columns: cells.count, padding: 1), to: dir + "/strip.png", scale: scale)
    for r in results {
        var file = source
        file.codes = .w(r.ws)
        do { try file.write(to: name("latent", r.tag, "npz")) } catch { throw CommandFailure(error, context: name("latent", r.tag, "npz")) }
    }
    try record.write(to: dir + "/edit.json")
}

/// The strip's cells: "original", then each result labelled by its strength (or "edited").
func labelledCells(original: Tensor, results: [EditedResult]) -> [Tensor] {
    [labelled(original, "original")] + results.map { labelled($0.image, $0.tag.isEmpty ? "edited" : $0.tag) }
}

/// Edits every input on its own (failure-isolated): reads it, applies `edit` (the ws as read
/// and the edited results), renders with the file's noise maps (`render`), writes `writeEditResult`.
/// A latent whose folder holds a PTI weight delta renders with the base generator plus that delta
/// (`TunedGenerator`; the generator `render` receives), and its record says so.
func editEach(_ inputs: [(name: String, path: String)], generator G: StyleGAN2Generator, out: String, scale: Int,
              record base: RunRecord, edit: (LatentFile) throws -> (Tensor, [(tag: String, ws: Tensor)]),
              render: (Tensor, LatentFile, StyleGAN2Generator) -> Tensor) -> EditOutcome {
    var outcome = EditOutcome()
    // One latent takes a moment; a bar is for folders.
    let bar = inputs.count > 1 ? ProgressBar(total: inputs.count, label: "edit") : nil
    for (k, item) in inputs.enumerated() {
        do {
            // The delta first: a folder tuned from another generator is refused for that reason.
            let tuned = try TunedGenerator.forLatent(at: item.path, base: G)
            let file = try LatentFile.read(path: item.path, generator: G)
            if let tuned { printError("note: \(item.path) renders with the tuned generator \(tuned.deltaPath)") }
            let g = tuned?.generator ?? G
            let (ws, edited) = try edit(file)
            let original = render(ws, file, g)
            let results = edited.map { EditedResult(tag: $0.tag, ws: $0.ws, image: render($0.ws, file, g)) }
            let dir = item.name.isEmpty ? out : out + "/" + item.name
            var record = base
            record["latent_in"] = .string(item.path)
            if let tuned { record.merge(tuned.record) }
            try writeEditResult(dir: dir, original: original, results: results, source: file, scale: scale, record: record)
            outcome.rows.append(labelledCells(original: original, results: results))
            outcome.items.append(["name": .string(item.name), "folder": .string(dir)])
        } catch {
            outcome.failures.append((item.path, CommandFailure(error, context: item.path).description))
        }
        bar?.update(k + 1)
    }
    return outcome
}
