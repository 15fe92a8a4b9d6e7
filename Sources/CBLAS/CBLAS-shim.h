#pragma once
#include <cblas.h>
// OpenBLAS thread-pool control (not part of the cblas standard header on every build).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
