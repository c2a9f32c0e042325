/* Freezes the ABI 1.0 layout as seen from C: every public struct's size,
 * alignment and field offsets (abi_layout.h). It fails to compile when the
 * header changes shape, which is the point; at run time there is nothing
 * left to check. Built with -std=c11 for _Static_assert and _Alignof; the
 * header itself stays C99. */
#include <stdio.h>

#if defined(__LP64__)
#define ABI_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)
#define ABI_ALIGNOF(type) _Alignof(type)
#include "abi_layout.h"
#endif

int main(void) {
#if defined(__LP64__)
  return 0;
#else
  /* The frozen numbers are for LP64; other data models are not supported
   * targets, so say so instead of passing. */
  fputs("layout_test: not an LP64 target, skipped\n", stderr);
  return 77;
#endif
}
