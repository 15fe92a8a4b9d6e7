"""Regenerates the LatentFormatsTests fixtures (run once by hand; tests never run Python).

    python3 make_fixtures.py            # needs numpy; `pip install safetensors` for the .safetensors file

Values are dyadic rationals (exact in every float type used) given by formulas that the Swift
tests recompute, so the tests check the bytes numpy and the reference safetensors writer produce.
"""
import os
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def ramp(n, scale=0.125, offset=-7):
    """(i + offset) * scale + i*i / 1024: exact in float16/32/64 for small i."""
    i = np.arange(n, dtype=np.float64)
    return (i + offset) * scale + i * i / 1024


def arrays():
    return {
        "b1": np.array([True, False, True, True, False]),
        "u1": np.arange(7, dtype=np.uint8) * 37,
        "i1": (np.arange(6, dtype=np.int8) - 3) * 40,
        "i2": ((np.arange(6, dtype=np.int16) - 3) * 9000).reshape(2, 3),
        "i4": ((np.arange(15, dtype=np.int64) - 7) * 123456789).astype(np.int32).reshape(3, 5),
        "i8": ((np.arange(4, dtype=np.int64) - 2) * (2 ** 40 + 3)).reshape(4, 1),
        "f2": ramp(10).astype(np.float16).reshape(2, 5),
        "f4": ramp(30).astype(np.float32).reshape(2, 3, 5),
        "f8": np.array([1 / 3, -2.5, 0.1, 1e300]),
        "scalar": np.array(2.75, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def main():
    a = arrays()
    np.save(os.path.join(HERE, "numpy_f4.npy"), a["f4"])
    np.save(os.path.join(HERE, "numpy_scalar.npy"), a["scalar"])
    # Fortran order: the (3, 4, 2) float64 array ramp(24) reshaped in C order, stored column-major.
    np.save(os.path.join(HERE, "numpy_fortran.npy"), np.asfortranarray(ramp(24).reshape(3, 4, 2)))
    # Big-endian int32.
    np.save(os.path.join(HERE, "numpy_bigendian.npy"), a["i4"].astype(">i4"))
    for version in [(2, 0), (3, 0)]:
        with open(os.path.join(HERE, "numpy_v%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, a["f4"], version=version)
    np.savez(os.path.join(HERE, "numpy_savez.npz"), **a)
    np.savez_compressed(os.path.join(HERE, "numpy_savez_compressed.npz"), **a)
    # Force zip64 central-directory fields and end records on a small file.
    limit, count_limit = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        np.savez_compressed(os.path.join(HERE, "numpy_zip64.npz"), f4=a["f4"], i8=a["i8"])
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = limit, count_limit

    try:
        from safetensors.numpy import save_file
    except ImportError:
        print("safetensors not installed: skipping reference_writer.safetensors")
        return
    tensors = {
        "w": a["f4"].reshape(6, 5),
        "bias": ramp(5, 0.5, -2).astype(np.float32),
        "ids": a["i8"].reshape(2, 2),
        "tokens": np.array([49406, 320, 1929, 49407], dtype=np.int32),
        "half": a["f2"],
        "double": a["f8"][:3].copy(),
        "bytes": a["u1"],
        "zero": np.zeros((0,), dtype=np.float32),
    }
    # The reference writer keeps metadata in insertion order; insert sorted (the Swift writer sorts).
    metadata = {"config": '{"z_dim": 4, "mapping_kwargs": {"num_layers": 2}, "conv_clamp": null}',
                "format": "test \u00e9\n\"quoted\"/"}
    save_file(tensors, os.path.join(HERE, "reference_writer.safetensors"), metadata=metadata)


if __name__ == "__main__":
    main()
