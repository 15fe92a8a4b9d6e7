"""Makes numpy_randn_seeds.npz for the CLI tests (run once, offline; tests never run Python).

z for seeds 0 and 3 exactly as NVIDIA's gen_images.py draws them:
np.random.RandomState(seed).randn(1, 512), stored as float32 under the key 'z'.
"""
import numpy as np

z = np.concatenate([np.random.RandomState(s).randn(1, 512) for s in (0, 3)]).astype(np.float32)
np.savez("numpy_randn_seeds.npz", z=z)
print(z[:, :4])
