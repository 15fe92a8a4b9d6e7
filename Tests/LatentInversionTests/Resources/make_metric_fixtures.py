"""Offline generator of metrics_fixtures.json (run by hand; the Swift tests never call Python).

Images are formula-defined (float64, then rounded to float32) so Swift rebuilds them exactly:
  x[n,c,i,j] = 0.6 sin(0.21 i + 0.17 j + 1.3 c + 0.7 n) + 0.3 sin(1.7 (i W + j) + 0.5 c)
  y[n,c,i,j] = 0.8 x + 0.15 sin(2.3 i - 0.9 j + 0.4 c + n) + 0.05        (x before rounding)
in [-1, 1]; metrics are computed on (v + 1) / 2.

SSIM expectations come from scikit-image (structural_similarity, Wang et al. settings) and
from a numpy transcription of pytorch_msssim's `_ssim` (valid-window mean); MS-SSIM from a numpy
transcription of pytorch_msssim's `ms_ssim` (and, for images under 161 px, the same with the
truncated-window policy documented in MSSSIM+Pyramid.swift).
"""
import json
import numpy as np
from skimage.metrics import structural_similarity

def images(n, c, h, w):
    i = np.arange(h)[None, None, :, None].astype(np.float64)
    j = np.arange(w)[None, None, None, :].astype(np.float64)
    cc = np.arange(c)[None, :, None, None].astype(np.float64)
    nn = np.arange(n)[:, None, None, None].astype(np.float64)
    x = 0.6 * np.sin(0.21 * i + 0.17 * j + 1.3 * cc + 0.7 * nn) + 0.3 * np.sin(1.7 * (i * w + j) + 0.5 * cc)
    y = 0.8 * x + 0.15 * np.sin(2.3 * i - 0.9 * j + 0.4 * cc + nn) + 0.05
    return x.astype(np.float32), y.astype(np.float32)

def gauss(size, sigma):
    r = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-r ** 2 / (2 * sigma ** 2))
    return g / g.sum()

def filt(p, g):  # valid separable filter of a 2-D plane
    k = len(g)
    t = sum(g[j] * p[:, j:p.shape[1] - k + 1 + j] for j in range(k))
    return sum(g[i] * t[i:t.shape[0] - k + 1 + i, :] for i in range(k))

def ssim_plane(x, y, g, C1=1e-4, C2=9e-4):
    mx, my = filt(x, g), filt(y, g)
    sxx = filt(x * x, g) - mx ** 2
    syy = filt(y * y, g) - my ** 2
    sxy = filt(x * y, g) - mx * my
    cs = (2 * sxy + C2) / (sxx + syy + C2)
    l = (2 * mx * my + C1) / (mx ** 2 + my ** 2 + C1)
    return (l * cs).mean(), cs.mean()

def pool(p):  # F.avg_pool2d(kernel 2, padding=(h%2, w%2)), count_include_pad
    ph, pw = p.shape[0] % 2, p.shape[1] % 2
    q = np.pad(p, ((ph, ph), (pw, pw)))
    oh, ow = (q.shape[0] - 2) // 2 + 1, (q.shape[1] - 2) // 2 + 1
    q = q[:2 * oh, :2 * ow]
    return 0.25 * (q[0::2, 0::2] + q[1::2, 0::2] + q[0::2, 1::2] + q[1::2, 1::2])

def window_for(h, w, truncate):
    side = min(h, w)
    if side >= 11:
        return gauss(11, 1.5)
    assert truncate, "standard MS-SSIM needs > 160 px"
    return gauss(side if side % 2 else side - 1, 1.5)

def ms_ssim_plane(x, y, truncate):
    wts = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    vals = []
    for s in range(5):
        ss, cs = ssim_plane(x, y, window_for(*x.shape, truncate))
        vals.append(max(cs, 0) if s < 4 else max(ss, 0))
        if s < 4:
            x, y = pool(x), pool(y)
    return float(np.prod([v ** w for v, w in zip(vals, wts)]))

def unit(v):
    return (v.astype(np.float64) + 1) / 2

out = {}
# SSIM on odd sizes.
x, y = images(2, 3, 37, 45)
xs, ys = unit(x), unit(y)
sk = [float(np.mean([structural_similarity(xs[n, c], ys[n, c], gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False, data_range=1.0)
                     for c in range(3)])) for n in range(2)]
ours = [float(np.mean([ssim_plane(xs[n, c], ys[n, c], gauss(11, 1.5))[0] for c in range(3)])) for n in range(2)]
assert max(abs(a - b) for a, b in zip(sk, ours)) < 1e-9, (sk, ours)
out["ssim_2x3x37x45"] = sk
out["mse_2x3x37x45"] = [float(np.mean((xs[n] - ys[n]) ** 2)) for n in range(2)]
# MS-SSIM, standard (> 160 px).
x, y = images(1, 3, 163, 170)
xs, ys = unit(x), unit(y)
out["msssim_1x3x163x170"] = [float(np.mean([ms_ssim_plane(xs[0, c], ys[0, c], False) for c in range(3)]))]
out["ssim_1x3x163x170"] = [float(np.mean([structural_similarity(xs[0, c], ys[0, c], gaussian_weights=True, sigma=1.5,
                                                                 use_sample_covariance=False, data_range=1.0)
                                           for c in range(3)]))]
# MS-SSIM at 64x64 with the truncated-window policy.
x, y = images(2, 3, 64, 64)
xs, ys = unit(x), unit(y)
out["msssim_truncate_2x3x64x64"] = [float(np.mean([ms_ssim_plane(xs[n, c], ys[n, c], True) for c in range(3)])) for n in range(2)]
out["ssim_2x3x64x64"] = [float(np.mean([structural_similarity(xs[n, c], ys[n, c], gaussian_weights=True, sigma=1.5,
                                                               use_sample_covariance=False, data_range=1.0)
                                         for c in range(3)])) for n in range(2)]
json.dump(out, open("metrics_fixtures.json", "w"), indent=1)
print(json.dumps(out, indent=1))
