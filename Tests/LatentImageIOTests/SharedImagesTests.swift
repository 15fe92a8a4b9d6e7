import XCTest
import LatentTensor
import LatentImageIO
import _TestSupport

/// The real photographs and scenes in `../shared/testdata` (only when that folder is present).
final class SharedImagesTests: XCTestCase {
    /// Sizes, and per-channel means (8-bit levels, alpha composited on white) computed offline
    /// with Pillow.
    static let photos: [(name: String, width: Int, height: Int, alpha: Bool, mean: [Double])] = [
        ("astronaut.png", 512, 512, false, [141.562492, 105.759445, 96.475075]),
        ("camera.png", 512, 512, false, [129.060726, 129.060726, 129.060726]),
        ("chelsea.png", 451, 300, false, [147.673089, 111.444479, 86.797857]),
        ("coffee.png", 600, 400, false, [158.569087, 85.794025, 51.48475]),
        ("logo.png", 500, 500, true, [215.341156, 199.687, 129.208768]),
        ("rocket.jpg", 640, 427, false, [52.265742, 61.294299, 82.271136]),
    ]

    func testPhotos() throws {
        guard let shared = sharedDirectory() else { return }
        let dir = shared.appendingPathComponent("testdata/photos")
        for p in Self.photos {
            let image = try loadImage(path: dir.appendingPathComponent(p.name).path)
            XCTAssertEqual(image.tensor.shape, [3, p.height, p.width], p.name)
            XCTAssertEqual([image.info.width, image.info.height], [p.width, p.height], p.name)
            XCTAssertEqual(image.compositedAlpha, p.alpha, p.name)
            XCTAssertTrue(image.tensor.storage.allSatisfy { $0 >= -1 && $0 <= 1 }, p.name)
            let plane = p.width * p.height
            for c in 0..<3 {
                let mean = image.tensor.storage[c * plane ..< (c + 1) * plane].reduce(0.0) { $0 + Double($1) } / Double(plane)
                // PNG is lossless (exact up to summation); JPEG decoders may differ by a level here and there.
                XCTAssertEqual((mean + 1) * 127.5, p.mean[c], accuracy: p.name.hasSuffix(".jpg") ? 0.3 : 1e-3, "\(p.name) channel \(c)")
            }
        }
        let camera = try loadImage(path: dir.appendingPathComponent("camera.png").path)
        XCTAssertEqual(camera.info.channels, 1)
        XCTAssertEqual(camera.tensor.row(0), camera.tensor.row(2))
    }

    func testScenes() throws {
        guard let shared = sharedDirectory() else { return }
        let dir = shared.appendingPathComponent("testdata/scenes")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".png") }.sorted()
        XCTAssertEqual(names.count, 24)
        for name in names {
            let image = try loadImage(path: dir.appendingPathComponent(name).path)
            XCTAssertEqual(image.tensor.shape, [3, 64, 64], name)
            XCTAssertTrue(image.tensor.storage.allSatisfy { $0 >= -1 && $0 <= 1 }, name)
        }
    }

    /// NVIDIA's projector target preparation (centre crop, Pillow LANCZOS on uint8) against ours in
    /// float: equal up to Pillow's 8-bit rounding.
    func testPreprocessMatchesProjectorReference() throws {
        guard let shared = sharedDirectory() else { return }
        let photo = try loadImage(path: shared.appendingPathComponent("testdata/photos/chelsea.png").path)
        let ours = try preprocess(photo.tensor, crop: .center, size: 32)
        let pillow = try loadImage(path: fixture("chelsea_center_lanczos32.png")).tensor
        XCTAssertEqual(ours.shape, [3, 32, 32])
        // Pillow rounds its 22-bit fixed-point result to uint8: at most half a level apart, plus
        // the fixed-point coefficient error.
        XCTAssertLessThanOrEqual(maxLevelDiff(ours, pillow), 1.2)
    }
}
