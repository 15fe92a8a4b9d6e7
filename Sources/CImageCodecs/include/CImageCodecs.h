#pragma once
#include <stddef.h>
#include <stdint.h>
/// C entry points for libjpeg/libpng paths that need setjmp/longjmp error handling.
/// (Filled in by the image I/O work; returns 0 on success, non-zero with a message otherwise.)
int latentlab_codecs_version(void);
