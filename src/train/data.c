/* data.c - documents -> one token stream (each document's ids, then <|endoftext|>).
 *
 * JSONL: one JSON object per line, {"text": "..."} (encoded as plain text: special-token text in it
 * stays text) or {"messages": [...]} (rendered with the Qwen3 chat template, whose special tokens
 * become their ids). Blank lines are skipped; anything else is an error naming the file and line. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "qwen3.h"
#include "qwen3_train.h"
#include "train/data.h"

#define EOT_ID 151643

typedef struct { int32_t *v; float *w; int64_t n, cap; int weighted; } idvec;

/* Appends a document's ids and <|endoftext|>; with weights, w[i] is the loss weight of predicting
 * ids[i] (w NULL: 1 for every id), and the <|endoftext|> after a weighted document gets weight 0
 * when w is given (a chat turn ends with <|im_end|>; what follows it is not the reply). */
static int push(idvec *s, const int32_t *ids, const float *w, int n) {
    if (s->n + n + 1 > s->cap) {
        int64_t cap = s->cap ? s->cap : 1 << 16;
        while (s->n + n + 1 > cap) cap *= 2;
        int32_t *v = realloc(s->v, sizeof *v * (size_t)cap);
        if (!v) return -1;
        s->v = v;
        if (s->weighted) {
            float *nw = realloc(s->w, sizeof *nw * (size_t)cap);
            if (!nw) return -1;
            s->w = nw;
        }
        s->cap = cap;
    }
    memcpy(s->v + s->n, ids, sizeof *ids * (size_t)n);
    if (s->weighted)
        for (int i = 0; i <= n; i++) s->w[s->n + i] = w ? (i < n ? w[i] : 0.0f) : 1.0f;
    s->n += n;
    s->v[s->n++] = EOT_ID;
    return 0;
}

/* The SFT loss mask of one rendered conversation (ids of the Qwen3 chat template's text): weight 1 on
 * the replies the template renders with their reasoning, i.e. every assistant turn after the last
 * user query (a user turn that is not a <tool_response>), from the first token after
 * "<|im_start|>assistant\n" through its <|im_end|>; 0 elsewhere (the system and user turns, the
 * role headers, earlier assistant turns, which the template shows without their reasoning and so
 * are context, not targets). Returns the number of weighted tokens, or -1 (e says why). */
static int sft_mask(const qwen3_tokenizer *tok, const int32_t *ids, int n, float *w, qwen3_err *e) {
    int32_t im_start = qwen3_token_id(tok, "<|im_start|>"), im_end = qwen3_token_id(tok, "<|im_end|>");
    int32_t user = qwen3_token_id(tok, "user"), assistant = qwen3_token_id(tok, "assistant");
    int32_t nl = qwen3_token_id(tok, "\xc4\x8a"), tool_resp = qwen3_token_id(tok, "<tool_response>");
    if (im_start < 0 || im_end < 0 || user < 0 || assistant < 0 || nl < 0)
        return qerr(e, "the tokenizer lacks the chat tokens (<|im_start|>, <|im_end|>, user, assistant, newline)");
    int last_query = -1, cnt = 0;
    for (int i = 0; i + 1 < n; i++)
        if (ids[i] == im_start && ids[i + 1] == user && !(i + 3 < n && ids[i + 2] == nl && ids[i + 3] == tool_resp)) last_query = i;
    for (int i = 0; i < n; i++) w[i] = 0;
    for (int i = last_query + 1; i + 2 < n; i++) {
        if (ids[i] != im_start || ids[i + 1] != assistant) continue;
        if (ids[i + 2] != nl) return qerr(e, "an assistant turn's header is not followed by a lone newline token");
        int j = i + 3;
        for (; j < n; j++) {
            w[j] = 1;
            cnt++;
            if (ids[j] == im_end) break;
        }
        i = j;
    }
    if (!cnt) return qerr(e, "no assistant reply after the last user message: nothing to train on in SFT");
    return cnt;
}

int tdata_synth_stream(uint64_t seed, long n, const qwen3_tokenizer *tok, int32_t **ids, int64_t *n_ids, qwen3_err *e) {
    return tdata_synth_family_stream(seed, n, -1, 1, 3, tok, ids, n_ids, e);
}

int tdata_synth_family_stream(uint64_t seed, long n, int family, int lo, int hi, const qwen3_tokenizer *tok, int32_t **ids,
                              int64_t *n_ids, qwen3_err *e) {
    if (n <= 0) n = 20000;
    uint64_t rng = seed * 0x2545F4914F6CDD1Dull + 12345;
    sbuf q = {0}, sol = {0}, ans = {0}, txt = {0};
    idvec s = {0};
    int rc = -1;
    for (long i = 0; i < n; i++) {
        tsynth_family f = family >= 0 ? (tsynth_family)family : (tsynth_family)(i % TS_FAMILIES);
        int level = lo + (int)((family >= 0 ? i : i / TS_FAMILIES) % (hi - lo + 1));
        tsynth_example(&rng, f, level, &q, &sol, &ans);
        tsynth_text(&txt, &q, &sol, &ans);
        if (txt.oom || q.oom || sol.oom || ans.oom) { qerr(e, "out of memory"); goto out; }
        int32_t *v;
        int k = qwen3_encode(tok, txt.s, txt.len, 0, &v, e);
        if (k < 0) goto out;
        int bad = push(&s, v, NULL, k);
        free(v);
        if (bad) { qerr(e, "out of memory"); goto out; }
    }
    *ids = s.v;
    *n_ids = s.n;
    s.v = NULL;
    rc = 0;
out:
    free(s.v);
    sb_free(&q); sb_free(&sol); sb_free(&ans); sb_free(&txt);
    return rc;
}

int tdata_jsonl_stream(const char *path, const qwen3_tokenizer *tok, int32_t **ids, float **wts, int64_t *n_ids, qwen3_err *e) {
    size_t len;
    char *text = qfile_read(path, (size_t)4 << 30, &len, e);
    if (!text) return -1;
    idvec s = {0};
    s.weighted = wts != NULL;
    float *dw = NULL;
    int rc = -1;
    long line = 0;
    for (char *p = text, *end; p < text + len; p = end + 1) {
        end = memchr(p, '\n', (size_t)(text + len - p));
        if (!end) end = text + len;
        line++;
        size_t n = (size_t)(end - p);
        int blank = 1;
        for (size_t i = 0; i < n; i++) blank &= p[i] == ' ' || p[i] == '\t' || p[i] == '\r';
        if (blank) continue;
        json_error_t je;
        json_t *j = json_loadb(p, n, 0, &je);
        if (!json_is_object(j)) {
            json_decref(j);
            qerr(e, "%s:%ld: not a JSON object (%s); each line must be {\"text\": ...} or {\"messages\": [...]}", path, line, je.text);
            goto out;
        }
        json_t *t = json_object_get(j, "text"), *msgs = json_object_get(j, "messages");
        char *doc = NULL;
        size_t dn = 0;
        int special = 0;
        if (json_is_string(t)) {
            doc = strdup(json_string_value(t));
            dn = json_string_length(t);
        } else if (json_is_array(msgs)) {
            qwen3_err ce = {0};
            doc = qwen3_chat_render_json(QWEN3_CHAT_QWEN3, p, n, &dn, &ce);
            if (!doc) { json_decref(j); qerr(e, "%s:%ld: %s", path, line, ce.msg); goto out; }
            special = 1;
        } else {
            json_decref(j);
            qerr(e, "%s:%ld: the object has neither a \"text\" string nor a \"messages\" array", path, line);
            goto out;
        }
        json_decref(j);
        if (!doc) { qerr(e, "out of memory"); goto out; }
        int32_t *v;
        qwen3_err te = {0};
        int k = qwen3_encode(tok, doc, dn, special, &v, &te);
        free(doc);
        if (k < 0) { qerr(e, "%s:%ld: %s", path, line, te.msg); goto out; }
        const float *w = NULL;
        if (wts && special) { /* SFT: loss on the replies only; {"text"} documents keep weight 1 */
            float *nw = realloc(dw, sizeof *nw * (size_t)(k ? k : 1));
            if (!nw) { free(v); qerr(e, "out of memory"); goto out; }
            dw = nw;
            if (sft_mask(tok, v, k, dw, &te) < 0) { free(v); qerr(e, "%s:%ld: %s", path, line, te.msg); goto out; }
            w = dw;
        }
        int bad = push(&s, v, w, k);
        free(v);
        if (bad) { qerr(e, "out of memory"); goto out; }
    }
    if (!s.n) { qerr(e, "%s: no documents", path); goto out; }
    *ids = s.v;
    *n_ids = s.n;
    if (wts) *wts = s.w;
    s.v = NULL;
    s.w = NULL;
    rc = 0;
out:
    free(s.v);
    free(s.w);
    free(dw);
    free(text);
    return rc;
}

int qwen3_synth_write(FILE *f, uint64_t seed, long n, int lo, int hi, int format, qwen3_err *e) {
    if (lo < 1 || hi < lo || hi > 5) return qerr(e, "synth: levels must satisfy 1 <= lo <= hi <= 5 (got %d..%d)", lo, hi);
    if (format < 0 || format > 3) return qerr(e, "synth: format must be 0..3");
    uint64_t rng = seed * 0x2545F4914F6CDD1Dull + 12345;
    sbuf q = {0}, sol = {0}, ans = {0}, out = {0}, txt = {0};
    int rc = 0;
    for (long i = 0; i < n && !rc; i++) {
        tsynth_family fam = (tsynth_family)(i % TS_FAMILIES);
        int level = lo + (int)((i / TS_FAMILIES) % (hi - lo + 1));
        tsynth_example(&rng, fam, level, &q, &sol, &ans);
        if (format == 0) {
            tsynth_text(&txt, &q, &sol, &ans);
            json_t *j = json_pack("{s:s, s:s, s:i, s:s}", "text", txt.s, "family", tsynth_family_name(fam), "level", level, "answer", ans.s);
            char *d = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(j);
            if (!d) { rc = qerr(e, "out of memory"); break; }
            if (fprintf(f, "%s\n", d) < 0) rc = qerr(e, "synth: write failed");
            free(d);
        } else {
            int think = format == 1 || (format == 3 && i % 2 == 0);
            tsynth_chat_json(&out, &q, &sol, &ans, think);
            if (out.oom) { rc = qerr(e, "out of memory"); break; }
            if (fprintf(f, "%s\n", out.s) < 0) rc = qerr(e, "synth: write failed");
        }
    }
    sb_free(&q); sb_free(&sol); sb_free(&ans); sb_free(&out); sb_free(&txt);
    return rc;
}
