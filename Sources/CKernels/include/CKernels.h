// Compute kernels written in C so that they can use the vector instructions of the CPU they run
// on (chosen once, at the first call, from what the CPU reports — never from its vendor).
#ifndef IDL_CKERNELS_H
#define IDL_CKERNELS_H
#include <stdint.h>

/// Y ← M·S + β·Y for a dense column-major M (rows × inner, leading dimension ldm) and the
/// columns col0 ..< col1 of a sparse S in compressed-column form (column c's entries are
/// starts[c] ..< starts[c + 1], row indices `index`, values `values`); Y (rows × (col1 − col0),
/// leading dimension ldy). Each Y[i, c] is one accumulator summed over column c's entries in
/// stored order, so its bits depend only on M's row i, S's column c and the instruction set.
void idl_dense_times_sparse_columns_f64(
    long rows, const double *m, long ldm, const int32_t *starts, const int32_t *index, const double *values,
    long col0, long col1, double beta, double *y, long ldy);

/// The single-precision form of idl_dense_times_sparse_columns_f64.
void idl_dense_times_sparse_columns_f32(
    long rows, const float *m, long ldm, const int32_t *starts, const int32_t *index, const float *values,
    long col0, long col1, float beta, float *y, long ldy);

/// The instruction set the kernels use on this CPU: "AVX-512", "AVX2+FMA" or "baseline".
const char *idl_kernel_instruction_set(void);

#endif
