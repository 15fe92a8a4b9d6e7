#pragma once
#include <stddef.h>
#include <stdint.h>

/// C entry points for PNG (libpng) and JPEG (libjpeg-turbo) decoding and encoding.
///
/// Both libraries report fatal errors through a callback that must not return; Swift cannot
/// call setjmp, so every library call is made here under setjmp/longjmp and turned into a
/// status code plus a one-line message. Decoding never applies EXIF orientation or alpha
/// compositing: it returns the stored samples and the facts needed to do that in Swift.

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes (0 = success).
enum {
    LLC_OK = 0,
    LLC_ERR_UNKNOWN_FORMAT = 1, ///< neither PNG nor JPEG signature
    LLC_ERR_CORRUPT = 2,        ///< the library rejected the data (bad CRC, bad Huffman code, ...)
    LLC_ERR_TRUNCATED = 3,      ///< the data ends before the image does
    LLC_ERR_TOO_LARGE = 4,      ///< width*height over the caller's pixel limit (checked from the header)
    LLC_ERR_NO_MEMORY = 5,
    LLC_ERR_UNSUPPORTED = 6,    ///< valid file the decoder cannot convert (e.g. 12-bit JPEG)
    LLC_ERR_ARGUMENT = 7        ///< bad arguments to an encoder
};

enum { LLC_FORMAT_PNG = 1, LLC_FORMAT_JPEG = 2 };

/// Facts from the file header (PNG IHDR/tRNS/eXIf, JPEG SOF/APP1/APP14).
typedef struct {
    int format;        ///< LLC_FORMAT_PNG or LLC_FORMAT_JPEG
    int width;         ///< as stored, before EXIF orientation
    int height;
    int channels;      ///< samples per pixel in the file (PNG palette: 1; JPEG CMYK/YCCK: 4)
    int bitDepth;      ///< bits per sample in the file (PNG 1..16, JPEG 8 or 12)
    int colorType;     ///< PNG colour type (0,2,3,4,6) or libjpeg J_COLOR_SPACE of the file
    int hasAlpha;      ///< alpha channel or a tRNS chunk
    int interlaced;    ///< PNG Adam7 or progressive JPEG
    int orientation;   ///< EXIF orientation 1..8 (1 when absent or invalid)
    int adobeMarker;   ///< JPEG: an Adobe APP14 marker was seen (CMYK stored inverted)
    char colorDescription[40];
} llc_image_info;

/// Decoded samples, interleaved, rows top to bottom, in the stored orientation.
typedef struct {
    void *pixels;       ///< malloc'd; free with llc_free
    int width;
    int height;
    int channels;       ///< 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA, or 4 CMYK when isCMYK
    int bytesPerSample; ///< 1 (uint8) or 2 (uint16, host byte order)
    int isCMYK;         ///< JPEG CMYK/YCCK output (YCCK already converted to CMYK by libjpeg)
} llc_pixels;

/// Reads only the header. Returns a status; on failure `message` holds one line.
int llc_probe(const uint8_t *data, size_t size, llc_image_info *info,
              char *message, size_t messageSize);

/// Decodes the whole image. Refuses (LLC_ERR_TOO_LARGE) before allocating when
/// width*height > maxPixels. PNG: palette and tRNS are expanded to RGB(A)/gray+alpha,
/// 1/2/4-bit gray to 8 bits, 16-bit samples are kept. JPEG: gray stays gray, YCbCr becomes
/// RGB, CMYK/YCCK become CMYK. Any libjpeg warning about damaged or missing data is an error.
int llc_decode(const uint8_t *data, size_t size, uint64_t maxPixels,
               llc_image_info *info, llc_pixels *out, char *message, size_t messageSize);

/// 8-bit PNG of interleaved samples (channels 1 = gray, 3 = RGB). *outData is malloc'd.
int llc_encode_png(const uint8_t *pixels, int width, int height, int channels,
                   uint8_t **outData, size_t *outSize, char *message, size_t messageSize);

/// Baseline JPEG (4:4:4, optimised Huffman tables) of interleaved 8-bit samples
/// (channels 1 = gray, 3 = RGB), quality 1...100. *outData is malloc'd.
int llc_encode_jpeg(const uint8_t *pixels, int width, int height, int channels, int quality,
                    uint8_t **outData, size_t *outSize, char *message, size_t messageSize);

/// EXIF orientation (1..8) from a TIFF-structured EXIF block (starting at "II*\0" or
/// "MM\0*"); returns 1 when the tag is missing, malformed or out of range.
int llc_exif_orientation(const uint8_t *tiff, size_t size);

void llc_free(void *p);

#ifdef __cplusplus
}
#endif
