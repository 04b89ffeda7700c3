/* embed.c - qwen3_embed: an embedding by last-token pooling (Qwen3-Embedding).
 *
 * Qwen3-Embedding is a Qwen3 causal model whose embedding is the final hidden state of the last
 * token (after the final RMSNorm: transformers' last_hidden_state), L2-normalised (the model card's
 * last_token_pool + F.normalize). The text's ids are run in a sequence of their own, prefilled in
 * chunks (the logits of no position are computed; the last chunk asks for the hidden state only). */
#include <math.h>
#include <stdlib.h>

#include "model/model.h"

#define EMBED_CHUNK 512

int qwen3_embed(qwen3_model *m, const int32_t *ids, int n, float *out, qwen3_err *e) {
    if (!m || !ids || !out) return qerr(e, "embed: model, ids and output are required");
    if (n < 1) return qerr(e, "embed: no tokens (an empty input has no last token to pool)");
    qwen3_seq *s = qwen3_seq_new(m, n, e);
    if (!s) return -1;
    int rc = 0;
    for (int t0 = 0; t0 < n && !rc; t0 += EMBED_CHUNK) {
        int k = n - t0 < EMBED_CHUNK ? n - t0 : EMBED_CHUNK;
        qwen3_batch_item it = {s, ids + t0, k, t0 + k == n ? QWEN3_LOGITS_HIDDEN : QWEN3_LOGITS_NONE, out};
        rc = qwen3_forward(m, &it, 1, e);
    }
    qwen3_seq_free(s);
    if (rc) return -1;
    int H = m->c.hidden_size;
    double ss = 0;
    for (int i = 0; i < H; i++) ss += (double)out[i] * out[i];
    double inv = 1.0 / fmax(sqrt(ss), 1e-12); /* F.normalize's eps */
    for (int i = 0; i < H; i++) out[i] = (float)(out[i] * inv);
    return 0;
}
