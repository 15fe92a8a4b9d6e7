#!/usr/bin/env python3
"""Writes the pickle_* fixtures of PickleTests / NVLabsSnapshotTests (run offline, once).

Needs only numpy: torch, torch_utils and dnnlib are imitated by stand-in modules registered in
sys.modules, whose functions have the real qualified names, so `pickle` writes exactly the opcodes
and globals that real NVlabs snapshots contain. The malicious fixtures reference real `os.system`
and `eval`; loading them with Python's pickle WOULD run `touch /tmp/latentlab-pickle-executed`,
which the Swift tests check never happens.

    cd Tests/LatentFormatsTests/Resources && python3 pickle_make_fixtures.py
"""
import collections, io, json, os, pickle, struct, sys, types
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = '/tmp/latentlab-pickle-executed'


def module(name):
    m = types.ModuleType(name)
    sys.modules[name] = m
    return m


def fn(mod, name):
    def f(*a):
        raise RuntimeError('stand-in, never called')
    f.__module__, f.__name__, f.__qualname__ = mod.__name__, name, name
    setattr(mod, name, f)
    return f


torch = module('torch')
torch_utils_mod = module('torch._utils')
torch_storage_mod = module('torch.storage')
module('torch_utils')
persistence = module('torch_utils.persistence')
module('torch.nn'); module('torch.nn.modules')
container = module('torch.nn.modules.container')
module('dnnlib')
dnnlib_util = module('dnnlib.util')

rebuild_tensor_v2 = fn(torch_utils_mod, '_rebuild_tensor_v2')
rebuild_parameter = fn(torch_utils_mod, '_rebuild_parameter')
load_from_bytes = fn(torch_storage_mod, '_load_from_bytes')
reconstruct = fn(persistence, '_reconstruct_persistent_obj')

STORAGE_NAMES = {np.float32: 'FloatStorage', np.float16: 'HalfStorage', 'bf16': 'BFloat16Storage',
                 np.float64: 'DoubleStorage', np.int64: 'LongStorage', np.int32: 'IntStorage'}
storage_classes = {}
for n in STORAGE_NAMES.values():
    c = type(n, (), {'__module__': 'torch'})
    setattr(torch, n, c)
    storage_classes[n] = c


class EasyDict(dict):
    """dnnlib.util.EasyDict: a dict with attribute access (pickled as NEWOBJ + SETITEMS)."""
EasyDict.__module__ = 'dnnlib.util'
dnnlib_util.EasyDict = EasyDict


class Sequential:
    """A plain torch module (NEWOBJ of the class, BUILD with its __dict__)."""
Sequential.__module__ = 'torch.nn.modules.container'
container.Sequential = Sequential

_key = [94000000000000]


def legacy_bytes(kind, raw, numel, view=None):
    """torch.save(storage, _use_new_zipfile_serialization=False) of one storage."""
    _key[0] += 16
    key = str(_key[0])
    marker = object()

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if obj is marker:
                return ('storage', storage_classes[kind], key, 'cpu', numel, view)
            return None
    f = io.BytesIO()
    for v in (0x1950a86a20f9469cfc6c, 1001,
              dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4))):
        pickle.dump(v, f, protocol=2)
    P(f, protocol=2).dump(marker)
    pickle.dump([key], f, protocol=2)
    f.write(struct.pack('<q', numel))
    f.write(raw)
    return f.getvalue()


class Storage:
    def __init__(self, values, kind=np.float32, view=None):
        values = np.ascontiguousarray(values).reshape(-1)
        if kind == 'bf16':
            bits = values.astype(np.float32).view(np.uint32)
            assert np.all(bits & 0xFFFF == 0), 'bf16 test values must be exact'
            raw = (bits >> 16).astype('<u2').tobytes()
        else:
            raw = values.astype(np.dtype(kind).newbyteorder('<')).tobytes()
        self.payload = legacy_bytes(STORAGE_NAMES[kind], raw, values.size, view)

    def __reduce__(self):
        return (load_from_bytes, (self.payload,))


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (rebuild_tensor_v2, self.args)


class Parameter:
    def __init__(self, t):
        self.t = t

    def __reduce__(self):
        return (rebuild_parameter, (self.t, True, collections.OrderedDict()))


def f32(x):
    return np.asarray(x, dtype=np.float32)


def tensor(values, kind=np.float32):
    """A contiguous tensor of its own storage."""
    v = np.asarray(values)
    size = v.shape
    stride = [int(np.prod(size[i + 1:])) for i in range(len(size))]
    return Tensor(Storage(v, kind), 0, size, stride)


class Persistent:
    def __init__(self, class_name, state):
        self.meta = dict(type='class', version=6, module_src='# omitted\n', class_name=class_name, state=state)

    def __reduce__(self):
        return (reconstruct, (self.meta,))


def module_state(params=(), buffers=(), modules=(), non_persistent=(), **attrs):
    s = dict(training=False, _parameters=collections.OrderedDict(params),
             _buffers=collections.OrderedDict(buffers), _non_persistent_buffers_set=set(non_persistent),
             _backward_hooks=collections.OrderedDict(), _modules=collections.OrderedDict(modules))
    s.update(attrs)
    return s


# ---- the synthetic snapshot --------------------------------------------------------------------
rng = np.random.default_rng(7)
expected = collections.OrderedDict()   # state_dict name -> float32 array, in torch order


def expect(name, values):
    expected[name] = f32(values)


def build_generator_modules():
    """A 2-block StyleGAN2-shaped Generator: z 3, w 5, channels b4 6 / b8 4, 3 image channels."""
    exp = []
    # fc0.weight [5, 3] stored transposed: storage holds the [3, 5] matrix, the view has stride (1, 5).
    wt = f32(rng.standard_normal((3, 5)))
    fc0_w = Parameter(Tensor(Storage(wt), 0, (5, 3), (1, 5)))
    exp.append(('mapping.fc0.weight', wt.T))
    fc0_b = f32(rng.standard_normal(5))
    exp.append(('mapping.fc0.bias', fc0_b))
    fc0 = Persistent('FullyConnectedLayer', module_state(
        params=[('weight', fc0_w), ('bias', Parameter(tensor(fc0_b)))],
        weight_gain=np.float64(1 / np.sqrt(3)), bias_gain=1,
        _init_args=(3, 5), _init_kwargs=EasyDict(lr_multiplier=0.01)))
    # fc1.weight in float16, bias in bfloat16, no bias entry would be None.
    w16 = rng.standard_normal((5, 5)).astype(np.float16)
    b_bf = f32(np.array([1.5, -2.0, 0.25, 3.0, -0.125]))
    exp.append(('mapping.fc1.weight', w16.astype(np.float32)))
    exp.append(('mapping.fc1.bias', b_bf))
    fc1 = Persistent('FullyConnectedLayer', module_state(
        params=[('weight', Parameter(tensor(w16, np.float16))), ('bias', Parameter(tensor(b_bf, 'bf16'))),
                ('unused', None)]))
    # w_avg: a float64 buffer at offset 2 of a 9-element storage.
    big = rng.standard_normal(9)
    exp.append(('mapping.w_avg', big[2:7]))
    mapping = Persistent('MappingNetwork', module_state(
        buffers=[('w_avg', Tensor(Storage(big, np.float64), 2, (5,), (1,)))],
        modules=[('fc0', fc0), ('fc1', fc1)],
        _init_kwargs=EasyDict(z_dim=3, c_dim=0, w_dim=5, num_ws=4, num_layers=2)))

    def conv(prefix, cout, cin, k=3):
        v = f32(rng.standard_normal((cout, cin, k, k)))
        exp.append((prefix + '.weight', v))
        return Persistent('SynthesisLayer', module_state(params=[('weight', Parameter(tensor(v)))]))

    const = f32(rng.standard_normal((6, 4, 4)))
    exp.append(('synthesis.b4.const', const))
    b4_state = dict(params=[('const', Parameter(tensor(const)))])
    b4_modules = [('conv1', conv('synthesis.b4.conv1', 6, 6)), ('torgb', conv('synthesis.b4.torgb', 3, 6, 1))]
    b4 = Persistent('SynthesisBlock', module_state(modules=b4_modules, **b4_state))

    # b8: a persistent buffer sharing one storage with a non-persistent one, a plain torch module
    # child holding an int64 buffer, and a None child.
    shared = Storage(f32(np.arange(20) * 0.5))
    filt = Tensor(shared, 4, (4, 4), (4, 1))
    exp.append(('synthesis.b8.resample_filter', f32(np.arange(20) * 0.5)[4:20].reshape(4, 4)))
    scratch = Tensor(shared, 0, (2, 2), (1, 2))
    b8_conv0 = conv('synthesis.b8.conv0', 4, 6)
    b8_conv1 = conv('synthesis.b8.conv1', 4, 4)
    b8_torgb = conv('synthesis.b8.torgb', 3, 4, 1)
    plain = Sequential()
    counter = np.array([[7, -3, 2 ** 40]], dtype=np.int64)
    plain.__dict__.update(module_state(buffers=[('counter', tensor(counter, np.int64))]))
    b8 = Persistent('SynthesisBlock', module_state(
        buffers=[('resample_filter', filt), ('scratch', scratch)], non_persistent=['scratch'],
        modules=[('conv0', b8_conv0), ('conv1', b8_conv1), ('torgb', b8_torgb), ('extra', plain), ('gone', None)]))
    exp.append(('synthesis.b8.extra.counter', counter.astype(np.float32)))
    synthesis = Persistent('SynthesisNetwork', module_state(modules=[('b4', b4), ('b8', b8)]))
    # torch's order: own params, own buffers, then children in registration order.
    order = [n for n, _ in exp]
    syn = [n for n in order if n.startswith('synthesis.')]
    mp = [n for n in order if n.startswith('mapping.')]
    mp = ['mapping.w_avg'] + [n for n in mp if n != 'mapping.w_avg']
    b4n = [n for n in syn if n.startswith('synthesis.b4.')]
    b8n = ['synthesis.b8.resample_filter'] + [n for n in syn if n.startswith('synthesis.b8.') and n != 'synthesis.b8.resample_filter']
    vals = dict(exp)
    return synthesis, mapping, [(n, vals[n]) for n in b4n + b8n + mp]


synthesis, mapping, g_expected = build_generator_modules()
G = Persistent('Generator', module_state(
    modules=[('synthesis', synthesis), ('mapping', mapping)], z_dim=3, w_dim=5,
    _init_args=(3,), _init_kwargs=EasyDict(
        c_dim=0, w_dim=5, img_resolution=8, img_channels=3, mapping_kwargs=EasyDict(num_layers=2),
        synthesis_kwargs=EasyDict(channel_base=32, channel_max=6, num_fp16_res=0, conv_clamp=256),
        architecture='skip', fused_modconv_default='inference_only')))  # flat, as in the stylegan3 repo
# The same child modules again (memo references), without any recorded constructor arguments.
G_noargs = Persistent('Generator', module_state(modules=[('synthesis', synthesis), ('mapping', mapping)]))
D = Persistent('Discriminator', module_state(
    # 'viewed' lives in a legacy storage *view* (view_metadata = (key, offset 3, size 4)) of a
    # 10-element root storage, so it holds [[3, 4], [5, 6]].
    params=[('scale', Parameter(tensor(f32([2.0, 3.0])))),
            ('viewed', Parameter(Tensor(Storage(f32(np.arange(10)), view=('view-key', 3, 4)), 0, (2, 2), (2, 1))))],
    _init_kwargs=dict(c_dim=0, img_resolution=8, img_channels=3, architecture='resnet'),
    gain=np.float32(1.25), steps=np.int64(-7), flag=np.bool_(True)))
# Recorded arguments that contradict the tensors (w_dim 7, channel_max 8).
G_bad = Persistent('Generator', module_state(
    modules=[('synthesis', synthesis), ('mapping', mapping)],
    _init_kwargs=dict(z_dim=3, c_dim=0, w_dim=7, img_resolution=8, img_channels=3,
                      mapping_kwargs=dict(num_layers=2), channel_base=32, channel_max=8)))
snapshot = dict(G=G, D=D, G_noargs=G_noargs, G_bad=G_bad, augment_pipe=None,
                training_set_kwargs=EasyDict(path='scenes.zip', resolution=8, use_labels=False))

for proto in (2, 4, 5):
    with open(os.path.join(HERE, f'pickle_synthetic_p{proto}.pkl'), 'wb') as f:
        pickle.dump(snapshot, f, protocol=proto)


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {'__metadata__': metadata}, [], 0
    for name, v in tensors:
        b = f32(v).tobytes()
        header[name] = dict(dtype='F32', shape=list(np.shape(v)), data_offsets=[off, off + len(b)])
        blobs.append(b); off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h); f.write(b''.join(blobs))


write_safetensors(os.path.join(HERE, 'pickle_synthetic_expected.safetensors'), g_expected,
                  {'order': json.dumps([n for n, _ in g_expected])})

# ---- plain values ------------------------------------------------------------------------------
shared_list = [1, 2]
values = dict(ints=[0, 1, -1, 255, 256, 65535, 65536, -2 ** 31, 2 ** 31, 2 ** 62, -2 ** 63, 2 ** 63 - 1],
              big=2 ** 80 + 5, floats=[0.5, -1e-300, 1e300, 3.141592653589793],
              text='héllo ✓', long_text='x' * 300, raw=b'\x00\x01\xfe', flags=(True, False, None),
              nested=[(1, (2, (3,))), {'k': [shared_list, shared_list]}], empty=((), [], {}),
              a_set={3}, a_frozenset=frozenset({4}), odict=collections.OrderedDict([('b', 1), ('a', 2)]),
              int_keys={1: 'one', 2: 'two'})
for proto in (2, 4):
    with open(os.path.join(HERE, f'pickle_values_p{proto}.pkl'), 'wb') as f:
        pickle.dump(values, f, protocol=proto)

# A big-endian float32 numpy scalar (numpy writes native order; patch the dtype state and bytes).
be = pickle.dumps(np.float32(1.25), protocol=4)
assert be.count(b'\x8c\x01<') == 1 and be.count(b'\x00\x00\xa0?') == 1
be = be.replace(b'\x8c\x01<', b'\x8c\x01>').replace(b'\x00\x00\xa0?', b'?\xa0\x00\x00')
with open(os.path.join(HERE, 'pickle_numpy_bigendian.pkl'), 'wb') as f:
    f.write(be)

# ---- refused files -----------------------------------------------------------------------------


class Evil:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


def dump(name, obj, proto=4):
    with open(os.path.join(HERE, name), 'wb') as f:
        pickle.dump(obj, f, protocol=proto)


# os.system appears as posix.system on Linux; hidden inside an otherwise plausible snapshot.
dump('pickle_os_system.pkl', dict(G=None, augment_pipe=None,
                                  training_set_kwargs={'path': Evil(os.system, 'touch ' + MARKER)}))
dump('pickle_builtins_eval.pkl', [Evil(eval, "__import__('os').system('touch %s')" % MARKER)], proto=2)
# A storage class may only appear inside the legacy storage bytes, not in the snapshot itself.
dump('pickle_storage_global.pkl', dict(G=storage_classes['FloatStorage']))
with open(os.path.join(HERE, 'pickle_unknown_opcode.pkl'), 'wb') as f:
    f.write(b'\x80\x04K\x07\xa5.')                               # PROTO 4, BININT1 7, 0xa5, STOP
with open(os.path.join(HERE, 'pickle_truncated.pkl'), 'wb') as f:
    f.write(open(os.path.join(HERE, 'pickle_synthetic_p4.pkl'), 'rb').read()[:700])
with open(os.path.join(HERE, 'pickle_not_a_pickle.pkl'), 'wb') as f:
    f.write(b'PK\x03\x04 this is a zip header, not a pickle\n')
with open(os.path.join(HERE, 'pickle_huge_length.pkl'), 'wb') as f:
    f.write(b'\x80\x04\x8d' + struct.pack('<Q', 2 ** 62) + b'abc.')   # BINUNICODE8 of 2^62 bytes
with open(os.path.join(HERE, 'pickle_huge_bytes.pkl'), 'wb') as f:
    f.write(b'\x80\x03B' + struct.pack('<I', 0xFFFFFFF0) + b'abc.')   # BINBYTES of ~4 GB
print('wrote fixtures to', HERE)
