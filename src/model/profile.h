/* profile.h - where the time of forward passes goes, per step of the pass (qwen3 bench --profile).
 * When qwen3_model.prof points at one, qwen3_forward adds each step's wall time and call count to it;
 * NULL (the default) reads no clock. Products are timed apart from the preparation of their input
 * (activations quantized to int8 or packed), and each weight matrix by its role. Steps that run on
 * the pool include the caller's wait for the other threads (the pool's own hand-off timing,
 * qpool_timing, gives that part). Reads only the clock: the results of a pass do not change. */
#ifndef QWEN3_MODEL_PROFILE_H
#define QWEN3_MODEL_PROFILE_H

typedef enum {
    PROF_SETUP,      /* checks, buffers, embedding rows, RoPE tables */
    PROF_NORM,       /* input / post-attention / final RMSNorm */
    PROF_ACT,        /* activations quantized (int8) or packed for the products */
    PROF_QKV,        /* q, k and v projections (one dispatch) */
    PROF_QK_ROPE,    /* QK-Norm, RoPE, cache write */
    PROF_ATTN,       /* attention over the cache */
    PROF_WO,
    PROF_RESIDUAL,   /* residual adds */
    PROF_GATE_UP,    /* gate and up projections (one dispatch) */
    PROF_SILU,
    PROF_DOWN,
    PROF_ROUTER,     /* MoE router product */
    PROF_ROUTE,      /* softmax, top-k, grouping by expert */
    PROF_EXPERTS,    /* the chosen experts' products (gate, up, silu, down) */
    PROF_COMBINE,    /* MoE weighted sum */
    PROF_LM_HEAD,    /* final norm excluded: the vocabulary product */
    PROF_ALLREDUCE,  /* MPI tensor / expert parallelism: summing the ranks' partial block outputs */
    PROF_N
} prof_op;

typedef struct model_profile {
    double s[PROF_N];   /* seconds per step */
    long calls[PROF_N];
    double total_s;     /* whole qwen3_forward calls */
    long passes;
    long moe_blocks, experts_run; /* MoE blocks run, and the distinct experts they ran */
} model_profile;

static const char *const prof_names[PROF_N] = {
    "setup (checks, buffers, embedding, RoPE tables)", "RMSNorm (input, post-attention, final)",
    "activations to int8 / packed", "q, k, v projections", "QK-Norm + RoPE + cache write",
    "attention", "o projection", "residual adds", "gate, up projections", "SiLU * up",
    "down projection", "MoE router", "MoE routing (softmax, top-k, grouping)", "MoE experts (gate, up, SiLU, down)",
    "MoE combine", "LM head", "MPI all-reduce (tensor / expert parallelism)",
};

#endif
