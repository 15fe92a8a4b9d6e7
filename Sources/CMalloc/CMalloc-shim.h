#pragma once
// glibc's allocator tuning (mallopt), part of libc: no library to link.
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
