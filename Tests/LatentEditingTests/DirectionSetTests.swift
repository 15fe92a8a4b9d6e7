import XCTest
import LatentTensor
import LatentFormats
import LatentEditing
import _TestSupport

final class DirectionSetTests: XCTestCase {
    func unitRows(_ k: Int, _ d: Int, seed: UInt64) -> Tensor {
        var rng = TestRNG(seed: seed)
        return Tensor(shape: [k, d], data: (0..<k).flatMap { _ in randomUnit(&rng, d).map(Float.init) })
    }

    func testRoundTripKeepsEverything() throws {
        let dir = try temporaryFolder(self)
        let set = DirectionSet(names: ["size", "colour", "pc2"], directions: unitRows(3, 13, seed: 1), scales: [0.97, 0.5, 3.25],
                               mean: Tensor(shape: [13], data: (0..<13).map { Float($0) / 7 }), method: "interfacegan",
                               generatorFingerprint: "0123456789abcdef", layers: 2 ..< 6,
                               info: ["seed": "4", "samples": "4000", "label_source": "csv:x.csv", "held_out_accuracy": "[0.97, 0.5, 1]"])
        try set.save(to: dir + "/d.safetensors")
        let back = try DirectionSet.load(path: dir + "/d.safetensors")
        XCTAssertEqual(back.names, set.names)
        XCTAssertEqual(back.directions, set.directions)
        XCTAssertEqual(back.scales, set.scales)
        XCTAssertEqual(back.mean, set.mean)
        XCTAssertEqual(back.method, "interfacegan")
        XCTAssertEqual(back.generatorFingerprint, "0123456789abcdef")
        XCTAssertEqual(back.layers, 2 ..< 6)
        XCTAssertEqual(back.layersText, "2-5")
        XCTAssertEqual(back.info, set.info)
        XCTAssertEqual(back.heldOutAccuracy, [0.97, 0.5, 1])
        XCTAssertEqual(try back.index(of: "colour"), 1)
        XCTAssertEqual(try back.index(of: "2"), 2)
        XCTAssertThrowsError(try back.index(of: "shape"))
        XCTAssertEqual(back.direction(1), set.directions.row(1))
        let meta = try SafeTensorsFile(path: dir + "/d.safetensors").metadata
        XCTAssertEqual(meta["format"], "latentlab-directions")
        XCTAssertEqual(meta["space"], "w")
        XCTAssertEqual(meta["names"], "[\"size\",\"colour\",\"pc2\"]")
    }

    func testRefusesForeignAndBrokenFiles() throws {
        let dir = try temporaryFolder(self)
        // A generator checkpoint is a safetensors file, but not a direction set.
        let weights = try XCTUnwrap(Bundle.module.url(forResource: "tiny32_weights", withExtension: "safetensors", subdirectory: "Resources"))
        XCTAssertThrowsError(try DirectionSet.load(path: weights.path)) { e in
            XCTAssertTrue("\(e)".contains("not a LatentLab direction file"), "\(e)")
            XCTAssertTrue("\(e)".contains(weights.path), "\(e)")
        }
        XCTAssertThrowsError(try DirectionSet.load(path: dir + "/missing.safetensors"))
        let good = unitRows(2, 5, seed: 2)
        let base = ["format": "latentlab-directions", "names": "[\"a\",\"b\"]", "space": "w", "layers": "0-3", "method": "sefa"]
        func write(_ meta: [String: String], _ t: Tensor = good, scales: [Float] = [1, 2]) throws -> String {
            let p = dir + "/\(UUID().uuidString).safetensors"
            try writeSafeTensors([("directions", t), ("scales", Tensor(shape: [scales.count], data: scales))], metadata: meta, to: p)
            return p
        }
        XCTAssertNoThrow(try DirectionSet.load(path: write(base)))
        var m = base; m["space"] = "z"
        XCTAssertThrowsError(try DirectionSet.load(path: write(m))) { XCTAssertTrue("\($0)".contains("space 'z'")) }
        m = base; m["names"] = "[\"a\"]"
        XCTAssertThrowsError(try DirectionSet.load(path: write(m))) { XCTAssertTrue("\($0)".contains("1 names for 2 directions")) }
        m = base; m["names"] = "not json"
        XCTAssertThrowsError(try DirectionSet.load(path: write(m)))
        m = base; m["layers"] = "5-2"
        XCTAssertThrowsError(try DirectionSet.load(path: write(m))) { XCTAssertTrue("\($0)".contains("layers")) }
        XCTAssertThrowsError(try DirectionSet.load(path: write(base, good * 2))) { XCTAssertTrue("\($0)".contains("unit length")) }
        XCTAssertThrowsError(try DirectionSet.load(path: write(base, scales: [1])))
        var nan = good; nan[flat: 3] = .nan
        XCTAssertThrowsError(try DirectionSet.load(path: write(base, nan)))
        // save validates too.
        let bad = DirectionSet(names: ["a"], directions: good, scales: [1, 1], method: "x", generatorFingerprint: "", layers: 0 ..< 1)
        XCTAssertThrowsError(try bad.save(to: dir + "/bad.safetensors"))
    }
}
