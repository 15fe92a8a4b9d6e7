import XCTest
import Foundation
import LatentTensor
import LatentEditing
import _TestSupport
import LatentCore

final class EditRecipeTests: XCTestCase {
    func testParsers() throws {
        XCTAssert(parseDirectionReference("Latents/a.safetensors:size") == ("Latents/a.safetensors", "size"))
        XCTAssert(parseDirectionReference("Latents/a.safetensors:3") == ("Latents/a.safetensors", "3"))
        XCTAssert(parseDirectionReference("Latents/a.safetensors") == ("Latents/a.safetensors", nil))
        XCTAssert(parseDirectionReference("/x:y/a.safetensors") == ("/x:y/a.safetensors", nil))
    }

    func testRecipeAppliesItsStepsWithRelativePaths() throws {
        let root = try temporaryFolder(self)
        try FileManager.default.createDirectory(atPath: root + "/Latents", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/Edits", withIntermediateDirectories: true)
        var rng = TestRNG(seed: 8)
        let dirs = Tensor(shape: [2, 6], data: (0..<2).flatMap { _ in randomUnit(&rng, 6).map(Float.init) })
        try DirectionSet(names: ["a", "b"], directions: dirs, scales: [1, 1], method: "test", generatorFingerprint: "",
                         layers: 1 ..< 3).save(to: root + "/Latents/d.safetensors")
        let json = """
        { "name": "two-step", "description": "b on rows 0-1, then a on the file's default rows",
          "steps": [ { "direction": "Latents/d.safetensors:b", "strength": 1.5, "layers": "0-1" },
                     { "direction": "Latents/d.safetensors:0", "strength": -2 } ] }
        """
        try Data(json.utf8).write(to: URL(fileURLWithPath: root + "/Edits/r.json"))
        let recipe = try EditRecipe.load(path: root + "/Edits/r.json")
        XCTAssertEqual(recipe.name, "two-step")
        XCTAssertEqual(recipe.steps.count, 2)
        XCTAssertNil(recipe.steps[1].layers)
        let ws = rng.tensor([2, 4, 6])
        let out = try applyRecipe(recipe, ws: ws, recipeDirectory: root + "/Edits")
        var expected = try applyDirection(ws: ws, direction: dirs.row(1), strength: 1.5, layers: 0 ..< 2)
        expected = try applyDirection(ws: expected, direction: dirs.row(0), strength: -2, layers: 1 ..< 3)
        XCTAssertEqual(out, expected)
        // The file's default range is clamped to the latents' rows.
        XCTAssertEqual(try applyRecipe(EditRecipe(name: "x", steps: [.init(direction: root + "/Latents/d.safetensors:a", strength: 1)]),
                                       ws: Tensor.zeros([1, 2, 6]), recipeDirectory: nil),
                       try applyDirection(ws: Tensor.zeros([1, 2, 6]), direction: dirs.row(0), strength: 1, layers: 1 ..< 2))
    }

    func testBadRecipesThrow() throws {
        let root = try temporaryFolder(self)
        func write(_ s: String) throws -> String { try writeJSONFile(s, in: root) }
        XCTAssertThrowsError(try EditRecipe.load(path: root + "/none.json"))
        XCTAssertThrowsError(try EditRecipe.load(path: write("{ \"name\": 3 }")))
        XCTAssertThrowsError(try EditRecipe.load(path: write("{ \"name\": \"x\", \"steps\": [] }")))
        let stepJSON = "\"steps\": [ { \"direction\": \"d.safetensors\", \"strength\": 1 } ]"
        XCTAssertThrowsError(try EditRecipe.load(path: write("{ \"name\": \"x\", \(stepJSON), \"mask\": \"wall\", \"feather\": -1 }"))) {
            XCTAssertTrue("\($0)".contains("feather must be 0-64"), "\($0)")
        }
        XCTAssertEqual(try EditRecipe.load(path: write("{ \"name\": \"x\", \(stepJSON), \"mask\": \"wall\", \"feather\": 0 }")).feather, 0)
        let missing = try EditRecipe.load(path: write("{ \"name\": \"x\", \"steps\": [ { \"direction\": \"nope.safetensors\", \"strength\": 1 } ] }"))
        XCTAssertThrowsError(try applyRecipe(missing, ws: Tensor.zeros([1, 2, 3]), recipeDirectory: root)) {
            XCTAssertTrue("\($0)".contains("not found"))
        }
    }
}
