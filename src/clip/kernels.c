/*
 * kernels.c - drivers, dispatch and scalar reference of the CLIP kernels.
 *
 * The SIMD backends (kernels_avx2.c, kernels_avx512.c) only provide a GEMM
 * micro-kernel, its panel packer and a few row kernels; this file owns
 * everything around them: run-time ISA choice, cache blocking, splitting
 * work into parallel tasks, attention built from two GEMMs and a softmax,
 * and the scalar code that is both the reference the fast paths are tested
 * against and the fallback on CPUs without AVX2.
 *
 * GEMM blocking: a task owns an NC-column block of the output (and, when
 * there are few such blocks, a range of rows). For each KC-deep slice it
 * packs (and converts) its W panels once, then sweeps all its rows through
 * the micro-kernel, so every weight element is converted once per call and
 * the packed block (KC x NC floats, 128 KiB) stays in L2.
 */
#include "clip/kernels.h"

#include "clip/kernels_simd.h"
#include "util/error.h"

#ifdef CLIP_HAVE_X86
#include <cpuid.h>
#endif
#ifdef __linux__
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KC 256
#define NC 128
#define GEMM_PACK_FLOATS ((size_t)KC * NC)
#define MIN_ROWS_PER_TASK 64

/* ------------------------------------------------------------ dispatch */

#ifdef CLIP_HAVE_X86
/* F16C from CPUID leaf 1 (ECX bit 29): older clang's __builtin_cpu_supports
 * does not know the name. Any CPU with AVX2 has it, but we do not assume. */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

int clip_isa_supported(clip_isa isa)
{
    switch (isa) {
    case CLIP_ISA_SCALAR: return 1;
#ifdef CLIP_HAVE_X86
    case CLIP_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case CLIP_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && clip_isa_supported(CLIP_ISA_AVX2);
#endif
    default: return 0;
    }
}

const char *clip_isa_name(clip_isa isa)
{
    switch (isa) {
    case CLIP_ISA_SCALAR: return "scalar";
    case CLIP_ISA_AVX2: return "avx2";
    case CLIP_ISA_AVX512: return "avx512";
    }
    return "?";
}

clip_isa clip_isa_best(void)
{
    clip_isa best = CLIP_ISA_SCALAR;
    for (int i = CLIP_ISA_AVX512; i > CLIP_ISA_SCALAR; i--)
        if (clip_isa_supported((clip_isa)i)) {
            best = (clip_isa)i;
            break;
        }
    const char *cap = getenv("IRIS_ISA");
    for (int i = CLIP_ISA_SCALAR; cap && i < (int)best; i++)
        if (!strcmp(cap, clip_isa_name((clip_isa)i))) return (clip_isa)i;
    return best;
}

#if defined(CLIP_HAVE_X86) && defined(__linux__)
static int amx_granted;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

/* CPUID.(7,0):EDX bits 24 and 22 (AMX-TILE, AMX-BF16), CPUID.(7,1):EAX
 * bit 5 (AVX512_BF16), then the kernel's permission for the tile data. */
static void amx_request(void)
{
    unsigned a, b, c, d;
    if (!clip_isa_supported(CLIP_ISA_AVX512) || !__get_cpuid_count(7, 0, &a, &b, &c, &d) ||
        !(d & (1u << 24)) || !(d & (1u << 22)) || !__get_cpuid_count(7, 1, &a, &b, &c, &d) ||
        !(a & (1u << 5)))
        return;
    amx_granted = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                          18 /* XFEATURE_XTILEDATA */) == 0;
}

int clip_amx_available(void)
{
    pthread_once(&amx_once, amx_request);
    return amx_granted;
}

size_t clip_amx_work_floats(int max_k) { return clip_amx_work_bytes(max_k) / sizeof(float) + 1; }
#else
int clip_amx_available(void) { return 0; }
size_t clip_amx_work_floats(int max_k) { return (void)max_k, 0; }
#endif

static const clip_simd_ops *simd_ops(clip_isa isa)
{
#ifdef CLIP_HAVE_X86
    if (isa == CLIP_ISA_AVX512) return &clip_ops_avx512;
    if (isa == CLIP_ISA_AVX2) return &clip_ops_avx2;
#endif
    (void)isa;
    return NULL;
}

/* ------------------------------------------------------------ dtypes */

float clip_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
    if (exp == 0) {
        float f = (float)mant * (1.0f / 16777216.0f); /* subnormal: mant * 2^-24 */
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7F800000u | (mant << 13);
    else bits = sign | ((exp + 112u) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float clip_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float clip_read1(const void *data, clip_dtype type, int64_t i)
{
    uint16_t h;
    switch (type) {
    case CLIP_F16:
        memcpy(&h, (const uint16_t *)data + i, 2);
        return clip_f16_to_f32(h);
    case CLIP_BF16:
        memcpy(&h, (const uint16_t *)data + i, 2);
        return clip_bf16_to_f32(h);
    case CLIP_Q8_0: {
        const uint8_t *blk = (const uint8_t *)data + (i / CLIP_Q8_0_BLOCK) * 34;
        memcpy(&h, blk, 2);
        return clip_f16_to_f32(h) * (float)((const int8_t *)blk)[2 + i % CLIP_Q8_0_BLOCK];
    }
    default: return ((const float *)data)[i];
    }
}

void clip_tensor_read_f32(const clip_tensor *t, int64_t first, int64_t n, float *dst)
{
    if (t->type == CLIP_F32) {
        memcpy(dst, (const float *)t->data + first, (size_t)n * sizeof *dst);
        return;
    }
    for (int64_t i = 0; i < n; i++) dst[i] = clip_read1(t->data, t->type, first + i);
}

size_t clip_dtype_bytes(clip_dtype type, int64_t n)
{
    switch (type) {
    case CLIP_F16:
    case CLIP_BF16: return (size_t)n * 2;
    case CLIP_Q8_0: return (size_t)(n / CLIP_Q8_0_BLOCK) * 34;
    default: return (size_t)n * 4;
    }
}

/* ------------------------------------------------------------ panels */

static void matrix_shape(const clip_tensor *w, int64_t *N, int64_t *K)
{
    *N = w->ne[0];
    *K = *N ? clip_tensor_nelem(w) / *N : 0;
}

size_t clip_panels_bytes(const clip_tensor *w)
{
    int64_t N, K;
    matrix_shape(w, &N, &K);
    /* per panel column the bytes of a row: q8_0's 2-byte scales included */
    return clip_dtype_bytes(w->type, K) * CLIP_PANEL * (size_t)((N + CLIP_PANEL - 1) / CLIP_PANEL);
}

/* Bytes of element (n, k) in a row of stored type t (q8_0: its int8). */
static const unsigned char *elem_at(const clip_tensor *w, int64_t K, int64_t n, int64_t k)
{
    const unsigned char *row = (const unsigned char *)w->data + clip_dtype_bytes(w->type, n * K);
    if (w->type == CLIP_Q8_0) return row + (k / CLIP_Q8_0_BLOCK) * 34 + 2 + k % CLIP_Q8_0_BLOCK;
    return row + clip_dtype_bytes(w->type, k);
}

void clip_panels_fill(const clip_tensor *w, void *dst)
{
    int64_t N, K;
    matrix_shape(w, &N, &K);
    unsigned char *out = dst;
    size_t es = w->type == CLIP_F32 ? 4 : w->type == CLIP_Q8_0 ? 1 : 2;
    for (int64_t n0 = 0; n0 < N; n0 += CLIP_PANEL)
        for (int64_t k = 0; k < K; k++) {
            if (w->type == CLIP_Q8_0 && k % CLIP_Q8_0_BLOCK == 0) /* the block's scales */
                for (int64_t j = 0; j < CLIP_PANEL; j++, out += 2) {
                    const unsigned char *blk = elem_at(w, K, n0 + j, k) - 2;
                    if (n0 + j < N) memcpy(out, blk, 2);
                    else memset(out, 0, 2);
                }
            for (int64_t j = 0; j < CLIP_PANEL; j++, out += es) {
                if (n0 + j < N) memcpy(out, elem_at(w, K, n0 + j, k), es);
                else memset(out, 0, es);
            }
        }
}

/* ------------------------------------------------------------ context */

size_t clip_attention_work_floats(int max_seq)
{
    return (size_t)max_seq * (size_t)max_seq;
}

int clip_kctx_init(clip_kctx *k, iris_pool *pool, clip_isa isa, size_t extra_floats)
{
    memset(k, 0, sizeof *k);
    size_t per = (GEMM_PACK_FLOATS + extra_floats + 15) & ~(size_t)15; /* 64-byte rows */
    size_t n = (size_t)iris_pool_threads(pool);
    if (per > ((size_t)1 << 40) / n / sizeof(float))
        return iris_fail(IRIS_ELIMIT, "kernel scratch of %zu floats per thread is too large", per);
    k->work = aligned_alloc(64, n * per * sizeof(float));
    if (!k->work)
        return iris_fail(IRIS_ENOMEM, "out of memory for %zu MiB of kernel scratch",
                         n * per * sizeof(float) >> 20);
    k->pool = pool;
    k->isa = isa;
    k->work_floats = per;
    return IRIS_OK;
}

void clip_kctx_free(clip_kctx *k)
{
    free(k->work);
    k->work = NULL;
}

static float *worker_work(const clip_kctx *k, int worker)
{
    return k->work + (size_t)worker * k->work_floats;
}

/* ------------------------------------------------------------ scalar reference */

float clip_quick_gelu_ref(float x) { return x / (1.0f + expf(-1.702f * x)); }

float clip_gelu_ref(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

static float act_ref(float x, clip_epilogue epi)
{
    if (epi == CLIP_EPI_QUICK_GELU) return clip_quick_gelu_ref(x);
    if (epi == CLIP_EPI_GELU) return clip_gelu_ref(x);
    return x;
}

static void softmax_ref(float *x, int n, float scale)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) {
        x[i] = expf((x[i] - mx) * scale);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] *= 1.0f / sum;
}

static void layernorm_ref(const float *x, float *y, int n, const float *g, const float *b,
                          float eps)
{
    float mean = 0.0f, var = 0.0f;
    for (int i = 0; i < n; i++) mean += x[i];
    mean /= (float)n;
    for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    float rstd = 1.0f / sqrtf(var / (float)n + eps);
    for (int i = 0; i < n; i++) y[i] = (x[i] - mean) * rstd * g[i] + b[i];
}

/* Element (k, n) of a B operand. */
static float bsrc_at(const clip_bsrc *b, int64_t k, int64_t n)
{
    return clip_read1(b->data, b->type, b->kn ? k * b->ld + n : n * b->ld + k);
}

/* Reference GEMM over columns [n0, n0 + ncols) and rows [m0, m1):
 * y = act(bias + sum_k x w) or y += bias + sum_k x w, k in order. */
static void gemm_ref(const float *x, int ldx, const clip_bsrc *b, int K, const float *bias,
                     float *y, int ldy, int n0, int ncols, int m0, int m1, clip_epilogue epi)
{
    for (int m = m0; m < m1; m++)
        for (int j = 0; j < ncols; j++) {
            float *out = y + (size_t)m * ldy + n0 + j;
            float acc = bias ? bias[j] : 0.0f;
            if (epi == CLIP_EPI_ADD) acc = *out + acc;
            for (int k = 0; k < K; k++) acc += x[(size_t)m * ldx + k] * bsrc_at(b, k, n0 + j);
            *out = act_ref(acc, epi);
        }
}

/* ------------------------------------------------------------ blocked GEMM */

/* Same contract as gemm_ref, with packing and the micro-kernel. bias (NULL
 * or ncols rounded up to the panel width) is indexed from n0. */
static void gemm_simd(const clip_simd_ops *ops, const float *x, int ldx, const clip_bsrc *b,
                      int K, const float *bias, float *y, int ldy, int n0, int ncols, int m0,
                      int m1, clip_epilogue epi, float *pack)
{
    static const float zeros[64];
    const int nr = ops->nr, mr = ops->mr;
    for (int c0 = 0; c0 < ncols; c0 += NC) {
        int cols = ncols - c0 < NC ? ncols - c0 : NC;
        int panels = (cols + nr - 1) / nr;
        for (int k0 = 0; k0 < K; k0 += KC) {
            int kc = K - k0 < KC ? K - k0 : KC;
            int last = k0 + kc >= K;
            int mode = k0 > 0 ? CLIP_UKR_C : epi == CLIP_EPI_ADD ? CLIP_UKR_C_PLUS_ROW : CLIP_UKR_ROW;
            for (int p = 0; p < panels; p++)
                ops->pack(b, n0 + c0 + p * nr, cols - p * nr, k0, kc, pack + (size_t)p * kc * nr);
            for (int m = m0; m < m1; m += mr) {
                int rows = m1 - m < mr ? m1 - m : mr;
                for (int p = 0; p < panels; p++) {
                    int pc = cols - p * nr < nr ? cols - p * nr : nr;
                    float *c = y + (size_t)m * ldy + n0 + c0 + p * nr;
                    ops->ukr(rows, kc, x + (size_t)m * ldx + k0, ldx, pack + (size_t)p * kc * nr,
                             c, ldy, pc, bias ? bias + c0 + p * nr : zeros, mode);
                    if (last && epi >= CLIP_EPI_QUICK_GELU)
                        for (int r = 0; r < rows; r++) ops->activation(c + (size_t)r * ldy, pc, epi);
                }
            }
        }
    }
}

/* Single-threaded GEMM on the kctx's ISA: the building block of attention. */
static void gemm_one(clip_isa isa, const float *x, int ldx, const clip_bsrc *b, int K, float *y,
                     int ldy, int N, int M, float *pack)
{
    const clip_simd_ops *ops = simd_ops(isa);
    if (ops) gemm_simd(ops, x, ldx, b, K, NULL, y, ldy, 0, N, 0, M, CLIP_EPI_STORE, pack);
    else gemm_ref(x, ldx, b, K, NULL, y, ldy, 0, N, 0, M, CLIP_EPI_STORE);
}

/* ------------------------------------------------------------ linear layers */

/* Below this many rows a linear layer uses the unpacked dot kernel: packing
 * W costs about as much as multiplying a few rows by it. The choice depends
 * on M only (never on threads), so thread counts cannot change results.
 * IRIS_DOT_ROWS overrides it (tests, benchmarks). */
#define DOT_ROWS 24

static int clip_dot_rows(void)
{
    const char *e = getenv("IRIS_DOT_ROWS");
    return e ? atoi(e) : DOT_ROWS;
}

typedef struct linear_job {
    const clip_kctx *k;
    const clip_linear *lin;
    int n;
    int amx;       /* bf16 on AMX: x already in k->bf16_x */
    int first[9];  /* first task of each linear (n <= 8), first[n] = total */
    int msplit[8]; /* row chunks per column block */
    int dot_rows;  /* linears of at most this many rows skip packing */
} linear_job;

static void linear_task(void *ctx, int t, int worker)
{
    const linear_job *job = ctx;
    int g = 0;
    while (t >= job->first[g + 1]) g++;
    const clip_linear *lin = &job->lin[g];
    int local = t - job->first[g], ms = job->msplit[g];
    int n0 = (local / ms) * NC, ncols = lin->N - n0 < NC ? lin->N - n0 : NC;
    int chunk = (lin->M + ms - 1) / ms;
    if (job->amx) chunk = (chunk + 31) / 32 * 32; /* AMX takes rows 32 at a time */
    int m0 = (local % ms) * chunk;
    int m1 = m0 + chunk < lin->M ? m0 + chunk : lin->M;
    if (m0 >= m1) return;

    float bias[NC];
    memset(bias, 0, sizeof bias);
    int has_bias = lin->b && lin->b->data;
    if (has_bias) clip_tensor_read_f32(lin->b, n0, ncols, bias);
    clip_bsrc b = {lin->w->data, lin->w->type, lin->K, 0, lin->w->panels};
    const clip_simd_ops *ops = simd_ops(job->k->isa);
#ifdef CLIP_HAVE_X86
    if (job->amx) {
        clip_amx_gemm(&b, lin->K, job->k->bf16_x, has_bias ? bias : NULL, lin->y, lin->ldy, n0,
                      ncols, m0, m1, lin->epi, worker_work(job->k, worker));
        return;
    }
#endif
    if (ops && lin->M <= job->dot_rows && b.panels)
        ops->panel_dot(&b, lin->K, lin->x, lin->ldx, has_bias ? bias : NULL, lin->y, lin->ldy, n0,
                       ncols, m0, m1, lin->epi);
    else if (ops && lin->M <= job->dot_rows && lin->K % (ops->nr / 2) == 0)
        ops->dot(&b, lin->K, lin->x, lin->ldx, has_bias ? bias : NULL, lin->y, lin->ldy, n0, ncols,
                 m0, m1, lin->epi);
    else if (ops)
        gemm_simd(ops, lin->x, lin->ldx, &b, lin->K, bias, lin->y, lin->ldy, n0, ncols, m0, m1,
                  lin->epi, worker_work(job->k, worker));
    else
        gemm_ref(lin->x, lin->ldx, &b, lin->K, bias, lin->y, lin->ldy, n0, ncols, m0, m1,
                 lin->epi);
}

#ifdef CLIP_HAVE_X86
/* bf16 on AMX: linears of more than dot_rows rows, from stored rows, all of
 * them on one x (q, k, v share theirs) that fits the conversion buffer. */
static int amx_applies(const clip_kctx *k, const clip_linear *lin, int n, int dot_rows)
{
    if (!k->bf16) return 0;
    for (int i = 0; i < n; i++)
        if (lin[i].x != lin[0].x || lin[i].ldx != lin[0].ldx || lin[i].K != lin[0].K ||
            lin[i].M != lin[0].M || lin[i].M <= dot_rows || lin[i].w->panels)
            return 0;
    size_t rows = ((size_t)lin[0].M + 31) / 32 * 32, kp = ((size_t)lin[0].K + 31) / 32 * 32;
    return rows * kp <= k->bf16_x_elems;
}

static void amx_convert_task(void *ctx, int t, int worker)
{
    (void)worker;
    const clip_linear *lin = ((const linear_job *)ctx)->lin;
    clip_amx_convert_rows(lin->x, lin->ldx, lin->M, lin->K, 32 * t, 32 * t + 32,
                          ((const linear_job *)ctx)->k->bf16_x);
}
#endif

void clip_linear_run(const clip_kctx *k, const clip_linear *lin, int n)
{
    int threads = iris_pool_threads(k->pool), dot_rows = clip_dot_rows(), amx = 0;
#ifdef CLIP_HAVE_X86
    if ((amx = amx_applies(k, lin, n, dot_rows))) { /* x to bf16, once for all n */
        linear_job conv = {.k = k, .lin = lin};
        iris_pool_run(k->pool, (lin->M + 31) / 32, amx_convert_task, &conv);
    }
#endif
    for (int done = 0; done < n; done += 8) { /* at most 8 linears per parallel loop */
        linear_job job = {.k = k, .lin = lin + done, .n = n - done < 8 ? n - done : 8,
                          .dot_rows = dot_rows, .amx = amx};
        for (int g = 0; g < job.n; g++) {
            const clip_linear *l = &job.lin[g];
            int blocks = (l->N + NC - 1) / NC, ms = 1;
            if (blocks * job.n < 2 * threads) {
                ms = (2 * threads + blocks * job.n - 1) / (blocks * job.n);
                int most = (l->M + MIN_ROWS_PER_TASK - 1) / MIN_ROWS_PER_TASK;
                ms = ms > most ? most : ms;
                ms = ms < 1 ? 1 : ms;
            }
            job.msplit[g] = ms;
            job.first[g + 1] = job.first[g] + (l->M > 0 ? blocks * ms : 0);
        }
        iris_pool_run(k->pool, job.first[job.n], linear_task, &job);
    }
}

/* ------------------------------------------------------------ layer norm */

typedef struct ln_job {
    const clip_kctx *k;
    const float *x;
    float *y;
    int ldx, ldy, M, n, rows_per_task;
    const clip_tensor *g, *b;
    float eps;
} ln_job;

/* An [n] tensor as f32: the data itself, or converted into buf. */
static const float *vector_f32(const clip_tensor *t, int n, float *buf)
{
    if (t->type == CLIP_F32) return t->data;
    clip_tensor_read_f32(t, 0, n, buf);
    return buf;
}

static void ln_task(void *ctx, int t, int worker)
{
    const ln_job *j = ctx;
    float *work = worker_work(j->k, worker);
    const float *g = vector_f32(j->g, j->n, work);
    const float *b = vector_f32(j->b, j->n, work + j->n);
    const clip_simd_ops *ops = simd_ops(j->k->isa);
    int m1 = (t + 1) * j->rows_per_task < j->M ? (t + 1) * j->rows_per_task : j->M;
    for (int m = t * j->rows_per_task; m < m1; m++) {
        const float *x = j->x + (size_t)m * j->ldx;
        float *y = j->y + (size_t)m * j->ldy;
        if (ops) ops->layernorm(x, y, j->n, g, b, j->eps);
        else layernorm_ref(x, y, j->n, g, b, j->eps);
    }
}

void clip_layernorm(const clip_kctx *k, const float *x, int ldx, float *y, int ldy, int M, int n,
                    const clip_tensor *g, const clip_tensor *b, float eps)
{
    if (M <= 0) return;
    int tasks = 4 * iris_pool_threads(k->pool);
    ln_job j = {k, x, y, ldx, ldy, M, n, (M + tasks - 1) / tasks, g, b, eps};
    iris_pool_run(k->pool, (M + j.rows_per_task - 1) / j.rows_per_task, ln_task, &j);
}

/* ------------------------------------------------------------ attention */

typedef struct attn_job {
    const clip_kctx *k;
    const clip_attention_args *a;
} attn_job;

/* One head of one sequence: S = Q K^T, row softmax (scaled, causal), O = P V. */
static void attn_task(void *ctx, int t, int worker)
{
    const attn_job *j = ctx;
    const clip_attention_args *a = j->a;
    int s = t / a->heads, h = t % a->heads, T = a->len[s], d = a->head_dim;
    int width = a->heads * d;
    const float *q = a->qkv + (size_t)a->start[s] * a->ld + (size_t)h * d;
    clip_bsrc keys = {q + width, CLIP_F32, a->ld, 0, NULL};
    clip_bsrc vals = {q + 2 * width, CLIP_F32, a->ld, 1, NULL};
    float *pack = worker_work(j->k, worker), *scores = pack + GEMM_PACK_FLOATS;
    float *out = a->out + (size_t)a->start[s] * a->ldo + (size_t)h * d;
    const clip_simd_ops *ops = simd_ops(j->k->isa);
    float scale = 1.0f / sqrtf((float)d);

    gemm_one(j->k->isa, q, a->ld, &keys, d, scores, T, T, T, pack);
    for (int r = 0; r < T; r++) {
        float *row = scores + (size_t)r * T;
        int n = a->causal ? r + 1 : T;
        if (ops) ops->softmax(row, n, scale);
        else softmax_ref(row, n, scale);
        memset(row + n, 0, (size_t)(T - n) * sizeof *row);
    }
    gemm_one(j->k->isa, scores, T, &vals, T, out, a->ldo, d, T, pack);
}

void clip_attention(const clip_kctx *k, const clip_attention_args *a)
{
    attn_job j = {k, a};
    iris_pool_run(k->pool, a->n_seq * a->heads, attn_task, &j);
}

/* ------------------------------------------------------------ row kernels */

void clip_softmax_row(clip_isa isa, float *x, int n, float scale)
{
    const clip_simd_ops *ops = simd_ops(isa);
    if (ops) ops->softmax(x, n, scale);
    else softmax_ref(x, n, scale);
}

void clip_activation(clip_isa isa, float *x, int n, clip_epilogue epi)
{
    const clip_simd_ops *ops = simd_ops(isa);
    if (ops) {
        ops->activation(x, n, epi);
        return;
    }
    for (int i = 0; i < n; i++) x[i] = act_ref(x[i], epi);
}

void clip_l2_normalize(float *x, int n)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    if (ss <= 0.0) return;
    float inv = (float)(1.0 / sqrt(ss));
    for (int i = 0; i < n; i++) x[i] *= inv;
}
