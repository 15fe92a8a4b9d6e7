import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentImageIO
import LatentModels
import LatentCore
import LatentEditing
import LatentCLIP

/// `latentlab clip …`: OpenAI CLIP's tokenizer and towers from the command line.
struct Clip: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "CLIP: tokenize texts, encode texts and images, score image–text similarity.",
        discussion: """
        Uses the embedded CLIP trained on the default generator's scenes (clip-scenes64) unless --model names another \
        ViT CLIP checkpoint converted to safetensors with OpenAI's state_dict() key names (fp16 or fp32).
        Images are read as RGB (alpha composited on white) and go through CLIP's transform (shorter side resized to the \
        model's resolution with antialiased bicubic, centre crop, mean/std normalisation) computed in float.
        """,
        subcommands: [Tokenize.self, EncodeText.self, EncodeImage.self, Score.self])

    struct Tokenize: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tokenize",
            abstract: "Print the token ids of each text (clip.tokenize), one line per text.",
            discussion: "Each line is <|startoftext|> (49406), the BPE ids, <|endoftext|> (49407); --pad adds the zero padding.")
        @OptionGroup var model: CLIPModelOptions
        @Option(name: .customLong("context-length"), help: "Context length (default: the model's).") var contextLength: Int?
        @Flag(help: "Pad each row with zeros to the context length.") var pad = false
        @Flag(help: "Cut texts that are too long (keeping <|endoftext|> last) instead of failing.") var truncate = false
        @Argument(help: "Texts.") var texts: [String]

        func validate() throws {
            guard !texts.isEmpty else { throw ValidationError("give at least one text") }
            if let c = contextLength, c < 2 { throw ValidationError("--context-length must be at least 2") }
        }

        func run() throws {
            let length = try contextLength ?? model.contextLength()
            let rows = try CLIPTokenizer.loadDefault().tokenize(texts, contextLength: length, truncate: truncate)
            for row in rows {
                let ids = pad ? row : Array(row.prefix { $0 != 0 })
                print(ids.map(String.init).joined(separator: " "))
            }
        }
    }

    struct EncodeText: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "encode-text",
            abstract: "Write CLIP text features (unnormalised encode_text) as [N, embedDim] float32 .npy.")
        @OptionGroup var model: CLIPModelOptions
        @Argument(help: "Texts.") var texts: [String]
        @Option(help: "Output .npy file.") var out: String

        func validate() throws {
            guard !texts.isEmpty else { throw ValidationError("give at least one text") }
            guard out.lowercased().hasSuffix(".npy") else { throw ValidationError("--out must be a .npy file") }
        }

        func run() throws {
            let clip = try model.load()
            let features = try clip.encodeText(texts, tokenizer: try CLIPTokenizer.loadDefault())
            try writeNpy(features, to: out)
            try writeRecord(RunRecord(command: "clip encode-text", ["model": .string(model.name), "texts": .array(texts.map { .string($0) }),
                                                                     "shape": .array(features.shape.map { .int($0) })]),
                            besides: out, name: "encode-text.json")
            print("\(texts.count) text(s) → \(out) \(features.shape)")
        }
    }

    struct EncodeImage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "encode-image",
            abstract: "Write CLIP image features (unnormalised encode_image) as [N, embedDim] float32 .npy.")
        @OptionGroup var model: CLIPModelOptions
        @Argument(help: "Images (PNG or JPEG, any size).") var images: [String]
        @Option(help: "Output .npy file.") var out: String

        func validate() throws {
            guard !images.isEmpty else { throw ValidationError("give at least one image") }
            guard out.lowercased().hasSuffix(".npy") else { throw ValidationError("--out must be a .npy file") }
        }

        func run() throws {
            let clip = try model.load()
            let features = try encodeImageFiles(images, clip: clip)
            try writeNpy(features, to: out)
            try writeRecord(RunRecord(command: "clip encode-image", ["model": .string(model.name), "images": .array(images.map { .string($0) }),
                                                                      "shape": .array(features.shape.map { .int($0) })]),
                            besides: out, name: "encode-image.json")
            print("\(images.count) image(s) → \(out) \(features.shape)")
        }
    }

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "score",
            abstract: "Print the image × text similarity table (cosine of the CLIP features).",
            discussion: """
            One row per image, one column per text: cosine similarity (CLIP's logits divided by exp(logit_scale)). \
            --softmax prints zero-shot probabilities instead (softmax over the texts of exp(logit_scale) · cosine, as \
            CLIP's zero-shot classification). The last column names the best text. --out F.npy also writes the \
            [images, texts] table as float32.
            """)
        @OptionGroup var model: CLIPModelOptions
        @Argument(help: "Images (PNG or JPEG).") var images: [String]
        @Option(parsing: .upToNextOption, help: "Texts to compare with (one or more).") var text: [String] = []
        @Flag(help: "Print zero-shot probabilities over the texts instead of cosines.") var softmax = false
        @Option(help: "Also write the table as a float32 .npy.") var out: String?

        func validate() throws {
            guard !images.isEmpty else { throw ValidationError("give at least one image") }
            guard !text.isEmpty else { throw ValidationError("give at least one --text") }
            if let out, !out.lowercased().hasSuffix(".npy") { throw ValidationError("--out must be a .npy file") }
        }

        func run() throws {
            let clip = try model.load()
            let imageFeatures = try encodeImageFiles(images, clip: clip)
            let textFeatures = try clip.encodeText(text, tokenizer: try CLIPTokenizer.loadDefault())
            let cosines = try clip.logits(image: imageFeatures, text: textFeatures) / Float(exp(Double(clip.logitScale)))
            let table = softmax ? ZeroShotClassifier.probabilities(cosines: cosines, logitScale: clip.logitScale) : cosines
            print((["image"] + text + ["best"]).joined(separator: "\t"))
            for (i, path) in images.enumerated() {
                let values = (0..<text.count).map { table[i, $0] }
                let best = values.indices.max { values[$0] < values[$1] }!
                print(([path] + values.map { String(format: "%.4f", $0) } + [text[best]]).joined(separator: "\t"))
            }
            if let out {
                try writeNpy(table, to: out)
                try writeRecord(RunRecord(command: "clip score", ["model": .string(model.name), "images": .array(images.map { .string($0) }),
                                                                  "texts": .array(text.map { .string($0) }), "values": softmax ? "softmax" : "cosine"]),
                                besides: out, name: "score.json")
            }
        }
    }
}
