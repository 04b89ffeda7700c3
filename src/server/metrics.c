/* metrics.c - counters for GET /metrics (see metrics.h). Tokens/s is measured over a sliding window
 * of ten one-second buckets, so a scrape shows the recent rate rather than a lifetime average. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "server/metrics.h"

#define N_ROUTES 16
#define N_STATUS 16
#define WINDOW 10

struct srv_metrics {
    pthread_mutex_t mu;
    const char *route[N_ROUTES];
    int status[N_STATUS];
    unsigned long long count[N_ROUTES][N_STATUS];
    int n_routes, n_status;
    unsigned long long prompt_tokens, cached_tokens, generated_tokens, reasoning_tokens;
    unsigned long long draft_tokens, draft_accepted; /* speculative decoding (--draft) */
    unsigned long long finished[5]; /* none(unused), stop, length, cancel, error */
    unsigned long long steps;
    double step_seconds, ttft_sum;
    unsigned long long ttft_count;
    long bucket_sec[WINDOW];
    unsigned long long bucket_tok[WINDOW];
};

static long now_sec(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec;
}

srv_metrics *srv_metrics_new(void) {
    srv_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

void srv_metrics_free(srv_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void srv_metrics_request(srv_metrics *m, const char *route, int status) {
    pthread_mutex_lock(&m->mu);
    int r = 0, s = 0;
    while (r < m->n_routes && strcmp(m->route[r], route)) r++;
    if (r == m->n_routes && r < N_ROUTES) m->route[m->n_routes++] = route;
    while (s < m->n_status && m->status[s] != status) s++;
    if (s == m->n_status && s < N_STATUS) m->status[m->n_status++] = status;
    if (r < N_ROUTES && s < N_STATUS) m->count[r][s]++;
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_step(srv_metrics *m, int n_tokens, double seconds) {
    long t = now_sec();
    pthread_mutex_lock(&m->mu);
    m->steps++;
    m->step_seconds += seconds;
    m->generated_tokens += (unsigned long long)n_tokens;
    int b = (int)(t % WINDOW);
    if (m->bucket_sec[b] != t) { m->bucket_sec[b] = t; m->bucket_tok[b] = 0; }
    m->bucket_tok[b] += (unsigned long long)n_tokens;
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_done(srv_metrics *m, const qwen3_gen_stats *st, int finish, double ttft_s) {
    pthread_mutex_lock(&m->mu);
    m->prompt_tokens += (unsigned long long)st->prompt_tokens;
    m->cached_tokens += (unsigned long long)st->cached_tokens;
    m->reasoning_tokens += (unsigned long long)st->thinking_tokens;
    m->draft_tokens += (unsigned long long)st->draft_tokens;
    m->draft_accepted += (unsigned long long)st->draft_accepted;
    m->finished[finish >= 0 && finish <= 3 ? finish : 4]++;
    if (ttft_s >= 0) { m->ttft_sum += ttft_s; m->ttft_count++; }
    pthread_mutex_unlock(&m->mu);
}

char *srv_metrics_text(srv_metrics *m, int active, int queued, int parallel, int queue_cap, size_t *len) {
    sbuf b = {0};
    char line[256];
#define OUT(...) do { snprintf(line, sizeof line, __VA_ARGS__); sb_puts(&b, line); } while (0)
    pthread_mutex_lock(&m->mu);
    long t = now_sec();
    unsigned long long win = 0;
    for (int i = 0; i < WINDOW; i++)
        if (m->bucket_sec[i] > t - WINDOW && m->bucket_sec[i] < t) win += m->bucket_tok[i];
    OUT("# HELP qwen3_requests_total HTTP requests answered, by route and status.\n# TYPE qwen3_requests_total counter\n");
    for (int r = 0; r < m->n_routes; r++)
        for (int s = 0; s < m->n_status; s++)
            if (m->count[r][s]) OUT("qwen3_requests_total{route=\"%s\",status=\"%d\"} %llu\n", m->route[r], m->status[s], m->count[r][s]);
    OUT("# HELP qwen3_prompt_tokens_total Prompt tokens of finished generations.\n# TYPE qwen3_prompt_tokens_total counter\n");
    OUT("qwen3_prompt_tokens_total %llu\n", m->prompt_tokens);
    OUT("# HELP qwen3_cached_prompt_tokens_total Prompt tokens re-used from a cached prefix.\n# TYPE qwen3_cached_prompt_tokens_total counter\n");
    OUT("qwen3_cached_prompt_tokens_total %llu\n", m->cached_tokens);
    OUT("# HELP qwen3_generated_tokens_total Tokens generated (sampled or forced).\n# TYPE qwen3_generated_tokens_total counter\n");
    OUT("qwen3_generated_tokens_total %llu\n", m->generated_tokens);
    OUT("# HELP qwen3_draft_tokens_total Tokens the draft model proposed (--draft).\n# TYPE qwen3_draft_tokens_total counter\n");
    OUT("qwen3_draft_tokens_total %llu\n", m->draft_tokens);
    OUT("# HELP qwen3_draft_accepted_tokens_total Drafted tokens the model accepted.\n# TYPE qwen3_draft_accepted_tokens_total counter\n");
    OUT("qwen3_draft_accepted_tokens_total %llu\n", m->draft_accepted);
    OUT("# HELP qwen3_reasoning_tokens_total Tokens generated inside <think>.\n# TYPE qwen3_reasoning_tokens_total counter\n");
    OUT("qwen3_reasoning_tokens_total %llu\n", m->reasoning_tokens);
    OUT("# HELP qwen3_generations_total Generations ended, by reason.\n# TYPE qwen3_generations_total counter\n");
    static const char *why[5] = {"none", "stop", "length", "cancel", "error"};
    for (int i = 1; i < 5; i++) OUT("qwen3_generations_total{finish=\"%s\"} %llu\n", why[i], m->finished[i]);
    OUT("# HELP qwen3_engine_steps_total Batched forward passes.\n# TYPE qwen3_engine_steps_total counter\n");
    OUT("qwen3_engine_steps_total %llu\n", m->steps);
    OUT("# HELP qwen3_engine_busy_seconds_total Seconds spent in forward passes.\n# TYPE qwen3_engine_busy_seconds_total counter\n");
    OUT("qwen3_engine_busy_seconds_total %.6f\n", m->step_seconds);
    OUT("# HELP qwen3_time_to_first_token_seconds Submission to first token.\n# TYPE qwen3_time_to_first_token_seconds summary\n");
    OUT("qwen3_time_to_first_token_seconds_sum %.6f\nqwen3_time_to_first_token_seconds_count %llu\n", m->ttft_sum, m->ttft_count);
    OUT("# HELP qwen3_tokens_per_second Generated tokens per second over the last %d s.\n# TYPE qwen3_tokens_per_second gauge\n", WINDOW);
    OUT("qwen3_tokens_per_second %.2f\n", (double)win / (WINDOW - 1));
    pthread_mutex_unlock(&m->mu);
    OUT("# HELP qwen3_active_generations Generations decoding now.\n# TYPE qwen3_active_generations gauge\n");
    OUT("qwen3_active_generations %d\n", active);
    OUT("# HELP qwen3_queue_length Requests waiting for a slot.\n# TYPE qwen3_queue_length gauge\n");
    OUT("qwen3_queue_length %d\n", queued);
    OUT("# HELP qwen3_parallel_slots Generations that may decode together.\n# TYPE qwen3_parallel_slots gauge\n");
    OUT("qwen3_parallel_slots %d\n", parallel);
    OUT("# HELP qwen3_queue_capacity Requests that may wait.\n# TYPE qwen3_queue_capacity gauge\n");
    OUT("qwen3_queue_capacity %d\n", queue_cap);
#undef OUT
    return sb_take(&b, len);
}
