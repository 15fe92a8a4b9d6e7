import Foundation
import LatentTensor
import LatentFormats

/// Hands out the tensors of an encoder's `state_dict()` by official name, checking each shape,
/// and reports any tensor that no layer took (a checkpoint of another architecture must fail,
/// not load half its weights). `num_batches_tracked` counters are training bookkeeping and
/// need not be taken.
final class EncoderWeights {
    let tensors: [String: Tensor]
    let source: String
    private(set) var used = Set<String>()
    /// Shape-listing mode: `take` records every request and returns zeros.
    private let listing: Bool
    private(set) var requested = [(name: String, shape: [Int])]()

    init(tensors: [String: Tensor], source: String) {
        self.tensors = tensors
        self.source = source
        listing = false
    }

    /// A reader that hands out zeros and records the names and shapes asked for.
    init(listingShapesFor source: String) {
        tensors = [:]
        self.source = source
        listing = true
    }

    /// The tensor `name`, which must have `shape`.
    func take(_ name: String, _ shape: [Int]) throws -> Tensor {
        if listing {
            requested.append((name, shape))
            // BatchNorm variances of zero would be harmless too; ones keep the folded scale finite.
            return Tensor(shape: shape, repeating: name.hasSuffix("running_var") ? 1 : 0)
        }
        guard let t = tensors[name] else { throw FormatError(source, "encoder: missing tensor '\(name)'") }
        guard t.shape == shape else {
            throw FormatError(source, "encoder: tensor '\(name)' has shape \(t.shape), expected \(shape)")
        }
        guard t.isFinite else { throw FormatError(source, "encoder: tensor '\(name)' has NaN or infinite values") }
        used.insert(name)
        return t
    }

    /// Throws for the first tensor no layer took.
    func checkAllUsed() throws {
        let left = tensors.keys.filter { !used.contains($0) && !$0.hasSuffix("num_batches_tracked") }.sorted()
        if let first = left.first {
            throw FormatError(source, "encoder: unexpected tensor '\(first)'\(left.count > 1 ? " (and \(left.count - 1) more)" : "") for this config")
        }
    }
}
