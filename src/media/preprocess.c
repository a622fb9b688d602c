/*
 * preprocess.c - CLIP preprocessing with the reference's exact arithmetic.
 *
 * Hugging Face's CLIPImageProcessor resizes through Pillow, so "matching
 * the reference" means matching Pillow's 8-bit resampler (ImagingResample)
 * to the last bit. Its definition, which this file re-implements:
 *  - separable: a horizontal pass, then a vertical pass, each rounding to
 *    8 bits (the order matters for the intermediate rounding); a pass whose
 *    size does not change is skipped;
 *  - for an output index i of a pass with scale = in / out (in double,
 *    from float sizes), the filter is stretched by f = max(scale, 1)
 *    (antialiasing when downscaling): support 2f, centre (i + 0.5) * scale,
 *    inputs from (int)(centre - support + 0.5) to (int)(centre + support
 *    + 0.5), clamped to the image, each weighted by the a = -0.5 cubic at
 *    (j - centre + 0.5) / f, normalised to sum 1, all in double;
 *  - weights become fixed point with 22 fraction bits (32 - 8 - 2: room
 *    for 8-bit pixels and two bits of overshoot), rounded half away from
 *    zero; a pass sums pixel * weight from 2^21 (rounding) and clamps
 *    (sum >> 22) to 0..255.
 * The double-precision expressions are written in Pillow's order, with
 * FMA contraction off, so the weights are identical, and with them every
 * pixel. The resampler computes only the window the centre crop keeps:
 * each output pixel depends on its own taps alone, so this changes no
 * value and skips the ~30% of a 4:3 photo the crop throws away.
 *
 * Speed: both passes have an AVX2 path, chosen at run time (one binary runs
 * everywhere), with the scalar pass_h() / pass_v() kept beside them as the
 * reference: the same integer sums, so the same bytes, and the tests
 * compare them. The vertical pass multiplies 32 bytes of a row at a time by
 * a broadcast weight; the horizontal pass regroups 8 rows by column so a
 * tap is three such multiply-adds. After JPEG DCT
 * scaling the input is at most about twice the target size, so the resize
 * is a small part of decode + preprocess (bench/decode_bench).
 *
 * Rescale and normalise are per-channel 256-entry tables computed the way
 * numpy does it: (float32)(v * rescale in double), then (x - mean) / std in
 * float32. The output is therefore bit-identical too.
 */
#include "media/preprocess.h"

#include "util/error.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2 1
#include <immintrin.h>
#else
#define HAVE_AVX2 0
#endif

#define COEF_BITS 22

typedef struct taps {
    int ksize;     /* weights stored per output index */
    int *first;    /* first input index of each output index */
    int *count;    /* number of inputs it reads */
    int32_t *k;    /* ksize fixed-point weights per output index */
} taps;

/* Keys' cubic convolution kernel with a = -0.5, as Pillow writes it. */
static double cubic(double x)
{
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static void taps_free(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->k);
}

static int32_t to_fixed(double w)
{
    return (int32_t)(w < 0 ? -0.5 + w * (1 << COEF_BITS) : 0.5 + w * (1 << COEF_BITS));
}

/* Weights of output indices [o0, o0 + n) for a pass from in_size to
 * out_size. */
static int taps_make(int in_size, int out_size, int o0, int n, taps *t)
{
    memset(t, 0, sizeof *t);
    /* Pillow's box is float: (double)((float)size - 0.0f). */
    double scale = (double)(float)in_size / out_size;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * fscale, ss = 1.0 / fscale;
    if (support > INT_MAX / 4) return iris_fail(IRIS_EARG, "resize: scale %g is too large", scale);
    t->ksize = (int)ceil(support) * 2 + 1;
    t->first = malloc(sizeof *t->first * (size_t)n);
    t->count = malloc(sizeof *t->count * (size_t)n);
    t->k = calloc((size_t)n * (size_t)t->ksize, sizeof *t->k);
    double *w = malloc(sizeof *w * (size_t)t->ksize);
    if (!t->first || !t->count || !t->k || !w) {
        free(w);
        taps_free(t);
        return iris_fail(IRIS_ENOMEM, "resize: no memory for %d x %d weights", n, t->ksize);
    }
    for (int i = 0; i < n; i++) {
        double center = (o0 + i + 0.5) * scale, ww = 0.0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        int m = hi - lo;
        for (int j = 0; j < m; j++) {
            w[j] = cubic((j + lo - center + 0.5) * ss);
            ww += w[j];
        }
        for (int j = 0; j < m; j++) {
            if (ww != 0.0) w[j] /= ww;
            t->k[(size_t)i * t->ksize + j] = to_fixed(w[j]);
        }
        t->first[i] = lo;
        t->count[i] = m;
    }
    free(w);
    return IRIS_OK;
}

static inline uint8_t clip8(int32_t acc)
{
    int32_t v = acc >> COEF_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One output pixel of the horizontal pass: count taps of 3 channels. */
static inline void tap_pixel(const uint8_t *p, const int32_t *k, int count, uint8_t *out)
{
    int32_t r = 1 << (COEF_BITS - 1), g = r, b = r;
    for (int j = 0; j < count; j++, p += 3) {
        r += p[0] * k[j];
        g += p[1] * k[j];
        b += p[2] * k[j];
    }
    out[0] = clip8(r), out[1] = clip8(g), out[2] = clip8(b);
}

/* rows x (sw -> n output columns): dst row y from src row y. The scalar
 * reference of pass_h_avx2(). */
static void pass_h(const uint8_t *src, int sw, int rows, const taps *t, int n, uint8_t *dst)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)y * sw * 3;
        uint8_t *out = dst + (size_t)y * n * 3;
        for (int x = 0; x < n; x++, out += 3)
            tap_pixel(in + (size_t)t->first[x] * 3, t->k + (size_t)x * t->ksize, t->count[x], out);
    }
}

#if HAVE_AVX2
#define AVX2 __attribute__((target("avx2")))

/* acc += 8 bytes at p (widened) times the broadcast weight k. */
AVX2 static inline __m256i mac8(__m256i acc, const uint8_t *p, __m256i k)
{
    __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    return _mm256_add_epi32(acc, _mm256_mullo_epi32(v, k));
}

/* Four vectors of sums -> 32 clamped bytes in order. */
AVX2 static inline __m256i clamp32(__m256i a0, __m256i a1, __m256i a2, __m256i a3)
{
    a0 = _mm256_srai_epi32(a0, COEF_BITS), a1 = _mm256_srai_epi32(a1, COEF_BITS);
    a2 = _mm256_srai_epi32(a2, COEF_BITS), a3 = _mm256_srai_epi32(a3, COEF_BITS);
    /* Saturating packs clamp to 0..255; they interleave 128-bit lanes,
     * which the permutation undoes. */
    __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3));
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Sums -> clamped bytes: lanes 0..23 of (a0, a1, a2) to out[0..23]. */
AVX2 static inline void clamp24(uint8_t out[32], __m256i a0, __m256i a1, __m256i a2)
{
    _mm256_storeu_si256((__m256i *)out, clamp32(a0, a1, a2, a2));
}

/* Regroups 8 rows by column: cols[24 (c - c0) + 3 r + ch] = row r's pixel
 * c. Four-byte moves, column by column, so the spare fourth byte is always
 * overwritten later; the image's last pixel is copied bytewise. cols needs
 * one byte of slack. */
static void regroup8(const uint8_t *src, size_t row_bytes, int sw, int c0, int c1, uint8_t *cols)
{
    const int c_end = c1 < sw ? c1 : sw - 1;
    for (int c = c0; c < c_end; c++, cols += 24)
        for (int r = 0; r < 8; r++) memcpy(cols + 3 * r, src + r * row_bytes + 3 * (size_t)c, 4);
    for (int c = c_end; c < c1; c++, cols += 24)
        for (int r = 0; r < 8; r++) memcpy(cols + 3 * r, src + r * row_bytes + 3 * (size_t)c, 3);
}

/* pass_h() for 8 rows at a time: the rows' bytes are regrouped by column
 * (24 bytes a column: 8 rows x RGB), so each tap is three 8-lane
 * multiply-adds by one broadcast weight. The integer sums are those of
 * pass_h(), so the bytes are identical; leftover rows use pass_h(). */
AVX2 static void pass_h_avx2(const uint8_t *src, int sw, int rows, const taps *t, int n,
                             uint8_t *cols, uint8_t *dst)
{
    const size_t row_bytes = (size_t)sw * 3, out_bytes = (size_t)n * 3;
    const int c0 = t->first[0], c1 = t->first[n - 1] + t->count[n - 1];
    int y = 0;
    for (; y + 8 <= rows; y += 8) {
        regroup8(src + (size_t)y * row_bytes, row_bytes, sw, c0, c1, cols);
        uint8_t *out = dst + (size_t)y * out_bytes;
        for (int x = 0; x < n; x++, out += 3) {
            const int32_t *k = t->k + (size_t)x * t->ksize;
            const uint8_t *p = cols + (size_t)(t->first[x] - c0) * 24;
            __m256i a0 = _mm256_set1_epi32(1 << (COEF_BITS - 1)), a1 = a0, a2 = a0;
            for (int j = 0; j < t->count[x]; j++, p += 24) {
                __m256i kj = _mm256_set1_epi32(k[j]);
                a0 = mac8(a0, p, kj);
                a1 = mac8(a1, p + 8, kj);
                a2 = mac8(a2, p + 16, kj);
            }
            uint8_t px[32];
            clamp24(px, a0, a1, a2);
            for (int r = 0; r < 8; r++) memcpy(out + r * out_bytes, px + 3 * r, 3);
        }
    }
    if (y < rows) pass_h(src + (size_t)y * row_bytes, sw, rows - y, t, n, dst + (size_t)y * out_bytes);
}

/* pass_v() 32 bytes at a time, the sums in registers; the tail scalar. */
AVX2 static void pass_v_avx2(const uint8_t *src, int width, int row0, const taps *t, int n,
                             uint8_t *dst)
{
    const size_t len = (size_t)width * 3;
    for (int y = 0; y < n; y++) {
        const int32_t *k = t->k + (size_t)y * t->ksize;
        const uint8_t *top = src + (size_t)(t->first[y] - row0) * len;
        uint8_t *out = dst + (size_t)y * len;
        size_t x = 0;
        for (; x + 32 <= len; x += 32) {
            __m256i a0 = _mm256_set1_epi32(1 << (COEF_BITS - 1)), a1 = a0, a2 = a0, a3 = a0;
            const uint8_t *p = top + x;
            for (int j = 0; j < t->count[y]; j++, p += len) {
                __m256i kj = _mm256_set1_epi32(k[j]);
                a0 = mac8(a0, p, kj), a1 = mac8(a1, p + 8, kj);
                a2 = mac8(a2, p + 16, kj), a3 = mac8(a3, p + 24, kj);
            }
            _mm256_storeu_si256((__m256i *)(out + x), clamp32(a0, a1, a2, a3));
        }
        for (; x < len; x++) {
            int32_t acc = 1 << (COEF_BITS - 1);
            for (int j = 0; j < t->count[y]; j++) acc += top[(size_t)j * len + x] * k[j];
            out[x] = clip8(acc);
        }
    }
}
#endif

static int use_avx2(int simd)
{
#if HAVE_AVX2
    return simd && __builtin_cpu_supports("avx2");
#else
    (void)simd;
    return 0;
#endif
}

/* The horizontal pass, with AVX2 where the CPU has it and simd is set. */
static int run_pass_h(const uint8_t *src, int sw, int rows, const taps *t, int n, uint8_t *dst,
                      int simd)
{
#if HAVE_AVX2
    if (use_avx2(simd)) {
        size_t ncols = (size_t)(t->first[n - 1] + t->count[n - 1] - t->first[0]);
        uint8_t *cols = malloc(ncols * 24 + 1);
        if (!cols) return iris_fail(IRIS_ENOMEM, "resize: no memory for %zu columns", ncols);
        pass_h_avx2(src, sw, rows, t, n, cols, dst);
        free(cols);
        return IRIS_OK;
    }
#endif
    pass_h(src, sw, rows, t, n, dst);
    return IRIS_OK;
}

/* n output rows of `width` pixels; taps index rows of src from row0. The
 * scalar reference of pass_v_avx2(). */
static void pass_v(const uint8_t *src, int width, int row0, const taps *t, int n, int32_t *acc,
                   uint8_t *dst)
{
    const size_t len = (size_t)width * 3;
    for (int y = 0; y < n; y++) {
        const int32_t *k = t->k + (size_t)y * t->ksize;
        for (size_t x = 0; x < len; x++) acc[x] = 1 << (COEF_BITS - 1);
        for (int j = 0; j < t->count[y]; j++) {
            const uint8_t *row = src + (size_t)(t->first[y] - row0 + j) * len;
            const int32_t kj = k[j];
            for (size_t x = 0; x < len; x++) acc[x] += row[x] * kj;
        }
        uint8_t *out = dst + (size_t)y * len;
        for (size_t x = 0; x < len; x++) out[x] = clip8(acc[x]);
    }
}

/* The window [x0, x0 + ww) x [y0, y0 + wh) of the sw x sh -> dw x dh
 * Pillow bicubic resize, into dst (ww x wh). */
static int resize_window(const uint8_t *src, int sw, int sh, int dw, int dh, int x0, int y0,
                         int ww, int wh, uint8_t *dst, int simd)
{
    taps th = {0}, tv = {0};
    uint8_t *mid = NULL;
    int32_t *acc = NULL;
    int rc = taps_make(sh, dh, y0, wh, &tv);
    if (rc == IRIS_OK && dw != sw) rc = taps_make(sw, dw, x0, ww, &th);
    if (rc) goto out;
    /* Only the source rows the vertical pass reads need the horizontal one. */
    int r0 = tv.first[0], r1 = tv.first[wh - 1] + tv.count[wh - 1];
    if (dw != sw) {
        mid = malloc((size_t)ww * (size_t)(r1 - r0) * 3);
        if (!mid) goto nomem;
        if ((rc = run_pass_h(src + (size_t)r0 * sw * 3, sw, r1 - r0, &th, ww, mid, simd)))
            goto out;
    }
    const uint8_t *vsrc = mid ? mid : src + (size_t)x0 * 3;
    int vstride = mid ? ww : sw, vrow0 = r0;
    if (!mid) vrow0 = 0;
    if (dh == sh) {
        for (int y = 0; y < wh; y++)
            memcpy(dst + (size_t)y * ww * 3, vsrc + (size_t)(y0 + y - vrow0) * vstride * 3,
                   (size_t)ww * 3);
        goto out;
    }
    if (!mid && sw != ww) {
        /* Vertical pass only, on a column window of the source: copy the
         * rows it reads so pass_v sees contiguous rows. */
        mid = malloc((size_t)ww * (size_t)(r1 - r0) * 3);
        if (!mid) goto nomem;
        for (int y = r0; y < r1; y++)
            memcpy(mid + (size_t)(y - r0) * ww * 3, src + ((size_t)y * sw + x0) * 3, (size_t)ww * 3);
        vsrc = mid, vrow0 = r0;
    }
#if HAVE_AVX2
    if (use_avx2(simd)) {
        pass_v_avx2(vsrc, ww, vrow0, &tv, wh, dst);
        goto out;
    }
#endif
    acc = malloc(sizeof *acc * (size_t)ww * 3);
    if (!acc) goto nomem;
    pass_v(vsrc, ww, vrow0, &tv, wh, acc, dst);
    goto out;
nomem:
    rc = iris_fail(IRIS_ENOMEM, "resize: no memory for %d x %d pixels", ww, r1 - r0);
out:
    free(acc);
    free(mid);
    taps_free(&th);
    taps_free(&tv);
    return rc;
}

static int resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, int simd)
{
    if (!src || !dst || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return iris_fail(IRIS_EARG, "resize: bad sizes %d x %d -> %d x %d", sw, sh, dw, dh);
    return resize_window(src, sw, sh, dw, dh, 0, 0, dw, dh, dst, simd);
}

int media_resize_bicubic(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    return resize(src, sw, sh, dst, dw, dh, 1);
}

int media_resize_bicubic_scalar(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    return resize(src, sw, sh, dst, dw, dh, 0);
}

void media_resize_dims(int w, int h, int shortest, int *out_w, int *out_h)
{
    int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    /* Python: int(size * long / short), a correctly rounded double. */
    int new_long = (int)((double)((long long)shortest * longer) / (double)shorter);
    *out_w = w <= h ? shortest : new_long;
    *out_h = w <= h ? new_long : shortest;
}

static int floor_half(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* One axis of the centre crop: the crop starts at resized index `off`
 * ((size - crop) // 2); [lo, hi) of the crop lies inside the image. */
static void crop_axis(int size, int crop, int *off, int *lo, int *hi)
{
    *off = floor_half(size - crop);
    *lo = *off < 0 ? -*off : 0;
    *hi = size - *off < crop ? size - *off : crop;
}

int media_resize_crop(const iris_image *img, int resize_shortest, int crop, uint8_t *out_rgb)
{
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0 || !out_rgb)
        return iris_fail(IRIS_EARG, "preprocess: no image");
    if (resize_shortest <= 0 || crop <= 0 || crop > 65536 || resize_shortest > 65536)
        return iris_fail(IRIS_EARG, "preprocess: bad sizes (resize %d, crop %d)", resize_shortest,
                         crop);
    int rw, rh, ox, oy, x_lo, x_hi, y_lo, y_hi;
    media_resize_dims(img->width, img->height, resize_shortest, &rw, &rh);
    if (rw <= 0 || rh <= 0)
        return iris_fail(IRIS_ELIMIT, "preprocess: %d x %d image resizes to nothing", img->width,
                         img->height);
    crop_axis(rw, crop, &ox, &x_lo, &x_hi);
    crop_axis(rh, crop, &oy, &y_lo, &y_hi);
    memset(out_rgb, 0, (size_t)crop * crop * 3);
    int ww = x_hi - x_lo, wh = y_hi - y_lo;
    uint8_t *win = malloc((size_t)ww * wh * 3);
    if (!win) return iris_fail(IRIS_ENOMEM, "preprocess: no memory for %d x %d pixels", ww, wh);
    int rc = resize_window(img->rgb, img->width, img->height, rw, rh, ox + x_lo, oy + y_lo, ww, wh,
                           win, 1);
    for (int y = 0; !rc && y < wh; y++)
        memcpy(out_rgb + ((size_t)(y + y_lo) * crop + x_lo) * 3, win + (size_t)y * ww * 3,
               (size_t)ww * 3);
    free(win);
    return rc;
}

int media_preprocess(const iris_image *img, int resize_shortest, int crop, double rescale,
                     const float mean[3], const float std[3], float *out)
{
    if (!mean || !std || !out) return iris_fail(IRIS_EARG, "preprocess: NULL argument");
    for (int c = 0; c < 3; c++)
        if (!(std[c] != 0.0f)) return iris_fail(IRIS_EARG, "preprocess: image_std[%d] is 0", c);
    uint8_t *rgb = malloc((size_t)crop * crop * 3 + 1);
    if (!rgb) return iris_fail(IRIS_ENOMEM, "preprocess: no memory for a %d x %d crop", crop, crop);
    int rc = media_resize_crop(img, resize_shortest, crop, rgb);
    if (rc == IRIS_OK) {
        float lut[3][256];
        for (int c = 0; c < 3; c++)
            for (int v = 0; v < 256; v++) lut[c][v] = ((float)(v * rescale) - mean[c]) / std[c];
        const size_t plane = (size_t)crop * crop;
        for (size_t i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++) out[c * plane + i] = lut[c][rgb[3 * i + c]];
    }
    free(rgb);
    return rc;
}
