import Foundation

/// A restricted pickle virtual machine (protocols 2–5) that turns a pickle into a `PickleValue`
/// tree without ever executing pickled code.
///
/// Follows CPython's `Lib/pickle.py` `_Unpickler` for the binary opcodes that pickles of data use
/// (see `PickleOpcode`); every other opcode is refused by name. Globals are resolved against an
/// allow-list only, and an allowed global is still never called: `REDUCE`/`NEWOBJ` either map it
/// to data through a fixed rule (the `reducer`, then `PickleAllowList.dataConstructor`) or keep an
/// inert `.call` node.
///
/// Resource bounds: every declared length is checked against the bytes that remain before
/// anything is allocated; memo indices live in a dictionary (a huge index allocates nothing);
/// nesting is limited to `maxDepth`, and the size of the value written out as a tree (a memoized
/// value referenced twice counts twice) to `maxNodes`, so a tiny pickle whose memo shares nested
/// containers (2^40 nodes in a few hundred bytes) is refused instead of making every reader of
/// the tree (descriptions, JSON, conversion) expand it. Containers are complete before they become children in
/// pickles written by `pickle.dump`, so a container that is mutated after being placed in another
/// value (only cyclic or hand-made pickles do that) is refused; this keeps the nesting depth exact.
public struct Unpickler {
    /// How a global was applied: `REDUCE` (a call) or `NEWOBJ` (`cls.__new__(cls, *args)`).
    public enum CallKind: Sendable { case reduce, newObj }
    /// Maps an allowed global applied to arguments to a value, or nil for the default handling.
    public typealias Reducer = (_ callee: PickleGlobal, _ args: [PickleValue], _ kind: CallKind) throws -> PickleValue?

    /// Names the data in error messages (a file path, or a description of embedded bytes).
    public var source: String
    public var allowList: PickleAllowList
    public var reducer: Reducer?
    /// Resolves `BINPERSID` ids; without it persistent ids are refused.
    public var persistentLoad: ((PickleValue) throws -> PickleValue)?
    /// Deepest container nesting accepted.
    public var maxDepth: Int
    /// Most nodes the decoded value may have when expanded as a tree (shared values counted at
    /// every reference). An NVlabs snapshot at 1024² has a few thousand.
    public var maxNodes: Int

    public init(source: String, allowList: PickleAllowList, maxDepth: Int = 1000, maxNodes: Int = 1_000_000,
                reducer: Reducer? = nil, persistentLoad: ((PickleValue) throws -> PickleValue)? = nil) {
        self.source = source
        self.allowList = allowList
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
        self.reducer = reducer
        self.persistentLoad = persistentLoad
    }

    /// Decodes one pickle starting at byte `offset` of `data`.
    /// - Returns: the value and the offset just past its `STOP` opcode (pickles can be
    ///   concatenated, as in the legacy `torch.save` format).
    /// - Throws: `FormatError(source, reason)` naming the byte offset and opcode.
    public func load(_ data: Data, from offset: Int = 0) throws -> (value: PickleValue, end: Int) {
        guard (0...data.count).contains(offset) else {
            throw FormatError(source, "pickle offset \(offset) is outside the \(data.count)-byte data")
        }
        return try data.withUnsafeBytes { raw -> (value: PickleValue, end: Int) in
            let vm = PickleMachine(config: self, data: data, bytes: raw, position: offset)
            do {
                let v = try vm.run()
                return (v, vm.position)
            } catch let e as PickleError {
                let op = vm.opcodeName.map { ", opcode \($0)" } ?? ""
                throw FormatError(source, "\(e.reason) (at byte \(vm.opcodeStart)\(op))")
            }
        }
    }
}

/// One stack or memo entry; `depth` is authoritative for immutable values, containers carry their
/// own (they grow after being memoized).
private struct Slot {
    var value: PickleValue
    var depth: Int
    /// Size of the value expanded as a tree (see `Unpickler.maxNodes`).
    var nodes: Int
}

private final class PickleMachine {
    let config: Unpickler
    let data: Data
    let bytes: UnsafeRawBufferPointer
    var position: Int
    var opcodeStart = 0
    var opcodeName: String?

    var stack: [Slot] = []
    var marks: [Int] = []
    var memo: [Int: Slot] = [:]

    init(config: Unpickler, data: Data, bytes: UnsafeRawBufferPointer, position: Int) {
        self.config = config
        self.data = data
        self.bytes = bytes
        self.position = position
    }

    // MARK: reading

    var remaining: Int { bytes.count - position }

    /// Checks that `n` more bytes exist. `what` names a declared length (a string, bytes, …);
    /// nil means a fixed-size field, whose absence can only mean the data was cut short.
    func need(_ n: Int, _ what: String?) throws {
        guard n >= 0, n <= remaining else {
            guard let what else {
                throw PickleError("unexpected end of data: \(n) more bytes needed, \(max(remaining, 0)) remain (truncated file?)")
            }
            throw PickleError("declares a \(n)-byte \(what) but only \(max(remaining, 0)) bytes remain (truncated or corrupt file)")
        }
    }

    func u8() throws -> UInt8 {
        guard position < bytes.count else { throw PickleError("unexpected end of data (truncated file?)") }
        defer { position += 1 }
        return bytes[position]
    }

    func le<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size, nil)
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// A declared length, refused when negative, absurd, or beyond the end of the data.
    func length<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> Int {
        let n = try le(T.self)
        guard n >= 0, UInt64(n) <= UInt64(Int.max) else { throw PickleError("declares an impossible \(what) length \(n)") }
        let len = Int(n)
        try need(len, what)
        return len
    }

    func take(_ n: Int) -> UnsafeRawBufferPointer {
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position ..< position + n])
    }

    func utf8(_ n: Int) throws -> String {
        try need(n, "string")
        let start = position
        guard let s = String(bytes: take(n), encoding: .utf8) else {
            throw PickleError("string at byte \(start) is not valid UTF-8")
        }
        return s
    }

    func byteSlice(_ n: Int) throws -> Data {
        try need(n, "bytes object")
        let lo = data.startIndex + position
        position += n
        return data[lo ..< lo + n]
    }

    /// A `\n`-terminated ASCII line (the text `GLOBAL` opcode), at most 256 bytes.
    func line() throws -> String {
        var end = position
        while end < bytes.count, bytes[end] != 0x0A {
            end += 1
            if end - position > 256 { throw PickleError("GLOBAL name longer than 256 bytes") }
        }
        guard end < bytes.count else { throw PickleError("unexpected end of data inside a GLOBAL name (truncated file?)") }
        guard let s = String(bytes: take(end - position), encoding: .ascii) else { throw PickleError("GLOBAL name is not ASCII") }
        position += 1
        return s
    }

    // MARK: stack

    func push(_ v: PickleValue, depth: Int = 1, nodes: Int = 1) { stack.append(Slot(value: v, depth: depth, nodes: nodes)) }
    func push(_ v: PickleValue, _ shape: (depth: Int, nodes: Int)) { push(v, depth: shape.depth, nodes: shape.nodes) }

    func pop() throws -> Slot {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw PickleError("stack underflow") }
        stack.removeLast()
        return top
    }

    func popMark() throws -> [Slot] {
        guard let m = marks.popLast() else { throw PickleError("no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    /// Marks a value as placed inside another one and returns its nesting depth and its size
    /// expanded as a tree (containers carry their own: they grow after being memoized).
    func embed(_ s: Slot) -> (depth: Int, nodes: Int) {
        switch s.value {
        case .list(let l), .set(let l): l.sealed = true; return (l.depth, l.nodes)
        case .dict(let d): d.sealed = true; return (d.depth, d.nodes)
        case .call(let c): c.sealed = true; return (c.depth, c.nodes)
        default: return (s.depth, s.nodes)
        }
    }

    /// Depth and expanded size of a value holding `children` (plus `base` nodes it has already).
    func nested(_ children: [Slot], base: Int = 1) throws -> (depth: Int, nodes: Int) {
        var d = 1, n = base
        for c in children {
            let inner = embed(c)
            d = max(d, 1 + inner.depth)
            guard d <= config.maxDepth else { throw PickleError("values nested deeper than \(config.maxDepth) levels") }
            // Each count is at most maxNodes, so the sum cannot overflow before the check.
            n += inner.nodes
            guard n <= config.maxNodes else {
                throw PickleError("the value expands to more than \(config.maxNodes) nodes (memoized values shared over and over: a pickle bomb?)")
            }
        }
        return (d, n)
    }

    func mutable(_ sealed: Bool, _ what: String) throws {
        if sealed { throw PickleError("\(what) modifies a container after it was placed inside another value (cyclic or malformed pickle)") }
    }

    func memoPut(_ index: Int) throws {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw PickleError("memoize with an empty stack") }
        memo[index] = top
    }

    func memoGet(_ index: Int) throws {
        guard let s = memo[index] else { throw PickleError("memo index \(index) was never stored") }
        stack.append(s)
    }

    // MARK: the loop

    func run() throws -> PickleValue {
        opcodeStart = position
        guard position < bytes.count, bytes[position] == PickleOpcode.proto.rawValue else {
            let first = position < bytes.count ? String(format: "0x%02x", bytes[position]) : "end of data"
            throw PickleError("not a pickle (protocol 2–5): the first byte is \(first), not the PROTO opcode 0x80")
        }
        while true {
            opcodeStart = position
            opcodeName = nil
            let byte = try u8()
            guard let op = PickleOpcode(rawValue: byte) else {
                throw PickleError(String(format: "unknown pickle opcode 0x%02x; refusing the file", byte))
            }
            opcodeName = op.name
            if op == .stop {
                guard marks.isEmpty, stack.count == 1 else {
                    throw PickleError("STOP with \(stack.count) values and \(marks.count) open MARKs on the stack")
                }
                return stack[0].value
            }
            try step(op)
        }
    }

    func step(_ op: PickleOpcode) throws {
        switch op {
        case .proto:
            let v = try u8()
            guard (2...5).contains(v) else { throw PickleError("unsupported pickle protocol \(v) (expected 2–5)") }
        case .frame:
            // Frames only group opcodes for buffered reading; the opcodes inside are read as usual.
            _ = try length(UInt64.self, "frame")
        case .mark: marks.append(stack.count)
        case .pop: _ = try pop()
        case .popMark: _ = try popMark()
        case .dup:
            let s = try pop(); stack.append(s); stack.append(s)

        case .none: push(.none)
        case .newTrue: push(.bool(true))
        case .newFalse: push(.bool(false))
        case .binInt: push(.int(Int(try le(Int32.self))))
        case .binInt1: push(.int(Int(try u8())))
        case .binInt2: push(.int(Int(try le(UInt16.self))))
        case .long1: push(try longValue(Int(try u8())))
        case .long4:
            let n = try length(Int32.self, "LONG4 integer")
            guard n <= 4096 else { throw PickleError("LONG4 integer of \(n) bytes is absurd") }
            push(try longValue(n))
        case .binFloat:
            // The only big-endian field in pickle.
            try need(8, nil)
            var u: UInt64 = 0
            for b in take(8) { u = u << 8 | UInt64(b) }
            push(.float(Double(bitPattern: u)))

        case .binUnicode: push(.string(try utf8(try length(UInt32.self, "string"))))
        case .shortBinUnicode: push(.string(try utf8(Int(try u8()))))
        case .binUnicode8: push(.string(try utf8(try length(UInt64.self, "string"))))
        case .binBytes: push(.bytes(try byteSlice(try length(UInt32.self, "bytes object"))))
        case .shortBinBytes: push(.bytes(try byteSlice(Int(try u8()))))
        case .binBytes8, .byteArray8: push(.bytes(try byteSlice(try length(UInt64.self, "bytes object"))))

        case .emptyTuple: push(.tuple([]))
        case .tuple1, .tuple2, .tuple3:
            let n = Int(op.rawValue - PickleOpcode.tuple1.rawValue) + 1
            guard stack.count - (marks.last ?? 0) >= n else { throw PickleError("stack underflow") }
            let items = Array(stack.suffix(n))
            stack.removeLast(n)
            push(.tuple(items.map(\.value)), try nested(items))
        case .tuple:
            let items = try popMark()
            push(.tuple(items.map(\.value)), try nested(items))
        case .emptyList: push(.list(PickleList()))
        case .emptyDict: push(.dict(PickleDict()))
        case .emptySet: push(.set(PickleList()))
        case .list:
            let items = try popMark()
            let l = PickleList(items.map(\.value)); (l.depth, l.nodes) = try nested(items); push(.list(l))
        case .frozenSet:
            let items = try popMark()
            let l = PickleList(items.map(\.value)); (l.depth, l.nodes) = try nested(items); l.sealed = true; push(.set(l))
        case .dict:
            let items = try popMark()
            let d = PickleDict()
            try fill(d, items)
            push(.dict(d))

        case .append, .appends:
            let items = op == .append ? [try pop()] : try popMark()
            guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw PickleError("stack underflow") }
            guard case .list(let l) = target.value else { throw PickleError("\(op.name) to \(target.value), which is not a list") }
            try mutable(l.sealed, op.name)
            let shape = try nested(items, base: l.nodes)
            l.depth = max(l.depth, shape.depth); l.nodes = shape.nodes
            l.items += items.map(\.value)
        case .addItems:
            let items = try popMark()
            guard let target = stack.last, stack.count > (marks.last ?? 0), case .set(let l) = target.value else {
                throw PickleError("ADDITEMS to a value that is not a set")
            }
            try mutable(l.sealed, op.name)
            let shape = try nested(items, base: l.nodes)
            l.depth = max(l.depth, shape.depth); l.nodes = shape.nodes
            l.items += items.map(\.value)
        case .setItem, .setItems:
            let items: [Slot]
            if op == .setItem { let v = try pop(); let k = try pop(); items = [k, v] } else { items = try popMark() }
            guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw PickleError("stack underflow") }
            guard case .dict(let d) = target.value else { throw PickleError("\(op.name) on \(target.value), which is not a dict") }
            try mutable(d.sealed, op.name)
            try fill(d, items)

        case .binPut: try memoPut(Int(try u8()))
        case .longBinPut: try memoPut(Int(try le(UInt32.self)))
        case .memoize: try memoPut(memo.count)
        case .binGet: try memoGet(Int(try u8()))
        case .longBinGet: try memoGet(Int(try le(UInt32.self)))

        case .global:
            let module = try line(), name = try line()
            push(.global(try resolve(module, name)))
        case .stackGlobal:
            let n = try pop(), m = try pop()
            guard let module = m.value.stringValue, let name = n.value.stringValue else {
                throw PickleError("STACK_GLOBAL needs two strings, got \(m.value) and \(n.value)")
            }
            push(.global(try resolve(module, name)))
        case .reduce:
            let args = try pop(), callee = try pop()
            try apply(callee, args, kind: .reduce)
        case .newObj:
            let args = try pop(), cls = try pop()
            try apply(cls, args, kind: .newObj)
        case .build:
            let state = try pop()
            guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw PickleError("stack underflow") }
            if case .dict(let d) = target.value, state.value.dictValue != nil {
                // `OrderedDict.__reduce__` ends with BUILD of the instance `__dict__` (a torch
                // `state_dict()` carries `_metadata` so): attributes of the dict object, not items.
                // They are not needed, so they are dropped after the usual checks.
                try mutable(d.sealed, "BUILD")
                let shape = try nested([state], base: d.nodes)
                d.depth = max(d.depth, shape.depth); d.nodes = shape.nodes
                break
            }
            guard case .call(let c) = target.value else {
                throw PickleError("BUILD (set object state) on \(target.value), which is not a constructed object")
            }
            try mutable(c.sealed, "BUILD")
            guard c.state == nil else { throw PickleError("BUILD applied twice to \(c.callee.qualifiedName)") }
            let shape = try nested([state], base: c.nodes)
            c.depth = max(c.depth, shape.depth); c.nodes = shape.nodes
            c.state = state.value
        case .binPersID:
            let pid = try pop()
            guard let load = config.persistentLoad else {
                throw PickleError("persistent id \(pid.value) found, but this pickle may not reference external objects")
            }
            push(try load(pid.value), try nested([pid]))

        default:
            throw PickleError("unsupported pickle opcode \(op.name); refusing the file (only protocol 2–5 data opcodes are accepted)")
        }
    }

    func fill(_ d: PickleDict, _ items: [Slot]) throws {
        guard items.count % 2 == 0 else { throw PickleError("odd number of items (\(items.count)) for a dict") }
        let shape = try nested(items, base: d.nodes)
        d.depth = max(d.depth, shape.depth); d.nodes = shape.nodes
        for i in stride(from: 0, to: items.count, by: 2) { try d.set(items[i].value, items[i + 1].value) }
    }

    /// LONG1/LONG4: little-endian two's complement; fits in `Int` or stays `.bigInt`.
    func longValue(_ n: Int) throws -> PickleValue {
        try need(n, "integer")
        let b = Array(take(n))
        if n == 0 { return .int(0) }
        let negative = b[n - 1] & 0x80 != 0
        let fill: UInt8 = negative ? 0xFF : 0
        if n <= 8 || b[8...].allSatisfy({ $0 == fill }) && (b[7] & 0x80 != 0) == negative {
            var u: UInt64 = negative ? ~0 : 0
            for i in 0 ..< min(n, 8) { u = (u & ~(0xFF << (8 * UInt64(i)))) | (UInt64(b[i]) << (8 * UInt64(i))) }
            return .int(Int(Int64(bitPattern: u)))
        }
        return .bigInt(b)
    }

    func resolve(_ module: String, _ name: String) throws -> PickleGlobal {
        let g = PickleGlobal(module, name)
        guard config.allowList.permits(g) else {
            throw PickleError("refusing global '\(g.qualifiedName)': it is not on the allow-list of data constructors, and pickled code is never executed")
        }
        return g
    }

    func apply(_ calleeSlot: Slot, _ argsSlot: Slot, kind: Unpickler.CallKind) throws {
        let what = kind == .reduce ? "REDUCE" : "NEWOBJ"
        guard case .global(let g) = calleeSlot.value else {
            throw PickleError("\(what) of \(calleeSlot.value), which is not an allowed global")
        }
        guard case .tuple(let args) = argsSlot.value else { throw PickleError("\(what) arguments are not a tuple") }
        if kind == .reduce && !config.allowList.permitsCall(g) {
            throw PickleError("refusing to call '\(g.qualifiedName)': it may only be instantiated with NEWOBJ")
        }
        let shape = try nested([argsSlot])
        if let v = try config.reducer?(g, args, kind) ?? PickleAllowList.dataConstructor(g, args, kind) {
            // A container built from the arguments holds them, so it is as deep and as large as they are.
            switch v {
            case .list(let l), .set(let l): (l.depth, l.nodes) = shape
            case .dict(let dd): (dd.depth, dd.nodes) = shape
            case .call(let c): (c.depth, c.nodes) = shape
            default: break
            }
            push(v, shape)
        } else {
            let c = PickleCall(callee: g, args: args)
            (c.depth, c.nodes) = shape
            push(.call(c))
        }
    }
}
