// JPEG decode/encode through libjpeg(-turbo), with setjmp/longjmp error handling.
#include <stdio.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include "codecs_internal.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
    int code;          // status to return after longjmp
    int inImageData;   // past the header: every data warning now means a damaged image
    char text[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_err *err = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->text);
    int code = cinfo->err->msg_code;
    if (code == JERR_OUT_OF_MEMORY) err->code = LLC_ERR_NO_MEMORY;
    else if (code == JERR_BAD_PRECISION || code == JERR_CONVERSION_NOTIMPL) err->code = LLC_ERR_UNSUPPORTED;
    else if (code == JERR_INPUT_EMPTY || code == JERR_INPUT_EOF) err->code = LLC_ERR_TRUNCATED;
    else err->code = LLC_ERR_CORRUPT;
    longjmp(err->jmp, 1);
}

// libjpeg only *warns* about missing or damaged data and then fills the rest of the image
// with grey: accepting that would hand back a silently wrong image, so such warnings abort.
static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;  // trace messages
    jpeg_err *err = (jpeg_err *)cinfo->err;
    int code = cinfo->err->msg_code;
    switch (code) {
    case JWRN_JFIF_MAJOR:    // unknown JFIF version: the image data is unaffected
    case JWRN_ADOBE_XFORM:   // unknown transform code: libjpeg falls back to the standard rules
    case JWRN_BOGUS_ICC:     // we do not read ICC profiles
        cinfo->err->num_warnings++;
        return;
    case JWRN_EXTRANEOUS_DATA:
        // Padding between header segments is common and harmless; inside scan data it is not.
        if (!err->inImageData) { cinfo->err->num_warnings++; return; }
        break;
    default:
        break;
    }
    (*cinfo->err->format_message)(cinfo, err->text);
    err->code = code == JWRN_JPEG_EOF ? LLC_ERR_TRUNCATED : LLC_ERR_CORRUPT;
    longjmp(err->jmp, 1);
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void install_errors(jpeg_err *err) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = on_error_exit;
    err->pub.emit_message = on_emit_message;
    err->pub.output_message = on_output_message;
    err->code = LLC_OK;
    err->inImageData = 0;
    err->text[0] = 0;
}

static int orientation_from_markers(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 14 && memcmp(m->data, "Exif", 4) == 0)
            return llc_exif_orientation(m->data + 6, m->data_length - 6);
    }
    return 1;
}

static const char *color_name(J_COLOR_SPACE space, int adobe) {
    switch (space) {
    case JCS_GRAYSCALE: return "grayscale";
    case JCS_YCbCr: return "YCbCr";
    case JCS_RGB: return "RGB";
    case JCS_CMYK: return adobe ? "CMYK (Adobe, inverted)" : "CMYK";
    case JCS_YCCK: return adobe ? "YCCK (Adobe, inverted)" : "YCCK";
    default: return "unknown";
    }
}

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    uint8_t *volatile pixels;
} jpeg_dec_ctx;

int llc_jpeg_decode(const uint8_t *data, size_t size, uint64_t maxPixels, int decodePixels,
                    llc_image_info *info, llc_pixels *out, char *message, size_t messageSize) {
    jpeg_dec_ctx *ctx = calloc(1, sizeof(jpeg_dec_ctx));
    if (!ctx) { llc_set_message(message, messageSize, "out of memory"); return LLC_ERR_NO_MEMORY; }
    struct jpeg_decompress_struct *cinfo = &ctx->cinfo;
    install_errors(&ctx->err);
    cinfo->err = &ctx->err.pub;
    if (setjmp(ctx->err.jmp)) {
        int code = ctx->err.code;
        if (code == LLC_ERR_TRUNCATED)
            llc_set_message(message, messageSize, "truncated JPEG data (%s)", ctx->err.text);
        else
            llc_set_message(message, messageSize, "%s", ctx->err.text);
        jpeg_destroy_decompress(cinfo);
        free(ctx->pixels);
        free(ctx);
        if (out) out->pixels = NULL;
        return code == LLC_OK ? LLC_ERR_CORRUPT : code;
    }
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) {
        ctx->err.code = LLC_ERR_CORRUPT;
        snprintf(ctx->err.text, sizeof(ctx->err.text), "JPEG holds tables only, no image");
        longjmp(ctx->err.jmp, 1);
    }
    int adobe = cinfo->saw_Adobe_marker ? 1 : 0;
    info->format = LLC_FORMAT_JPEG;
    info->width = (int)cinfo->image_width;
    info->height = (int)cinfo->image_height;
    info->channels = cinfo->num_components;
    info->bitDepth = cinfo->data_precision;
    info->colorType = (int)cinfo->jpeg_color_space;
    info->hasAlpha = 0;
    info->interlaced = cinfo->progressive_mode ? 1 : 0;
    info->orientation = orientation_from_markers(cinfo);
    info->adobeMarker = adobe;
    snprintf(info->colorDescription, sizeof(info->colorDescription), "%s", color_name(cinfo->jpeg_color_space, adobe));

    if (!decodePixels) {
        jpeg_destroy_decompress(cinfo);
        free(ctx);
        return LLC_OK;
    }
    uint64_t pixels = (uint64_t)cinfo->image_width * cinfo->image_height;
    if (pixels > maxPixels) {
        llc_set_message(message, messageSize, "image is %u×%u = %llu pixels, over the limit of %llu (maxPixels)",
                        cinfo->image_width, cinfo->image_height, (unsigned long long)pixels,
                        (unsigned long long)maxPixels);
        jpeg_destroy_decompress(cinfo);
        free(ctx);
        return LLC_ERR_TOO_LARGE;
    }
    int isCMYK = 0;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; isCMYK = 1; break;
    default: cinfo->out_color_space = JCS_RGB; break;
    }
    ctx->err.inImageData = 1;
    jpeg_start_decompress(cinfo);
    size_t comps = (size_t)cinfo->output_components;
    size_t rowBytes = (size_t)cinfo->output_width * comps;
    ctx->pixels = malloc(rowBytes * cinfo->output_height);
    if (!ctx->pixels) {
        ctx->err.code = LLC_ERR_NO_MEMORY;
        snprintf(ctx->err.text, sizeof(ctx->err.text), "out of memory for the decoded image");
        longjmp(ctx->err.jmp, 1);
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = ctx->pixels + (size_t)cinfo->output_scanline * rowBytes;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            ctx->err.code = LLC_ERR_TRUNCATED;
            snprintf(ctx->err.text, sizeof(ctx->err.text), "decoder stopped at row %u", cinfo->output_scanline);
            longjmp(ctx->err.jmp, 1);
        }
    }
    // Reading up to EOI makes a file cut right after the last scan line an error too.
    jpeg_finish_decompress(cinfo);
    out->pixels = ctx->pixels;
    out->width = (int)cinfo->output_width;
    out->height = (int)cinfo->output_height;
    out->channels = (int)comps;
    out->bytesPerSample = 1;
    out->isCMYK = isCMYK;
    ctx->pixels = NULL;
    jpeg_destroy_decompress(cinfo);
    free(ctx);
    return LLC_OK;
}

// MARK: encoding

typedef struct {
    struct jpeg_compress_struct cinfo;
    jpeg_err err;
    unsigned char *buffer;
    unsigned long size;
} jpeg_enc_ctx;

int llc_encode_jpeg(const uint8_t *pixels, int width, int height, int channels, int quality,
                    uint8_t **outData, size_t *outSize, char *message, size_t messageSize) {
    *outData = NULL;
    *outSize = 0;
    if (width <= 0 || height <= 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION ||
        (channels != 1 && channels != 3) || quality < 1 || quality > 100) {
        llc_set_message(message, messageSize,
                        "cannot encode a %d×%d image with %d channels at quality %d as JPEG "
                        "(sides 1...%d, 1 or 3 channels, quality 1...100)",
                        width, height, channels, quality, (int)JPEG_MAX_DIMENSION);
        return LLC_ERR_ARGUMENT;
    }
    jpeg_enc_ctx *ctx = calloc(1, sizeof(jpeg_enc_ctx));
    if (!ctx) { llc_set_message(message, messageSize, "out of memory"); return LLC_ERR_NO_MEMORY; }
    struct jpeg_compress_struct *cinfo = &ctx->cinfo;
    install_errors(&ctx->err);
    cinfo->err = &ctx->err.pub;
    if (setjmp(ctx->err.jmp)) {
        llc_set_message(message, messageSize, "%s", ctx->err.text);
        jpeg_destroy_compress(cinfo);
        free(ctx->buffer);
        int code = ctx->err.code;
        free(ctx);
        return code == LLC_OK ? LLC_ERR_CORRUPT : code;
    }
    jpeg_create_compress(cinfo);
    jpeg_mem_dest(cinfo, &ctx->buffer, &ctx->size);
    cinfo->image_width = (JDIMENSION)width;
    cinfo->image_height = (JDIMENSION)height;
    cinfo->input_components = channels;
    cinfo->in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality, TRUE);
    cinfo->optimize_coding = TRUE;
    // No chroma subsampling: generated images are small and colour edges matter.
    for (int c = 0; c < cinfo->num_components; c++) {
        cinfo->comp_info[c].h_samp_factor = 1;
        cinfo->comp_info[c].v_samp_factor = 1;
    }
    jpeg_start_compress(cinfo, TRUE);
    while (cinfo->next_scanline < cinfo->image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo->next_scanline * width * channels);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    jpeg_destroy_compress(cinfo);
    *outData = ctx->buffer;
    *outSize = ctx->size;
    free(ctx);
    return LLC_OK;
}
