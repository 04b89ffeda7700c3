/* embed.c - POST /v1/embeddings (OpenAI's shape) for Qwen3-Embedding checkpoints.
 *
 * input: a string, an array of strings, an array of token ids, or an array of such arrays (at most
 * 2048 inputs, each within the context). Strings are encoded as the model's tokenizer does (special
 * token text becomes its id) and get <|endoftext|> appended (Qwen3-Embedding's tokenizer.json
 * post-processor appends it); token ids are used as given. encoding_format "float" (default) or
 * "base64" (the little-endian float32 bytes, as OpenAI sends them); dimensions N keeps the first N
 * values and normalises again (Matryoshka, which Qwen3-Embedding is trained for). Each input is one
 * forward pass, taken between two of the engine's steps (srv_sched_embed). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/json.h"
#include "server/routes/routes.h"
#include "server/scheduler.h"
#include "server/server.h"

#define MAX_INPUTS 2048

static enum MHD_Result reply(srv_http_req *q, int status, json_t *o) {
    size_t len = 0;
    char *b = jx_dump(o, &len);
    json_decref(o);
    return srv_reply_json(q, status, b, len);
}

static char *b64(const unsigned char *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc(4 * ((n + 2) / 3) + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *w++ = A[v >> 18 & 63];
        *w++ = A[v >> 12 & 63];
        *w++ = i + 1 < n ? A[v >> 6 & 63] : '=';
        *w++ = i + 2 < n ? A[v & 63] : '=';
    }
    *w = 0;
    return o;
}

/* One input -> ids (malloc'd). -1 with e filled. */
static int input_ids(srv_http_req *q, json_t *v, size_t idx, int32_t **ids, int *n, srv_error *e) {
    const qwen3_tokenizer *tok = q->s->tok;
    int vocab = qwen3_model_config(q->s->model)->vocab_size;
    if (json_is_string(v)) {
        if (!json_string_length(v)) return srv_bad(e, "input", "input[%zu] is an empty string", idx);
        qwen3_err qe = {0};
        int k = qwen3_encode(tok, json_string_value(v), json_string_length(v), 1, ids, &qe);
        if (k < 0) return srv_bad(e, "input", "input[%zu]: %s", idx, qe.msg);
        int32_t end = qwen3_token_id(tok, "<|endoftext|>");
        if (end >= 0) {
            int32_t *ni = realloc(*ids, sizeof *ni * (size_t)(k + 1));
            if (!ni) return srv_fail(e, 500, NULL, NULL, "out of memory");
            *ids = ni;
            ni[k++] = end;
        }
        *n = k;
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        size_t k = json_array_size(v);
        if (!(*ids = malloc(sizeof **ids * k))) return srv_fail(e, 500, NULL, NULL, "out of memory");
        for (size_t i = 0; i < k; i++) {
            json_t *t = json_array_get(v, i);
            if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= vocab)
                return srv_bad(e, "input", "input[%zu][%zu] must be a token id in [0, %d)", idx, i, vocab);
            (*ids)[i] = (int32_t)json_integer_value(t);
        }
        *n = (int)k;
    } else {
        return srv_bad(e, "input", "input[%zu] must be a non-empty string or a non-empty array of token ids", idx);
    }
    if (*n < 1) return srv_bad(e, "input", "input[%zu] is empty", idx);
    if (*n > q->s->n_ctx) return srv_bad(e, "input", "input[%zu] has %d tokens, more than the context of %d", idx, *n, q->s->n_ctx);
    return 0;
}

enum MHD_Result srv_route_embeddings(srv_http_req *q) {
    srv_error e;
    json_t *body = srv_body_json(q, &e);
    if (!body) return srv_reply_error(q, &e, 0);
    json_t *out = NULL, *data = NULL;
    float *v = NULL;
    int32_t *ids = NULL;
    const char *fmt = NULL, *model = NULL;
    long long dims = 0;
    int H = qwen3_model_config(q->s->model)->hidden_size, total = 0, k;
    if (jx_str(body, "model", &model, &e) < 0) goto bad;
    if (model && strcmp(model, q->s->cfg.model_name)) {
        srv_fail(&e, 404, "model", "model_not_found", "The model '%s' does not exist; this server serves '%s'", model,
                 q->s->cfg.model_name);
        goto bad;
    }
    if (jx_str(body, "encoding_format", &fmt, &e) < 0) goto bad;
    if (fmt && strcmp(fmt, "float") && strcmp(fmt, "base64")) {
        srv_bad(&e, "encoding_format", "'encoding_format' must be \"float\" or \"base64\", got \"%s\"", fmt);
        goto bad;
    }
    if ((k = jx_int(body, "dimensions", 1, H, &dims, &e)) < 0) goto bad;
    if (!k) dims = H;
    json_t *in = json_object_get(body, "input");
    if (!in) { srv_bad(&e, "input", "'input' is required"); goto bad; }
    /* one input (a string or one array of ids) or a list of them */
    int many = json_is_array(in) && json_array_size(in) > 0 && !json_is_integer(json_array_get(in, 0));
    size_t n_in = many ? json_array_size(in) : 1;
    if (json_is_array(in) && !json_array_size(in)) { srv_bad(&e, "input", "'input' is an empty list"); goto bad; }
    if (n_in > MAX_INPUTS) { srv_bad(&e, "input", "'input' holds %zu inputs; at most %d are allowed", n_in, MAX_INPUTS); goto bad; }
    if (!(v = malloc(sizeof *v * (size_t)H))) { srv_fail(&e, 500, NULL, NULL, "out of memory"); goto bad; }
    data = json_array();
    for (size_t i = 0; i < n_in; i++) {
        int n = 0;
        if (input_ids(q, many ? json_array_get(in, i) : in, i, &ids, &n, &e)) goto bad;
        qwen3_err qe = {0};
        if (srv_sched_embed(q->s->sched, ids, n, v, &qe)) { srv_fail(&e, 500, NULL, NULL, "%s", qe.msg); goto bad; }
        free(ids);
        ids = NULL;
        total += n;
        if (dims < H) {
            double ss = 0;
            for (int j = 0; j < dims; j++) ss += (double)v[j] * v[j];
            double inv = ss > 0 ? 1.0 / sqrt(ss) : 1.0;
            for (int j = 0; j < dims; j++) v[j] = (float)(v[j] * inv);
        }
        json_t *emb;
        if (fmt && !strcmp(fmt, "base64")) {
            unsigned char *le = malloc(4 * (size_t)dims); /* little-endian, whatever the host */
            char *t = NULL;
            if (le) {
                for (int j = 0; j < dims; j++) {
                    uint32_t u;
                    memcpy(&u, &v[j], 4);
                    for (int b = 0; b < 4; b++) le[4 * j + b] = (unsigned char)(u >> (8 * b));
                }
                t = b64(le, 4 * (size_t)dims);
                free(le);
            }
            if (!t) { srv_fail(&e, 500, NULL, NULL, "out of memory"); goto bad; }
            emb = json_string(t);
            free(t);
        } else {
            emb = json_array();
            for (int j = 0; j < dims; j++) json_array_append_new(emb, json_real(v[j]));
        }
        json_t *d = json_object();
        json_object_set_new(d, "object", json_string("embedding"));
        json_object_set_new(d, "index", json_integer((json_int_t)i));
        json_object_set_new(d, "embedding", emb);
        json_array_append_new(data, d);
    }
    out = json_object();
    json_object_set_new(out, "object", json_string("list"));
    json_object_set_new(out, "data", data);
    json_object_set_new(out, "model", json_string(q->s->cfg.model_name));
    json_t *u = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(total));
    json_object_set_new(u, "total_tokens", json_integer(total));
    json_object_set_new(out, "usage", u);
    free(v);
    json_decref(body);
    return reply(q, 200, out);
bad:
    free(ids);
    free(v);
    json_decref(data);
    json_decref(body);
    return srv_reply_error(q, &e, 0);
}
