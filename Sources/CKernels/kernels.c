// Dense × sparse-columns products (see CKernels.h), one body compiled for three instruction
// sets: AVX-512, AVX2 with FMA, and the baseline of the target. The choice is made once from
// the CPU's feature flags, so every call of one process uses the same arithmetic.
#include "CKernels.h"


// One kernel body: NAME, scalar type S, vector type V of W lanes, NACC accumulators per panel.
#define IDL_SPARSE_KERNEL(ATTR, NAME, S, V, W, NACC, MULADD)                                                     \
    ATTR static void NAME(long rows, const S *m, long ldm, const int32_t *starts, const int32_t *index,     \
                          const S *values, long col0, long col1, S beta, S *y, long ldy) {                \
        long i0 = 0;                                                                                       \
        for (; i0 + (NACC) * (W) <= rows; i0 += (NACC) * (W)) {                                            \
            const S *base = m + i0;                                                                        \
            for (long c = col0; c < col1; c++) {                                                           \
                V acc[NACC];                                                                               \
                for (int a = 0; a < (NACC); a++) acc[a] = (V){0};                                          \
                for (long e = starts[c]; e < starts[c + 1]; e++) {                                         \
                    const S *p = base + (long)index[e] * ldm;                                              \
                    V v = (V){0} + values[e];                                                              \
                    for (int a = 0; a < (NACC); a++) {                                                     \
                        V x;                                                                               \
                        __builtin_memcpy(&x, p + a * (W), sizeof x);                                                 \
                        acc[a] = MULADD(v, x, acc[a]);                                                                   \
                    }                                                                                      \
                }                                                                                          \
                S *q = y + i0 + (c - col0) * ldy;                                                          \
                for (int a = 0; a < (NACC); a++) {                                                         \
                    if (beta != 0) {                                                                       \
                        V old;                                                                             \
                        __builtin_memcpy(&old, q + a * (W), sizeof old);                                             \
                        acc[a] = MULADD((V){0} + beta, old, acc[a]);                                                              \
                    }                                                                                      \
                    __builtin_memcpy(q + a * (W), &acc[a], sizeof acc[a]);                                           \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (; i0 + (W) <= rows; i0 += (W)) {                                                              \
            const S *base = m + i0;                                                                        \
            for (long c = col0; c < col1; c++) {                                                           \
                V acc = (V){0};                                                                            \
                for (long e = starts[c]; e < starts[c + 1]; e++) {                                         \
                    V x;                                                                                   \
                    __builtin_memcpy(&x, base + (long)index[e] * ldm, sizeof x);                                     \
                    acc = MULADD((V){0} + values[e], x, acc);                                                       \
                }                                                                                          \
                S *q = y + i0 + (c - col0) * ldy;                                                          \
                if (beta != 0) {                                                                           \
                    V old;                                                                                 \
                    __builtin_memcpy(&old, q, sizeof old);                                                           \
                    acc = MULADD((V){0} + beta, old, acc);                                                                   \
                }                                                                                          \
                __builtin_memcpy(q, &acc, sizeof acc);                                                               \
            }                                                                                              \
        }                                                                                                  \
        for (; i0 < rows; i0++) {                                                                          \
            for (long c = col0; c < col1; c++) {                                                           \
                S acc = 0;                                                                                 \
                for (long e = starts[c]; e < starts[c + 1]; e++) acc = MULADD(values[e], m[i0 + (long)index[e] * ldm], acc); \
                S *q = y + i0 + (c - col0) * ldy;                                                          \
                if (beta != 0) acc = MULADD(beta, *q, acc);                                                          \
                *q = acc;                                                                                  \
            }                                                                                              \
        }                                                                                                  \
    }

// a·b + c: two roundings on the baseline (no FMA instruction there), one where FMA exists; the
// file is compiled with -ffp-contract=off, so nothing else is fused and every path of a kernel
// gives an entry the same bits.
#define IDL_MULADD_SEPARATE(a, b, c) ((c) + (a) * (b))
#define IDL_MULADD_FUSED(a, b, c) __builtin_elementwise_fma((a), (b), (c))

typedef double idl_v2d __attribute__((vector_size(16)));
typedef float idl_v4f __attribute__((vector_size(16)));
IDL_SPARSE_KERNEL(, base_f64, double, idl_v2d, 2, 8, IDL_MULADD_SEPARATE)
IDL_SPARSE_KERNEL(, base_f32, float, idl_v4f, 4, 8, IDL_MULADD_SEPARATE)

#if defined(__x86_64__)
typedef double idl_v4d __attribute__((vector_size(32)));
typedef float idl_v8f __attribute__((vector_size(32)));
typedef double idl_v8d __attribute__((vector_size(64)));
typedef float idl_v16f __attribute__((vector_size(64)));
IDL_SPARSE_KERNEL(__attribute__((target("avx2,fma"))), avx2_f64, double, idl_v4d, 4, 8, IDL_MULADD_FUSED)
IDL_SPARSE_KERNEL(__attribute__((target("avx2,fma"))), avx2_f32, float, idl_v8f, 8, 8, IDL_MULADD_FUSED)
IDL_SPARSE_KERNEL(__attribute__((target("avx512f,avx2,fma"))), avx512_f64, double, idl_v8d, 8, 8, IDL_MULADD_FUSED)
IDL_SPARSE_KERNEL(__attribute__((target("avx512f,avx2,fma"))), avx512_f32, float, idl_v16f, 16, 8, IDL_MULADD_FUSED)
#endif

// 0: not chosen yet, 1: baseline, 2: AVX2+FMA, 3: AVX-512. Every thread computes the same value;
// the first choice is published with atomic (relaxed) loads and stores, so threads that race on
// it read either 0 (and choose again, alike) or the final value, never a torn one.
static int idl_level = 0;

static int idl_choose(void) {
    int level = __atomic_load_n(&idl_level, __ATOMIC_RELAXED);
    if (level) return level;
    level = 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = 2;
    if (level == 2 && __builtin_cpu_supports("avx512f")) level = 3;
#endif
    __atomic_store_n(&idl_level, level, __ATOMIC_RELAXED);
    return level;
}

const char *idl_kernel_instruction_set(void) {
    switch (idl_choose()) {
    case 3: return "AVX-512";
    case 2: return "AVX2+FMA";
    default: return "baseline";
    }
}

// The public entry of one element type: the kernel of the chosen instruction set.
#if defined(__x86_64__)
#define IDL_PICK(BASE, AVX2, AVX512) (idl_choose() == 3 ? AVX512 : idl_choose() == 2 ? AVX2 : BASE)
#else
#define IDL_PICK(BASE, AVX2, AVX512) BASE
#endif
#define IDL_SPARSE_ENTRY(NAME, S, SUFFIX)                                                                     \
    void NAME(long rows, const S *m, long ldm, const int32_t *starts, const int32_t *index, const S *values,   \
              long col0, long col1, S beta, S *y, long ldy) {                                                  \
        IDL_PICK(base_##SUFFIX, avx2_##SUFFIX, avx512_##SUFFIX)(rows, m, ldm, starts, index, values, col0,     \
                                                                 col1, beta, y, ldy);                          \
    }

IDL_SPARSE_ENTRY(idl_dense_times_sparse_columns_f64, double, f64)
IDL_SPARSE_ENTRY(idl_dense_times_sparse_columns_f32, float, f32)
