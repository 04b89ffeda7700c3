/* cmd_perplexity.c - `qwen3 perplexity MODEL -f FILE [--kl-base BASE]`: what quantization costs,
 * measured.
 *
 * The file is tokenized with MODEL's tokenizer (or --tokenizer DIR) and cut into chunks of -c tokens;
 * added-token text such as "<|im_start|>" is plain text unless --special (llama-perplexity's default,
 * so both engines score the same tokens; a text of rendered chats needs --special, see read_ids);
 * each chunk is one prefill with the logits of every position, starting from an empty cache, and every
 * position but the first predicts the next token: perplexity = exp(mean negative log-likelihood).
 * With --kl-base, BASE (the BF16 original, say) runs the same chunks and each position's next-token
 * distributions are compared: mean and maximum KL(base || model), and top-1 agreement. Softmax and
 * sums in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* log-softmax normaliser of one row: max + log(sum exp(x - max)) */
static double log_norm(const float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    double s = 0;
    for (int i = 0; i < n; i++) s += exp((double)x[i] - m);
    return m + log(s);
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* One chunk from an empty cache; the logits of its last `last` positions. The positions before them
 * are one pass with no logits: batch invariance makes this the same bits as one pass over all. */
static int run_chunk(qwen3_model *m, qwen3_seq *s, const int32_t *ids, int n, int last, float *out, qwen3_err *e) {
    if (qwen3_seq_truncate(s, 0, e)) return -1;
    if (n > last) {
        qwen3_batch_item pre = {s, ids, n - last, QWEN3_LOGITS_NONE, NULL};
        if (qwen3_forward(m, &pre, 1, e)) return -1;
    }
    qwen3_batch_item it = {s, ids + (n - last), last, QWEN3_LOGITS_ALL, out};
    return qwen3_forward(m, &it, 1, e);
}

typedef struct ppl_opts {
    cli_model_opts o;
    const char *dir, *file, *base, *tokdir;
    const char *base_kv; /* --kl-base-kv */
    long ctx, max_chunks, last;
    int special; /* --special: added-token text becomes the token */
} ppl_opts;

/* What the scoring adds up (sums in double). */
typedef struct ppl_sums {
    double nll, bnll, kl_sum, kl_max;
    long scored, agree;
} ppl_sums;

static void usage(void) {
    printf("usage: qwen3 perplexity MODEL -f FILE [--kl-base BASE] [-c 512] [--chunks N] [flags]\n\n"
           "Perplexity of MODEL over FILE (UTF-8 text), in chunks of -c tokens each run from an empty\n"
           "cache; every position but a chunk's first is scored. With --kl-base, the mean and maximum\n"
           "KL(BASE || MODEL) of the next-token distributions and their top-1 agreement.\n\n"
           "  -f FILE           the text\n"
           "  --kl-base DIR     the reference model (e.g. the BF16 original of a quantized MODEL)\n"
           "  -c N              tokens per chunk (default 512)\n"
           "  --chunks N        score at most N chunks (default: all)\n"
           "  --score-last N    score only the last N positions of each chunk (the rest is context;\n"
           "                    long chunks then need logits memory for N positions only)\n"
           "  --kl-base-kv TYPE the KV cache type of BASE (default: MODEL's); with BASE = MODEL and\n"
           "                    TYPE f32 this measures what a smaller KV cache type costs\n"
           "  --tokenizer DIR   tokenizer files from DIR (default: MODEL)\n"
           "  --special         added-token text (<|im_start|>, <think>, ...) becomes the token, as HF's\n"
           "                    tokenizer does by default (default: plain text, as llama-perplexity)\n"
           "(--quant applies to MODEL only)\n%s", CLI_MODEL_FLAGS_FAST);
}

/* 0: parsed, paths resolved; 1: --help printed; 2: a bad flag (message printed). */
static int parse(int argc, char **argv, ppl_opts *p) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(); return 1; }
        if (!strcmp(a, "-f")) { if (!(p->file = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("-f needs a file"), 2; }
        else if (!strcmp(a, "--kl-base")) { if (!(p->base = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("--kl-base needs a model directory"), 2; }
        else if (!strcmp(a, "--tokenizer")) { if (!(p->tokdir = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("--tokenizer needs a directory"), 2; }
        else if (!strcmp(a, "-c")) { if (cli_int(a, i + 1 < argc ? argv[++i] : NULL, 2, 1 << 20, &p->ctx)) return 2; }
        else if (!strcmp(a, "--chunks")) { if (cli_int(a, i + 1 < argc ? argv[++i] : NULL, 1, 1 << 30, &p->max_chunks)) return 2; }
        else if (!strcmp(a, "--score-last")) { if (cli_int(a, i + 1 < argc ? argv[++i] : NULL, 1, 1 << 20, &p->last)) return 2; }
        else if (!strcmp(a, "--kl-base-kv")) { if (!(p->base_kv = i + 1 < argc ? argv[++i] : NULL)) return cli_fail("--kl-base-kv needs a type"), 2; }
        else if (!strcmp(a, "--exact")) p->o.load.fast = 0;
        else if (!strcmp(a, "--special")) p->special = 1;
        else {
            int r = cli_model_flag(argc, argv, &i, &p->o);
            if (r < 0) return 2;
            if (r) continue;
            if (a[0] == '-') return cli_fail("perplexity: unknown flag '%s' (see qwen3 perplexity --help)", a), 2;
            if (p->dir) return cli_fail("perplexity: more than one MODEL given"), 2;
            p->dir = a;
        }
    }
    if (!p->dir) return cli_fail("perplexity: MODEL directory missing (see qwen3 perplexity --help)"), 2;
    return 0;
}

/* FILE's text as ids, with the tokenizer of tokdir (added-token text as the tokens when special). n,
 * or -1 (message printed). Without special, a text that holds added-token spellings gets a note: a
 * model trained on chats never saw "<|im_start|>" as the plain-text pieces "<|", "im", "_start", ...,
 * and scores them as tokens it never saw (perplexities of 1e4-2e5 on rendered chats, issue 9). */
static int read_ids(const char *file, const char *tokdir, int special, int32_t **ids) {
    qwen3_err e = {0};
    FILE *f = fopen(file, "rb");
    if (!f) return cli_fail("%s: cannot open", file), -1;
    size_t len = 0;
    const char *why = NULL;
    char *text = cli_read_all(f, (size_t)-1, &len, &why);
    fclose(f);
    if (!text) return cli_fail("%s: %s", file, why), -1;
    qwen3_tokenizer *tok = qwen3_tokenizer_load(tokdir, &e);
    if (!tok) { free(text); return cli_fail("%s", e.msg), -1; }
    int n = qwen3_encode(tok, text, len, special, ids, &e);
    int32_t *sp = NULL;
    int ns = n >= 0 && !special ? qwen3_encode(tok, text, len, 1, &sp, &e) : -1;
    if (ns >= 0 && ns != n)
        fprintf(stderr, "qwen3: note: %s holds added-token text (<|im_start|>, <think>, ...), scored as plain text "
                        "(%d tokens; %d with --special, which a text of rendered chats needs)\n", file, n, ns);
    free(sp);
    qwen3_tokenizer_free(tok);
    free(text);
    if (n < 0) return cli_fail("%s: %s", file, e.msg), -1;
    if (n < 2) { free(*ids); return cli_fail("%s: %d tokens; need at least 2", file, n), -1; }
    return n;
}

/* The base model of --kl-base: MODEL's flags without --quant, its own --kl-base-kv. NULL (message
 * printed) on failure or a vocabulary that differs from m's. */
static qwen3_model *load_base(const ppl_opts *p, const qwen3_model *m) {
    cli_model_opts bo = p->o;
    bo.load.quant = QWEN3_F32;
    if (p->base_kv) {
        char *args[2] = {"--kv", (char *)p->base_kv};
        int k = 0;
        if (cli_model_flag(2, args, &k, &bo) != 1) return NULL;
    }
    qwen3_model *bm = cli_load_model(p->base, &bo);
    if (bm && qwen3_model_config(bm)->vocab_size != qwen3_model_config(m)->vocab_size) {
        cli_fail("--kl-base %s: vocabulary of %d differs from MODEL's %d", p->base, qwen3_model_config(bm)->vocab_size,
                 qwen3_model_config(m)->vocab_size);
        qwen3_model_free(bm);
        return NULL;
    }
    return bm;
}

/* Adds the scored positions of one chunk x[ctx] (logits lg of its last `last` positions; bl the
 * base's, or NULL) to the sums. */
static void score_chunk(ppl_sums *z, const int32_t *x, long ctx, long last, const float *lg, const float *bl, int V) {
    for (long t = ctx - last; t + 1 < ctx; t++) {
        const float *l = lg + (size_t)(t - (ctx - last)) * V;
        double ln = log_norm(l, V);
        z->nll += ln - l[x[t + 1]];
        if (bl) {
            const float *b = bl + (size_t)(t - (ctx - last)) * V;
            double bn = log_norm(b, V), kl = 0;
            z->bnll += bn - b[x[t + 1]];
            for (int v = 0; v < V; v++) {
                double lp = b[v] - bn, lq = l[v] - ln;
                kl += exp(lp) * (lp - lq);
            }
            z->kl_sum += kl;
            z->kl_max = kl > z->kl_max ? kl : z->kl_max;
            z->agree += argmax(l, V) == argmax(b, V);
        }
        z->scored++;
    }
}

/* Runs every chunk through m (and bm when given) and prints the figures. 0, or 1 (message printed). */
static int score(const ppl_opts *p, qwen3_model *m, qwen3_model *bm, const int32_t *ids, long chunks) {
    const int V = qwen3_model_config(m)->vocab_size;
    const long ctx = p->ctx, last = p->last;
    qwen3_err e = {0};
    ppl_sums z = {0};
    int rc = 1;
    qwen3_seq *s = NULL, *bs = NULL;
    float *lg = malloc(sizeof(float) * (size_t)last * V), *bl = bm ? malloc(sizeof(float) * (size_t)last * V) : NULL;
    if (!lg || (bm && !bl)) { cli_fail("out of memory for %ld x %d logits", last, V); goto done; }
    if (!(s = qwen3_seq_new(m, (int)ctx, &e)) || (bm && !(bs = qwen3_seq_new(bm, (int)ctx, &e)))) { cli_fail("%s", e.msg); goto done; }
    for (long c = 0; c < chunks; c++) {
        const int32_t *x = ids + c * ctx;
        for (int i = 0; i < ctx; i++)
            if (x[i] >= V) { cli_fail("%s: token %d is outside MODEL's vocabulary of %d", p->file, x[i], V); goto done; }
        if (run_chunk(m, s, x, (int)ctx, (int)last, lg, &e) || (bm && run_chunk(bm, bs, x, (int)ctx, (int)last, bl, &e))) {
            cli_fail("%s", e.msg);
            goto done;
        }
        score_chunk(&z, x, ctx, last, lg, bm ? bl : NULL, V);
        fprintf(stderr, "\rchunk %ld/%ld: perplexity %.4f", c + 1, chunks, exp(z.nll / (double)z.scored));
    }
    fprintf(stderr, "\n");
    printf("perplexity %.4f over %ld scored tokens (%ld chunks of %ld, %s)\n", exp(z.nll / (double)z.scored), z.scored,
           chunks, ctx, p->dir);
    if (bm) {
        printf("KV cache: model %s, base %s\n", qwen3_dtype_name(qwen3_model_kv_type(m)), qwen3_dtype_name(qwen3_model_kv_type(bm)));
        printf("base perplexity %.4f (%s); KL(base || model) mean %.6g max %.6g; top-1 agreement %.2f%%\n",
               exp(z.bnll / (double)z.scored), p->base, z.kl_sum / (double)z.scored, z.kl_max,
               100.0 * (double)z.agree / (double)z.scored);
    }
    rc = 0;
done:
    qwen3_seq_free(s);
    qwen3_seq_free(bs);
    free(lg);
    free(bl);
    return rc;
}

int cmd_perplexity(int argc, char **argv) {
    ppl_opts p = {.ctx = 512};
    p.o.load.fast = 1;
    int r = parse(argc, argv, &p);
    if (r) return r == 1 ? 0 : r;
    if (!(p.dir = cli_model_path(p.dir, QWEN3_NEED_WEIGHTS | (p.tokdir ? 0 : QWEN3_NEED_TOKENIZER), p.o.pull))) return 1;
    if (p.tokdir && !(p.tokdir = cli_model_path(p.tokdir, QWEN3_NEED_TOKENIZER, 0))) return 1;
    if (p.base && !(p.base = cli_model_path(p.base, QWEN3_NEED_WEIGHTS, p.o.pull))) return 1;
    if (!p.file) return cli_fail("perplexity: -f FILE is required"), 2;
    int32_t *ids = NULL;
    int n = read_ids(p.file, p.tokdir ? p.tokdir : p.dir, p.special, &ids);
    if (n < 0) return 1;
    if (p.ctx > n) p.ctx = n;
    if (p.last == 0 || p.last > p.ctx) p.last = p.ctx;
    long chunks = n / p.ctx;
    if (p.max_chunks && chunks > p.max_chunks) chunks = p.max_chunks;
    if (p.o.ctx == 0) p.o.ctx = (int)p.ctx;
    int rc = 1;
    qwen3_model *m = cli_load_model(p.dir, &p.o), *bm = NULL;
    if (m && (!p.base || (bm = load_base(&p, m)))) rc = score(&p, m, bm, ids, chunks);
    free(ids);
    qwen3_model_free(m);
    qwen3_model_free(bm);
    return rc;
}
