#ifndef CPARROT_KERNELS_H
#define CPARROT_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// The semantic index's shortlist step: for each live vector i, the Hamming distance between its
/// signature (`words` 64-bit words at sigs + i * words) and `query`, compared with the distance
/// admitted for its bin (`admitted[bins[i]]`: -1 = skip, >= words * 64 = always keep). Writes
/// the indices kept to `out` (room for `count`) and returns how many.
///
/// In C so it can use the POPCNT instruction where the CPU has it (checked once at run time):
/// Swift's baseline x86-64 target has no POPCNT, and the bit-twiddling fallback made this loop
/// the whole cost of a search.
size_t parrot_shortlist(const uint64_t *sigs, size_t count, int words, const uint64_t *query,
                        const uint16_t *bins, const bool *alive, const int32_t *admitted, uint32_t *out);

/// Bytes of heap in use right now (glibc's mallinfo2: allocated chunks plus mmapped ones), or -1
/// where that is not known. For tests that check what the memory tier charges against what
/// its entries really take.
long long parrot_heap_bytes_in_use(void);

#endif
