#include "CParrotKernels.h"

#define SHORTLIST_BODY                                                                  \
    size_t kept = 0;                                                                    \
    const int32_t full = words * 64;                                                    \
    for (size_t i = 0; i < count; i++) {                                                \
        if (!alive[i]) continue;                                                        \
        const int32_t limit = admitted[bins[i]];                                        \
        if (limit < 0) continue;                                                        \
        if (limit < full) {                                                             \
            const uint64_t *s = sigs + i * (size_t)words;                               \
            int32_t distance = 0;                                                       \
            for (int w = 0; w < words; w++) distance += __builtin_popcountll(s[w] ^ query[w]); \
            if (distance > limit) continue;                                             \
        }                                                                               \
        out[kept++] = (uint32_t)i;                                                      \
    }                                                                                   \
    return kept;

static size_t shortlist_portable(const uint64_t *sigs, size_t count, int words, const uint64_t *query,
                                 const uint16_t *bins, const bool *alive, const int32_t *admitted, uint32_t *out) {
    SHORTLIST_BODY
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
__attribute__((target("popcnt")))
static size_t shortlist_popcnt(const uint64_t *sigs, size_t count, int words, const uint64_t *query,
                               const uint16_t *bins, const bool *alive, const int32_t *admitted, uint32_t *out) {
    SHORTLIST_BODY
}

static int has_popcnt(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("popcnt") ? 1 : 0;
    }
    return cached;
}
#endif

size_t parrot_shortlist(const uint64_t *sigs, size_t count, int words, const uint64_t *query,
                        const uint16_t *bins, const bool *alive, const int32_t *admitted, uint32_t *out) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (has_popcnt()) return shortlist_popcnt(sigs, count, words, query, bins, alive, admitted, out);
#endif
    return shortlist_portable(sigs, count, words, query, bins, alive, admitted, out);
}
