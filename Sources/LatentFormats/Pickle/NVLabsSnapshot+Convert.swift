import Foundation
import LatentTensor

/// Converts one StyleGAN2 generator of an NVlabs snapshot into LatentLab's stylegan2 tensor set:
/// the exact `state_dict()` names and float32 values, plus the safetensors metadata
/// (`format` = `stylegan2`, `architecture`, `config` (see `NVLabsSnapshot.configJSON`), `source`
/// = the pkl's file name, `network`; and `config_source` when the config had to be inferred).
/// Write the result with the safetensors writer.
///
/// - Parameters:
///   - path: an NVlabs `.pkl` snapshot (stylegan2-ada-pytorch or stylegan3 repository, StyleGAN2
///     architecture).
///   - network: which entry to convert; default `G_ema`, the generator to sample from.
/// - Throws: `FormatError` for unreadable or unsafe pickles, a missing network, a network that is
///   not a StyleGAN2 `Generator`, or `_init_kwargs` that contradict the tensors.
public func convertSnapshot(path: String, network: String = "G_ema") throws
    -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
    let snap = try NVLabsSnapshot(path: path)
    let cls = try snap.className(network: network)
    guard cls == "Generator" else {
        throw FormatError(path, "network '\(network)' is a \(cls); only StyleGAN2 Generator networks convert to the stylegan2 format")
    }
    let (config, configSource) = try snap.configWithSource(network: network)
    var metadata = [
        "format": "stylegan2",
        "architecture": "NVlabs networks_stylegan2.Generator",
        "config": config,
        "source": (path as NSString).lastPathComponent,
        "network": network,
    ]
    if configSource != "init_kwargs" { metadata["config_source"] = configSource }
    return (try snap.stateDict(network: network), metadata)
}

/// A human-readable summary of a snapshot for `latentlab inspect`: each network with its class,
/// parameter and buffer counts and config, then the other top-level entries.
public func describeSnapshot(_ s: NVLabsSnapshot) -> String {
    var lines = ["\((s.path as NSString).lastPathComponent): NVlabs snapshot with \(s.networkNames.count) network\(s.networkNames.count == 1 ? "" : "s")"]
    for name in s.networkNames {
        do {
            let m = try s.module(network: name)
            let tensors = try s.stateTensors(network: name)
            let params = tensors.filter { $0.tensor.isParameter }, buffers = tensors.filter { !$0.tensor.isParameter }
            let p = params.reduce(0) { $0 + $1.tensor.count }, b = buffers.reduce(0) { $0 + $1.tensor.count }
            let dtypes = Set(tensors.map { $0.tensor.dtype.name }).sorted().joined(separator: "/")
            var kind = m.persistenceVersion.map { "persistent, version \($0)" } ?? "plain torch module"
            if !dtypes.isEmpty { kind += ", \(dtypes)" }
            lines.append("  \(name): \(m.className) (\(kind))")
            lines.append("    \(formatCount(p)) parameters in \(params.count) tensors, \(formatCount(b)) buffer elements in \(buffers.count) tensors")
            do { lines.append("    config \(try s.configJSON(network: name))") }
            catch let e as FormatError { lines.append("    config unavailable: \(e.reason)") }
        } catch {
            lines.append("  \(name): unreadable (\(error))")
        }
    }
    let others = s.root.stringItems.filter { !s.networkNames.contains($0.key) }
    if !others.isEmpty {
        lines.append("  other entries:")
        for (k, v) in others { lines.append("    \(k): \((try? v.jsonText()) ?? v.description)") }
    }
    return lines.joined(separator: "\n")
}

/// 1234567 → "1,234,567".
private func formatCount(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return out
}
