#pragma once
#include <cblas.h>
// OpenBLAS thread-pool control (not part of the cblas standard header on every build).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// LAPACK (OpenBLAS ships it): symmetric eigen-decomposition, divide and conquer, column-major.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);
