// Reading and writing the x86 SSE control register (MXCSR) of the calling thread, to run a loop
// with subnormal numbers flushed to zero. Header-only; elsewhere the functions do nothing.
#ifndef IDL_FLOAT_ENVIRONMENT_H
#define IDL_FLOAT_ENVIRONMENT_H
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/// Sets flush-to-zero and denormals-are-zero; returns the previous control word.
static inline unsigned int idl_enter_flush_to_zero(void) {
    unsigned int previous = _mm_getcsr();
    _mm_setcsr(previous | 0x8040u);
    return previous;
}
/// Restores a control word returned by idl_enter_flush_to_zero.
static inline void idl_leave_flush_to_zero(unsigned int previous) { _mm_setcsr(previous); }
#else
static inline unsigned int idl_enter_flush_to_zero(void) { return 0; }
static inline void idl_leave_flush_to_zero(unsigned int previous) { (void)previous; }
#endif
#endif
