// A hint for threads that wait by spinning (the worker pool of the reference inference).
#ifndef LPK_SPIN_H
#define LPK_SPIN_H

/// Tells the CPU that the calling thread is spinning on a flag: on x86-64 a `pause`, which frees the core's execution
/// resources for whatever else runs on it (a sibling hardware thread) and stops the loop from flooding the memory
/// pipeline; nothing elsewhere.
static inline void lpk_spin_hint(void) {
#if !defined(LPK_PORTABLE_ONLY) && defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_ia32_pause();
#endif
}

#endif
