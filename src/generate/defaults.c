/* defaults.c - the sampling defaults per mode: the one place that decides them.
 *
 * Qwen3's model cards: thinking mode T 0.6, top-p 0.95, top-k 20, min-p 0 (and "do not use greedy
 * decoding": it loops); non-thinking mode T 0.7, top-p 0.8, top-k 20, min-p 0. The checkpoints'
 * generation_config.json carries the thinking-mode values (it is what transformers' generate() uses
 * by default), so when a model directory has one its values win for the thinking mode; the
 * non-thinking values only exist in the model card. A value of the wrong type or out of range in
 * that file is ignored (the defaults stay): the file is advisory, and the function cannot fail. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "format/mdir.h"
#include "generate/gen.h"

static int num(json_t *o, const char *key, double *out) {
    json_t *v = json_object_get(o, key);
    if (!v || !json_is_number(v)) return 0;
    *out = json_number_value(v);
    return 1;
}

void qwen3_sampling_defaults(qwen3_sampling *s, int thinking, const char *model_dir) {
    memset(s, 0, sizeof *s);
    s->temperature = thinking ? 0.6f : 0.7f;
    s->top_p = thinking ? 0.95f : 0.8f;
    s->top_k = 20;
    s->min_p = 0;
    s->repetition_penalty = 1;
    if (!thinking || !model_dir) return;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/" MDIR_GENERATION, model_dir) >= (int)sizeof path) return;
    json_t *o = json_load_file(path, 0, NULL);
    if (!o) return;
    if (json_is_object(o)) {
        double v;
        json_t *ds = json_object_get(o, "do_sample");
        if (json_is_false(ds)) {
            s->temperature = 0; /* the file asks for greedy decoding */
        } else if (num(o, "temperature", &v) && v >= 0 && v < 1e6) {
            s->temperature = (float)v;
        }
        if (num(o, "top_p", &v) && v > 0 && v <= 1) s->top_p = (float)v;
        if (num(o, "top_k", &v) && v >= 0 && v < 1e9) s->top_k = (int)v;
        if (num(o, "min_p", &v) && v >= 0 && v <= 1) s->min_p = (float)v;
        if (num(o, "repetition_penalty", &v) && v > 0 && v < 1e6) s->repetition_penalty = (float)v;
    }
    json_decref(o);
}
