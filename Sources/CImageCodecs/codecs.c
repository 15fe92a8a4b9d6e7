// Format dispatch, EXIF orientation parsing and shared helpers.
#include <stdlib.h>
#include <string.h>
#include "codecs_internal.h"

void llc_set_message(char *message, size_t messageSize, const char *format, ...) {
    if (!message || messageSize == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(message, messageSize, format, args);
    va_end(args);
    // Library messages occasionally carry newlines; the Swift error must stay one line.
    for (char *p = message; *p; p++) if (*p == '\n' || *p == '\r') *p = ' ';
}

void llc_free(void *p) { free(p); }

static const uint8_t pngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static int sniff(const uint8_t *data, size_t size) {
    if (size >= 8 && memcmp(data, pngSignature, 8) == 0) return LLC_FORMAT_PNG;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return LLC_FORMAT_JPEG;
    return 0;
}

static int run(const uint8_t *data, size_t size, uint64_t maxPixels, int decodePixels,
               llc_image_info *info, llc_pixels *out, char *message, size_t messageSize) {
    memset(info, 0, sizeof(*info));
    info->orientation = 1;
    if (out) memset(out, 0, sizeof(*out));
    if (message && messageSize) message[0] = 0;
    switch (sniff(data, size)) {
    case LLC_FORMAT_PNG:
        return llc_png_decode(data, size, maxPixels, decodePixels, info, out, message, messageSize);
    case LLC_FORMAT_JPEG:
        return llc_jpeg_decode(data, size, maxPixels, decodePixels, info, out, message, messageSize);
    default:
        llc_set_message(message, messageSize, "not a PNG or JPEG file (unrecognised signature)");
        return LLC_ERR_UNKNOWN_FORMAT;
    }
}

int llc_probe(const uint8_t *data, size_t size, llc_image_info *info, char *message, size_t messageSize) {
    return run(data, size, UINT64_MAX, 0, info, NULL, message, messageSize);
}

int llc_decode(const uint8_t *data, size_t size, uint64_t maxPixels,
               llc_image_info *info, llc_pixels *out, char *message, size_t messageSize) {
    return run(data, size, maxPixels, 1, info, out, message, messageSize);
}

// MARK: EXIF

static uint32_t rd16(const uint8_t *p, int le) { return le ? (uint32_t)(p[0] | p[1] << 8) : (uint32_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24)
              : ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

int llc_exif_orientation(const uint8_t *t, size_t n) {
    // Tolerate the "Exif\0\0" prefix that some PNG writers copy from JPEG APP1 segments.
    if (n >= 6 && memcmp(t, "Exif\0\0", 6) == 0) { t += 6; n -= 6; }
    if (n < 8) return 1;
    int le;
    if (t[0] == 'I' && t[1] == 'I' && t[2] == 42 && t[3] == 0) le = 1;
    else if (t[0] == 'M' && t[1] == 'M' && t[2] == 0 && t[3] == 42) le = 0;
    else return 1;
    uint64_t ifd = rd32(t + 4, le);
    if (ifd + 2 > n) return 1;
    uint32_t count = rd16(t + ifd, le);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t off = ifd + 2 + 12 * (uint64_t)i;
        if (off + 12 > n) break;
        if (rd16(t + off, le) != 0x0112) continue;
        uint32_t type = rd16(t + off + 2, le), cnt = rd32(t + off + 4, le);
        uint32_t v = 0;
        if (type == 3 && cnt >= 1) v = rd16(t + off + 8, le);        // SHORT, the standard type
        else if (type == 4 && cnt >= 1) v = rd32(t + off + 8, le);   // LONG, seen in the wild
        return (v >= 1 && v <= 8) ? (int)v : 1;
    }
    return 1;
}
