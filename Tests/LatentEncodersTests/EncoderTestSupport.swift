import Foundation
import XCTest
import LatentTensor
import LatentModels
import LatentEncoders
import _TestSupport

/// The package root, from this file's path (Tests/LatentEncodersTests/<file>).
func packageRoot(file: StaticString = #filePath) -> URL {
    var url = URL(fileURLWithPath: "\(file)")
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}

/// The tiny32 golden generator (32², 8 ws of width 128), read in place from the models' test
/// resources.
func tiny32Generator() throws -> StyleGAN2Generator {
    let path = packageRoot().appendingPathComponent("Tests/LatentModelsTests/Resources/tiny32_weights.safetensors").path
    guard FileManager.default.fileExists(atPath: path) else { throw MissingTestInput("tiny32 weights not found at \(path)") }
    return try StyleGAN2Generator(path: path)
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder(_ tag: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-enc-\(tag)-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
