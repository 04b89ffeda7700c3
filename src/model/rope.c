/* rope.c - RoPE frequencies, with YaRN when configured, as transformers' rope init functions compute
 * them (modeling_rope_utils.py: _compute_default_rope_parameters, _compute_yarn_parameters):
 *   inv_freq[i] = 1 / theta^(2i/d)
 *   YaRN: blend of extrapolation (inv_freq) and interpolation (inv_freq / factor) by a linear ramp
 *   between the correction dims of beta_fast and beta_slow (floored/ceiled: "truncate"), and cos/sin
 *   scaled by attention_factor (default 0.1*ln(factor) + 1).
 * transformers keeps inv_freq and the angles in float32; so do we: angle = (float)pos * inv_freq,
 * rounded to float, then cos/sin of that float. */
#include <math.h>
#include <stdlib.h>

#include "model/model.h"

static double correction_dim(double rotations, int dim, double base, double max_pos) {
    return (dim * log(max_pos / (rotations * 2 * M_PI))) / (2 * log(base));
}

int model_init_rope(qwen3_model *m, qwen3_err *e) {
    const qwen3_config *c = &m->c;
    int half = c->head_dim / 2;
    m->inv_freq = malloc(sizeof(float) * (size_t)half);
    if (!m->inv_freq) return qerr(e, "out of memory");
    m->rope_mscale = 1.0f;
    double low = 0, high = 0;
    if (c->yarn) {
        low = floor(correction_dim(c->yarn_beta_fast, c->head_dim, c->rope_theta, c->yarn_original_max_position_embeddings));
        high = ceil(correction_dim(c->yarn_beta_slow, c->head_dim, c->rope_theta, c->yarn_original_max_position_embeddings));
        if (low < 0) low = 0;
        if (high > c->head_dim - 1) high = c->head_dim - 1;
        if (low == high) high += 0.001;
        m->rope_mscale = (float)c->yarn_attention_factor;
    }
    for (int i = 0; i < half; i++) {
        float expo = (float)(2 * i) / (float)c->head_dim;
        float pos_freq = (float)pow(c->rope_theta, (double)expo);
        float extra = 1.0f / pos_freq;
        if (!c->yarn) {
            m->inv_freq[i] = extra;
            continue;
        }
        float inter = 1.0f / ((float)c->yarn_factor * pos_freq);
        float ramp = (float)(((double)i - low) / (high - low));
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        float extra_factor = 1.0f - ramp;
        m->inv_freq[i] = inter * (1.0f - extra_factor) + extra * extra_factor;
    }
    return 0;
}

void model_rope_at(const qwen3_model *m, int pos, float *cos_out, float *sin_out) {
    int half = m->c.head_dim / 2;
    for (int i = 0; i < half; i++) {
        float a = (float)pos * m->inv_freq[i];
        cos_out[i] = (float)cos((double)a) * m->rope_mscale;
        sin_out[i] = (float)sin((double)a) * m->rope_mscale;
    }
}
