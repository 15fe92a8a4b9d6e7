import Foundation

/// One `torch.nn.Module` inside an NVlabs snapshot, read as data.
///
/// Networks in NVlabs pickles are persistent objects (`torch_utils/persistence.py`):
/// `_reconstruct_persistent_obj(meta)` with `meta = {type, version, module_src, class_name,
/// state}`, where `state` is the module's `__dict__` (`_parameters`, `_buffers`,
/// `_non_persistent_buffers_set`, `_modules`, `_init_args`, `_init_kwargs`, plain attributes).
/// Plain torch modules (`torch.nn.modules.*`, pickled as `NEWOBJ` + `BUILD` with the same
/// `__dict__`) are accepted as children too.
public struct NVLabsModule {
    public let className: String
    /// `meta['module_src']`: the Python source the class was defined in (persistent objects only).
    public let moduleSource: String?
    /// `meta['version']` of the persistence format (persistent objects only).
    public let persistenceVersion: Int?
    /// The module's `__dict__`.
    public let state: PickleDict

    /// Reads a module from a pickle value, or returns nil when the value is no module.
    /// - Throws: `PickleError` for a persistent object whose metadata is malformed.
    public init?(_ value: PickleValue) throws {
        guard case .call(let c) = value else { return nil }
        if c.callee.qualifiedName == "torch_utils.persistence._reconstruct_persistent_obj" {
            guard c.args.count == 1, let meta = c.args[0].dictValue else {
                throw PickleError("persistent object without its meta dict")
            }
            guard meta["type"]?.stringValue == "class" else {
                throw PickleError("persistent object of type \(meta["type"] ?? .none), expected 'class'")
            }
            guard let name = meta["class_name"]?.stringValue, let state = meta["state"]?.dictValue else {
                throw PickleError("persistent object without class_name or state")
            }
            className = name
            moduleSource = meta["module_src"]?.stringValue
            persistenceVersion = meta["version"]?.intValue
            self.state = state
        } else if c.callee.module.hasPrefix("torch.nn.modules."), let state = c.state?.dictValue {
            className = c.callee.name
            moduleSource = nil
            persistenceVersion = nil
            self.state = state
        } else {
            return nil
        }
    }

    /// `_init_kwargs` (constructor keyword arguments), if recorded.
    public var initKwargs: PickleDict? { state["_init_kwargs"]?.dictValue }
    /// `_init_args` (constructor positional arguments), empty if none.
    public var initArgs: [PickleValue] { state["_init_args"]?.sequenceValue ?? [] }

    /// Child modules (`_modules`), in registration order; `None` entries are skipped like torch does.
    public func children() throws -> [(name: String, module: NVLabsModule)] {
        guard let mods = state["_modules"] else { return [] }
        guard let d = mods.dictValue else { throw PickleError("\(className)._modules is not a dict") }
        var out: [(String, NVLabsModule)] = []
        for (k, v) in d.items {
            guard let name = k.stringValue else { throw PickleError("\(className)._modules has a non-string key \(k)") }
            if v.isNone { continue }
            guard let m = try NVLabsModule(v) else { throw PickleError("\(className)._modules['\(name)'] is \(v), not a module") }
            out.append((name, m))
        }
        return out
    }

    /// The tensors `state_dict()` returns, with the same dotted names and order: for each module,
    /// its parameters, then its persistent buffers, then its children recursively
    /// (`torch.nn.Module._save_to_state_dict`). Tensors are not materialised.
    public func stateTensors(prefix: String = "") throws -> [(name: String, tensor: TorchTensor)] {
        var out: [(name: String, tensor: TorchTensor)] = []
        try collect(prefix: prefix, depth: 0, into: &out)
        return out
    }

    /// Tensors of `_parameters` only (no buffers), recursively.
    public func parameterTensors(prefix: String = "") throws -> [(name: String, tensor: TorchTensor)] {
        try stateTensors(prefix: prefix).filter { $0.tensor.isParameter }
    }

    private func collect(prefix: String, depth: Int, into out: inout [(name: String, tensor: TorchTensor)]) throws {
        guard depth < 64 else { throw PickleError("modules nested deeper than 64 levels at '\(prefix)'") }
        var skip = Set<String>()
        if let np = state["_non_persistent_buffers_set"] {
            switch np {
            case .set(let l): skip = Set(l.items.compactMap(\.stringValue))
            case .none: break
            default: throw PickleError("\(prefix)_non_persistent_buffers_set is not a set")
            }
        }
        for (field, isParam) in [("_parameters", true), ("_buffers", false)] {
            guard let v = state[field] else { continue }
            guard let d = v.dictValue else { throw PickleError("\(prefix)\(field) is not a dict") }
            for (k, t) in d.items {
                guard let name = k.stringValue else { throw PickleError("\(prefix)\(field) has a non-string key") }
                if t.isNone || (!isParam && skip.contains(name)) { continue }
                guard var tensor = t.tensorValue else { throw PickleError("\(prefix)\(name) in \(field) is \(t), not a tensor") }
                // A parameter saved without `_rebuild_parameter` is still a parameter of the module.
                tensor.isParameter = isParam
                out.append((prefix + name, tensor))
            }
        }
        for (name, child) in try children() {
            try child.collect(prefix: prefix + name + ".", depth: depth + 1, into: &out)
        }
    }
}
