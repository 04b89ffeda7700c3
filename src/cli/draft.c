/* draft.c - the speculative-decoding flags shared by `run`, `chat`, `generate`, `serve` and `bench`:
 * --draft MODEL, --draft-n K; loading the draft with the target's load flags after checking that it
 * shares the target's vocabulary. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const char CLI_DRAFT_FLAGS[] =
    "  --draft MODEL         speculative decoding: MODEL (a smaller model with the same tokenizer)\n"
    "                        drafts tokens that this model verifies in one pass; greedy output is\n"
    "                        unchanged, sampled output keeps this model's distribution\n"
    "  --draft-n K|auto      tokens drafted per step (default 7, at most 32); auto: from 7, 2 more\n"
    "                        after a step whose drafts were all kept, 1 fewer after a rejection\n";

int cli_draft_flag(int argc, char **argv, int *i, cli_draft_opts *d) {
    const char *a = argv[*i];
    if (!strcmp(a, "--draft")) {
        if (!(d->model = *i + 1 < argc ? argv[++*i] : NULL) || !*d->model)
            return cli_fail("--draft needs a model (a directory, .gguf file or hub name)"), -1;
        return 1;
    }
    if (!strcmp(a, "--draft-n")) {
        long v;
        if (*i + 1 < argc && !strcmp(argv[*i + 1], "auto")) {
            ++*i;
            d->n = QWEN3_DRAFT_AUTO;
            return 1;
        }
        if (cli_int(a, *i + 1 < argc ? argv[++*i] : NULL, 1, QWEN3_MAX_DRAFT, &v)) return -1;
        d->n = (int)v;
        return 1;
    }
    return 0;
}

qwen3_model *cli_draft_load(const cli_draft_opts *d, const char *target_dir, const qwen3_model *target,
                            const qwen3_tokenizer *tok, const cli_model_opts *o) {
    qwen3_err e = {0};
    qwen3_tokenizer *own = NULL, *dtok = NULL;
    qwen3_model *m = NULL;
    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s", target_dir); /* cli_model_path's buffers rotate */
    if (!tok) tok = own = qwen3_tokenizer_load(tdir, NULL); /* ids-only use: compare when it has one */
    const char *dir = cli_model_path(d->model, QWEN3_NEED_WEIGHTS | (tok ? QWEN3_NEED_TOKENIZER : 0), o->pull);
    if (!dir) goto done;
    if (tok) {
        if (!(dtok = qwen3_tokenizer_load(dir, &e))) { cli_fail("--draft %s: %s", d->model, e.msg); goto done; }
        if (qwen3_tokenizer_same_vocab(tok, dtok, &e)) {
            cli_fail("--draft %s: its tokenizer is not the one of %s (%s); a draft must share the model's tokenizer, "
                     "as the smaller models of the same family do", d->model, tdir, e.msg);
            goto done;
        }
    }
    cli_model_opts lo = *o;
    lo.load.mpi_local = 1; /* under MPI the small draft runs on rank 0 alone */
    if (!(m = cli_load_model(dir, &lo))) goto done;
    int dv = qwen3_model_config(m)->vocab_size, tv = qwen3_model_config(target)->vocab_size;
    if (dv != tv) {
        cli_fail("--draft %s: its vocabulary has %d ids and the model's %d; a draft must share the model's "
                 "vocabulary", d->model, dv, tv);
        qwen3_model_free(m);
        m = NULL;
    }
done:
    qwen3_tokenizer_free(own);
    qwen3_tokenizer_free(dtok);
    return m;
}

void cli_draft_print_stats(const qwen3_gen_stats *s) {
    if (!s->draft_steps) return;
    fprintf(stderr, "draft: %d of %d drafted tokens accepted (%.1f%%), %.2f tokens per target pass, draft %.0f ms of %.0f ms\n",
            s->draft_accepted, s->draft_tokens, s->draft_tokens ? 100.0 * s->draft_accepted / s->draft_tokens : 0.0,
            (double)(s->draft_accepted + s->draft_steps) / s->draft_steps, 1e3 * s->draft_seconds,
            1e3 * (s->decode_seconds + s->prefill_seconds));
}
