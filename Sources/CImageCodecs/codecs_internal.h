#pragma once
#include <stdarg.h>
#include <stdio.h>
#include "CImageCodecs.h"

/// Formats a one-line message into the caller's buffer (safe for NULL/0-sized buffers).
void llc_set_message(char *message, size_t messageSize, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

int llc_png_decode(const uint8_t *data, size_t size, uint64_t maxPixels, int decodePixels,
                   llc_image_info *info, llc_pixels *out, char *message, size_t messageSize);
int llc_jpeg_decode(const uint8_t *data, size_t size, uint64_t maxPixels, int decodePixels,
                    llc_image_info *info, llc_pixels *out, char *message, size_t messageSize);
