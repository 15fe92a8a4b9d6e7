import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentCLIP

/// `--model`: a CLIP checkpoint; the embedded clip-scenes64 when omitted.
struct CLIPModelOptions: ParsableArguments {
    @Option(name: .long, help: "CLIP checkpoint (.safetensors, OpenAI key names, ViT). Default: the embedded clip-scenes64.")
    var model: String?

    func load() throws -> CLIPModel {
        guard let model else { return try CLIPModel.loadDefault() }
        return try CLIPModel(safetensorsPath: model)
    }

    /// The context length, read from the checkpoint's header only.
    func contextLength() throws -> Int {
        guard let model else { return try CLIPModel.loadDefault().config.contextLength }
        let file = try SafeTensorsFile(path: model)
        guard let shape = file.entries["positional_embedding"]?.shape, shape.count == 2 else {
            throw ValidationError("\(model): no 'positional_embedding' [context, width]: not an OpenAI CLIP checkpoint")
        }
        return shape[0]
    }

    var name: String { model.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "default:clip-scenes64" }
}

/// Loads images (any size) and returns their CLIP features `[N, embedDim]`, encoding in chunks.
func encodeImageFiles(_ paths: [String], clip: CLIPModel, chunk: Int = 32) throws -> Tensor {
    var parts: [Tensor] = []
    var pending: [Tensor] = []
    func flush() throws {
        guard !pending.isEmpty else { return }
        parts.append(try clip.encodeImage(Tensor.concatenate(pending)))
        pending = []
    }
    for path in paths {
        let img = try loadImage(path: path).tensor
        pending.append(try clip.preprocess(imagesInMinusOneOne: img.reshaped([1] + img.shape)))
        if pending.count == chunk { try flush() }
    }
    try flush()
    return Tensor.concatenate(parts)
}
