# Side-by-side reference timing (not part of the product, never a dependency): NVIDIA's official
# StyleGAN2 synthesis (NVlabs/stylegan3, training/networks_stylegan2.py) on the CPU, random weights at
# the official configs, batch 1, 2 threads; 'step' = forward + backward w.r.t. ws (noise buffers fixed).
#   python3 -m venv venv && venv/bin/pip install torch numpy requests scipy "setuptools<70"
#   git clone https://github.com/NVlabs/stylegan3 SG3
#   SG3=SG3 venv/bin/python Bench/reference/pytorch_synthesis_bench.py ffhq1024 2
import os, sys, time, resource, torch
sys.path.insert(0, os.environ.get('SG3', 'stylegan3'))
from training.networks_stylegan2 import Generator
cfg = {'scenes64': (64, 2048, 128), 'gan64': (64, 4096, 256), 'ffhq256': (256, 16384, 512), 'ffhq1024': (1024, 32768, 512)}
name = sys.argv[1]; iters = int(sys.argv[2]) if len(sys.argv) > 2 else 3
res, base, cmax = cfg[name]
torch.set_num_threads(2)
torch.manual_seed(0)
G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=res, img_channels=3,
              mapping_kwargs=dict(num_layers=8), channel_base=base, channel_max=cmax, num_fp16_res=0, conv_clamp=None).eval()
ws = G.mapping(torch.randn(1, 512), None).detach()
def fwd():
    with torch.no_grad():
        G.synthesis(ws, noise_mode='const', force_fp32=True)
R = None
def step():
    global R
    w = ws.clone().requires_grad_(True)
    img = G.synthesis(w, noise_mode='const', force_fp32=True)
    if R is None: R = torch.randn_like(img)
    (img * R).sum().backward()
def best(f, n):
    f()
    t = []
    for _ in range(n):
        s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
    return min(t) * 1000, sorted(t)[len(t) // 2] * 1000
bf, mf = best(fwd, iters); bs, ms = best(step, iters)
print(f"{name}: PyTorch {torch.__version__} fwd {bf:.1f} ms (median {mf:.1f}), step {bs:.1f} ms (median {ms:.1f}), peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB")
