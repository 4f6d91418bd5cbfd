// See include/lpk_round.h. Written from ggml's documented behaviour (ggml-quants.c, ggml-cpu/vec.h): which
// rounding each step uses is what matters here, so every step spells it out.
#include "lpk_round.h"
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

static float through_half(float x) { return (float)(_Float16)x; }  // IEEE conversion: round to nearest even

// Round half to even in the default rounding mode, like _mm256_round_ps(…, _MM_ROUND_NEAREST) and ggml's
// nearest_int.
static float round_even(float x) { return nearbyintf(x); }

void lpk_round_q8_0(const float *x, float *out, size_t n) {
    for (size_t block = 0; block < n; block += 32) {
        float amax = 0;
        for (size_t j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[block + j]));
        const float d = through_half(amax / 127.f);
        const float id = amax != 0 ? 127.f / amax : 0;
        for (size_t j = 0; j < 32; j++) out[block + j] = d * round_even(x[block + j] * id);
    }
}

void lpk_round_q8_1(const float *x, float *out, size_t n) { lpk_round_q8_0(x, out, n); }

void lpk_round_q8_k(const float *x, float *out, size_t n) {
    for (size_t block = 0; block < n; block += 256) {
        float amax = 0, max = 0;
        for (size_t j = 0; j < 256; j++) {
            const float ax = fabsf(x[block + j]);
            if (ax > amax) { amax = ax; max = x[block + j]; }
        }
        if (amax == 0) {
            for (size_t j = 0; j < 256; j++) out[block + j] = 0;
            continue;
        }
        const float iscale = -127.f / max;
        const float d = 1 / iscale;
        for (size_t j = 0; j < 256; j++) {
            const float q = fminf(127.f, round_even(iscale * x[block + j]));
            out[block + j] = d * q;
        }
    }
}

/// ggml's GELU table: for every f16 bit pattern h, f16(gelu(h)) with the tanh approximation, as ggml fills its
/// ggml_table_gelu_f16 (the NaN and infinite patterns hold what the formula gives; lookups never reach them).
static _Float16 gelu_table[1 << 16];
static pthread_once_t gelu_table_once = PTHREAD_ONCE_INIT;

static void fill_gelu_table(void) {
    for (uint32_t i = 0; i < (1u << 16); i++) {
        const uint16_t bits = (uint16_t)i;
        _Float16 half;
        memcpy(&half, &bits, sizeof half);
        const float h = (float)half;
        gelu_table[i] = (_Float16)(0.5f * h * (1.0f + tanhf(0.79788456080286535587989211986876f * h * (1.0f + 0.044715f * h * h))));
    }
}

void lpk_geglu_f16_table(const float *x, const float *g, float *out, size_t n) {
    pthread_once(&gelu_table_once, fill_gelu_table);
    for (size_t i = 0; i < n; i++) {
        const float v = x[i];
        float gelu;
        if (v <= -10.f) {
            gelu = 0;
        } else if (v >= 10.f) {
            gelu = v;
        } else {
            const _Float16 h = (_Float16)v;
            uint16_t bits;
            memcpy(&bits, &h, sizeof bits);
            gelu = (float)gelu_table[bits];
        }
        out[i] = gelu * g[i];
    }
}
