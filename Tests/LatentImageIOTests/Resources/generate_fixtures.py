#!/usr/bin/env python3
"""Regenerates the image fixtures in this folder (run offline; tests never call Python).

Needs numpy and Pillow (`pip install pillow`), ImageMagick's `convert`, and gcc with the libjpeg
headers (for the YCCK file, which neither Pillow nor ImageMagick writes).

PNGs are written by the small encoder below so every colour type, bit depth, palette, tRNS,
Adam7 pass and eXIf chunk is exactly what the test expects; the pixel values follow the formulas
that `ImageDecodingTests.swift` recomputes (keep the two in sync). JPEGs are made by Pillow
(libjpeg-turbo) and ImageMagick from flat 8×8 or 16×16 colour blocks, so their decoded colours
are known up to JPEG's small error; `*_expected.png` holds Pillow's own decode of a JPEG for a
tighter comparison.
"""
import os
import struct
import subprocess
import tempfile
import zlib

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 13, 7  # odd sizes for every PNG pattern


def path(name):
    return os.path.join(HERE, name)


# ---------------------------------------------------------------- patterns (mirrored in Swift)
def p8(x, y, c):
    return (x * 37 + y * 71 + c * 101) % 256


def p16(x, y, c):
    return (x * 4099 + y * 11003 + c * 20011) % 65536


def gray8(x, y):
    return (x * 29 + y * 53) % 256


def alpha8(x, y):
    return (x * 61 + y * 17 + 5) % 256


def alpha16(x, y):
    return (x * 5003 + y * 7919 + 11) % 65536


def palette_index(x, y, n):
    return (x + 3 * y) % n


PALETTE = [((i * 13) % 256, (i * 57) % 256, (i * 91) % 256) for i in range(20)]
PALETTE_ALPHA = [(i * 25) % 256 for i in range(10)]  # tRNS for the first 10 entries


# ---------------------------------------------------------------- minimal PNG encoder
def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def pack_row(samples, depth):
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in samples)
    if depth == 8:
        return bytes(samples)
    per_byte = 8 // depth
    out = bytearray()
    for i in range(0, len(samples), per_byte):
        b = 0
        group = samples[i:i + per_byte]
        for k, v in enumerate(group):
            b |= v << (8 - depth * (k + 1))
        out.append(b)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, width, height, depth, color_type, pixel, palette=None, trns=None,
              interlace=False, exif=None, exif_after_idat=False):
    """pixel(x, y) -> tuple of samples for one pixel."""
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for (x0, y0, dx, dy) in passes:
        xs = list(range(x0, width, dx))
        ys = list(range(y0, height, dy))
        if not xs or not ys:
            continue
        for y in ys:
            samples = [s for x in xs for s in pixel(x, y)]
            raw += b"\x00" + pack_row(samples, depth)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if palette is not None:
        data += chunk(b"PLTE", bytes(v for rgb in palette for v in rgb))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    if exif is not None and not exif_after_idat:
        data += chunk(b"eXIf", exif)
    data += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    if exif is not None and exif_after_idat:
        data += chunk(b"eXIf", exif)
    data += chunk(b"IEND", b"")
    with open(path(name), "wb") as f:
        f.write(data)
    return data


def exif_orientation_block(orientation, little_endian=True):
    """A TIFF structure with one IFD holding the Orientation tag (0x0112, SHORT)."""
    e = "<" if little_endian else ">"
    head = (b"II*\x00" if little_endian else b"MM\x00*") + struct.pack(e + "I", 8)
    ifd = struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(e + "I", 0)
    return head + ifd


def make_pngs():
    rgb8 = write_png("rgb8.png", W, H, 8, 2, lambda x, y: (p8(x, y, 0), p8(x, y, 1), p8(x, y, 2)))
    write_png("rgb16.png", W, H, 16, 2, lambda x, y: (p16(x, y, 0), p16(x, y, 1), p16(x, y, 2)))
    write_png("rgba8.png", W, H, 8, 6, lambda x, y: (p8(x, y, 0), p8(x, y, 1), p8(x, y, 2), alpha8(x, y)))
    write_png("rgba16.png", W, H, 16, 6, lambda x, y: (p16(x, y, 0), p16(x, y, 1), p16(x, y, 2), alpha16(x, y)))
    write_png("gray8.png", W, H, 8, 0, lambda x, y: (gray8(x, y),))
    write_png("gray16.png", W, H, 16, 0, lambda x, y: (p16(x, y, 0),))
    write_png("gray1.png", W, H, 1, 0, lambda x, y: ((x + y) % 2,))
    write_png("gray4.png", W, H, 4, 0, lambda x, y: ((x + 2 * y) % 16,))
    write_png("graya8.png", W, H, 8, 4, lambda x, y: (gray8(x, y), alpha8(x, y)))
    write_png("graya16.png", W, H, 16, 4, lambda x, y: (p16(x, y, 0), alpha16(x, y)))
    write_png("palette8_trns.png", W, H, 8, 3, lambda x, y: (palette_index(x, y, 20),),
              palette=PALETTE, trns=bytes(PALETTE_ALPHA))
    write_png("palette4.png", W, H, 4, 3, lambda x, y: (palette_index(x, y, 16),), palette=PALETTE[:16])
    # gray8 with tRNS: samples equal to 53 (= gray8(0, 1)) are fully transparent.
    write_png("gray8_trns.png", W, H, 8, 0, lambda x, y: (gray8(x, y),), trns=struct.pack(">H", 53))
    # RGB with tRNS colour p8(2, 3, ·).
    key = tuple(p8(2, 3, c) for c in range(3))
    write_png("rgb8_trns.png", W, H, 8, 2, lambda x, y: (p8(x, y, 0), p8(x, y, 1), p8(x, y, 2)),
              trns=struct.pack(">HHH", *key))
    write_png("interlaced_rgb8.png", W, H, 8, 2, lambda x, y: (p8(x, y, 0), p8(x, y, 1), p8(x, y, 2)), interlace=True)
    write_png("interlaced_graya16.png", W, H, 16, 4, lambda x, y: (p16(x, y, 0), alpha16(x, y)), interlace=True)
    write_png("interlaced_palette2.png", W, H, 2, 3, lambda x, y: (palette_index(x, y, 4),),
              palette=PALETTE[:4], trns=bytes(PALETTE_ALPHA[:3]), interlace=True)
    write_png("exif6.png", W, H, 8, 2, lambda x, y: (p8(x, y, 0), p8(x, y, 1), p8(x, y, 2)),
              exif=exif_orientation_block(6, little_endian=False))
    write_png("exif8_late.png", W, H, 8, 2, lambda x, y: (p8(x, y, 0), p8(x, y, 1), p8(x, y, 2)),
              exif=exif_orientation_block(8), exif_after_idat=True)

    # ---- broken PNGs
    idat = rgb8.index(b"IDAT")
    idat_len = struct.unpack(">I", rgb8[idat - 4:idat])[0]
    with open(path("truncated.png"), "wb") as f:  # cut in the middle of the IDAT data
        f.write(rgb8[:idat + 4 + idat_len // 2])
    with open(path("truncated_no_iend.png"), "wb") as f:  # all image data, no IEND
        f.write(rgb8[:-12])
    bad = bytearray(rgb8)
    bad[idat + 4 + idat_len // 2] ^= 0x55  # data changed, CRC not: libpng's CRC check
    with open(path("corrupt_crc.png"), "wb") as f:
        f.write(bytes(bad))
    # zlib garbage under a valid CRC: only the inflater can notice.
    garbage = bytes((i * 97 + 13) % 256 for i in range(40))
    data = (rgb8[:idat - 4] + chunk(b"IDAT", b"\x78\x9c" + garbage) + chunk(b"IEND", b""))
    with open(path("corrupt_zlib.png"), "wb") as f:
        f.write(data)
    bad_ihdr = bytearray(rgb8)
    bad_ihdr[8 + 8 + 12] ^= 0xFF  # a byte of IHDR's CRC
    with open(path("bad_ihdr_crc.png"), "wb") as f:
        f.write(bytes(bad_ihdr))
    # IHDR claims 60000×60000 RGB with a valid CRC: only the pixel limit stops it.
    huge = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    with open(path("huge_header.png"), "wb") as f:
        f.write(huge)


# ---------------------------------------------------------------- JPEGs
BLOCK_COLORS = [(200, 30, 40), (20, 180, 60), (30, 60, 210), (240, 220, 40), (120, 40, 160), (90, 200, 210)]


def blocks(cols, rows, block):
    img = np.zeros((rows * block, cols * block, 3), np.uint8)
    for r in range(rows):
        for c in range(cols):
            img[r * block:(r + 1) * block, c * block:(c + 1) * block] = BLOCK_COLORS[(r * cols + c) % len(BLOCK_COLORS)]
    return img


def save_expected(name, jpeg_name):
    im = Image.open(path(jpeg_name))
    im = ImageOps.exif_transpose(im)
    im.convert("RGB").save(path(name))


YCCK_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
/* make_ycck in.cmyk width height out.jpg: inverted (Adobe) CMYK bytes -> YCCK JPEG */
int main(int argc, char **argv) {
    int w = atoi(argv[2]), h = atoi(argv[3]);
    unsigned char *buf = malloc((size_t)w * h * 4);
    FILE *in = fopen(argv[1], "rb");
    if (fread(buf, 4, (size_t)w * h, in) != (size_t)w * h) return 1;
    fclose(in);
    struct jpeg_compress_struct c; struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e); jpeg_create_compress(&c);
    FILE *out = fopen(argv[4], "wb"); jpeg_stdio_dest(&c, out);
    c.image_width = w; c.image_height = h; c.input_components = 4; c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c); jpeg_set_colorspace(&c, JCS_YCCK); jpeg_set_quality(&c, 95, TRUE);
    for (int i = 0; i < c.num_components; i++) { c.comp_info[i].h_samp_factor = 1; c.comp_info[i].v_samp_factor = 1; }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) { JSAMPROW r = buf + (size_t)c.next_scanline * w * 4; jpeg_write_scanlines(&c, &r, 1); }
    jpeg_finish_compress(&c); fclose(out); return 0;
}
"""


def rgb_to_ink(img):
    """ImageMagick's RGB -> CMYK: K = 1 - max, C = (1 - R - K) / (1 - K); exact inverse of R = (1-C)(1-K)."""
    f = img.astype(np.float64) / 255
    k = 1 - f.max(axis=2)
    denom = np.where(k < 1, 1 - k, 1)
    cmy = (1 - f - k[..., None]) / denom[..., None]
    return np.round(np.concatenate([cmy, k[..., None]], axis=2) * 255).astype(np.uint8)


def make_jpegs():
    b16 = blocks(3, 2, 16)  # 48×32
    Image.fromarray(b16).save(path("blocks16.png"))
    im = Image.fromarray(b16)
    im.save(path("baseline444.jpg"), quality=95, subsampling=0)
    im.save(path("baseline420.jpg"), quality=90, subsampling=2)
    im.save(path("progressive.jpg"), quality=90, subsampling=2, progressive=True)
    im.convert("L").save(path("gray.jpg"), quality=95)
    for j in ["baseline420.jpg", "progressive.jpg"]:
        save_expected(j.replace(".jpg", "_expected.png"), j)

    # CMYK: Pillow stores inverted ink with an Adobe marker (K = 0 here: pure CMY).
    im.convert("CMYK").save(path("cmyk_pil.jpg"), quality=95, subsampling=0)
    # ImageMagick: K from max(R, G, B).
    subprocess.run(["convert", path("blocks16.png"), "-colorspace", "CMYK", "-quality", "95",
                    "-sampling-factor", "1x1", path("cmyk_im.jpg")], check=True)
    # YCCK (Adobe transform 2) through libjpeg directly.
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "make_ycck.c")
        exe = os.path.join(tmp, "make_ycck")
        with open(src, "w") as f:
            f.write(YCCK_SOURCE)
        subprocess.run(["gcc", "-O2", src, "-o", exe, "-ljpeg"], check=True)
        raw = os.path.join(tmp, "in.cmyk")
        (255 - rgb_to_ink(b16)).tofile(raw)  # Adobe convention: stored = 255 - ink
        subprocess.run([exe, raw, "48", "32", path("ycck.jpg")], check=True)

    # EXIF orientation: the stored image is the inverse transform of the upright 24×16 picture,
    # so every orient_N.jpg must decode to orient_upright.png.
    upright = Image.fromarray(blocks(3, 2, 8))
    upright.save(path("orient_upright.png"))
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
               7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}
    for o, t in inverse.items():
        stored = upright if t is None else upright.transpose(t)
        exif = Image.Exif()
        exif[0x0112] = o
        stored.save(path(f"orient_{o}.jpg"), quality=95, subsampling=0, exif=exif.tobytes())
        back = np.asarray(ImageOps.exif_transpose(Image.open(path(f"orient_{o}.jpg"))).convert("RGB")).astype(int)
        assert back.shape == (16, 24, 3), (o, back.shape)
        assert np.abs(back - np.asarray(upright).astype(int)).max() <= 8, o

    # ---- broken JPEGs
    base = open(path("baseline420.jpg"), "rb").read()
    prog = open(path("progressive.jpg"), "rb").read()
    with open(path("truncated.jpg"), "wb") as f:
        f.write(base[:int(len(base) * 0.6)])
    with open(path("truncated_progressive.jpg"), "wb") as f:
        f.write(prog[:int(len(prog) * 0.7)])
    with open(path("no_eoi.jpg"), "wb") as f:
        f.write(base[:-2])
    sos = base.index(b"\xff\xda")
    scan_start = sos + 2 + struct.unpack(">H", base[sos + 2:sos + 4])[0]
    middle = (scan_start + len(base) - 2) // 2
    with open(path("corrupt_scan.jpg"), "wb") as f:  # a stray marker inside the entropy-coded data
        f.write(base[:middle] + b"\xff\xd3" + base[middle:])
    sof = base.index(b"\xff\xc0")
    bad = bytearray(base)
    bad[sof + 5:sof + 7] = b"\x00\x00"  # image height 0
    with open(path("corrupt_header.jpg"), "wb") as f:
        f.write(bytes(bad))


def make_misc():
    open(path("empty.png"), "wb").close()
    with open(path("text.png"), "w") as f:
        f.write("This is a text file with a .png name, not an image.\n")
    rng = np.random.default_rng(1234)
    with open(path("garbage.bin"), "wb") as f:
        f.write(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    subprocess.run(["convert", "-size", "4x4", "xc:red", path("tiny.gif")], check=True)


def make_projector_reference():
    """NVIDIA projector.py's target preparation on shared/testdata/photos/chelsea.png (centre
    square crop, PIL LANCZOS to 32×32, uint8), for the preprocess test that runs when shared/ exists."""
    src = os.path.join(HERE, "../../../../shared/testdata/photos/chelsea.png")
    im = Image.open(src).convert("RGB")
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)).resize((32, 32), Image.LANCZOS)
    im.save(path("chelsea_center_lanczos32.png"))


if __name__ == "__main__":
    make_pngs()
    make_jpegs()
    make_misc()
    if os.path.exists(os.path.join(HERE, "../../../../shared/testdata/photos/chelsea.png")):
        make_projector_reference()
