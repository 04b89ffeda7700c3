/* pp.h - pipeline parallelism by layers over MPI (pp.c; the public side is the "more than one
 * process" section of include/qwen3.h).
 *
 * Rank 0 runs the program (tokenizer, sampler, console, server) and owns the embedding, the final
 * norm, the lm_head and the first share of the layers; rank r > 0 owns the r-th contiguous share.
 * Every qwen3_model_load on rank 0 is announced to the other ranks, which load the same model and
 * touch only their layers; every qwen3_forward is announced too (which sequences, positions,
 * tokens and logits), then the residual stream of the batch travels rank 0 -> 1 -> ... -> N-1 ->
 * rank 0 (only the rows whose logits are asked for on the last leg), and rank 0 computes the
 * logits. Each layer computes exactly what it computes in one process, so the logits are the same
 * bits. The other ranks mirror rank 0's sequences by id: created at their first forward, cut back
 * to the position each forward starts at, freed with qwen3_seq_free.
 *
 * Tensor and expert parallelism (qwen3_load_opts.mpi_mode) use the same commands: every rank runs
 * every layer on its share of it (model/shard.c), rank 0 broadcasts the embedded rows, and each
 * block's partial output is summed across the ranks (pp_allreduce).
 *
 * Every wait inside a forward pass or a load has a time-out (QWEN3_MPI_TIMEOUT seconds, default
 * 300; loads ten times that): a rank that stops answering ends the job with a message instead of
 * a hang. A worker's wait for rank 0's next command has none (an idle server is not a fault).
 *
 * Built without MPI (the default), pp_size() is 1 and nothing here communicates. */
#ifndef QWEN3_MPI_PP_H
#define QWEN3_MPI_PP_H

#include "qwen3.h"

int pp_rank(void);
int pp_size(void);

/* Rank 0, before loading a model: tells the other ranks to load dir with o too. Returns the
 * model's id (> 0), or 0 when there is no other rank. */
int pp_announce_load(const char *dir, const qwen3_load_opts *o);
/* Rank 0, after its own load (m NULL when it failed, with e filled): collects the other ranks'
 * results. -1 with a message naming the rank when one failed (the ranks that succeeded free it). */
int pp_collect_load(int id, const qwen3_model *m, qwen3_err *e);
/* Rank 0: the model (id) is freed; the other ranks free theirs. */
void pp_model_freed(int id);
/* Rank 0: the sequence (its id, 0: never used in a forward) is freed; the other ranks free theirs. */
void pp_seq_freed(int model_id, int seq_id);
/* Rank 0: announces a forward pass of the model over items (giving sequences their ids). */
int pp_announce_forward(qwen3_model *m, const qwen3_batch_item *items, int n_items, qwen3_err *e);
/* The residual stream's hops: sends rows x hidden floats to the next rank (rank N-1: to rank 0);
 * receives from the previous rank (rank 0: from rank N-1) at most max_rows rows, returns the count. */
void pp_send_x(const float *x, int rows, int hidden);
int pp_recv_x(float *x, int max_rows, int hidden);
/* Tensor / expert parallelism (model/shard.c): rank 0's embedded rows to every rank; and the sum of
 * every rank's y[0..n) into y on every rank, added in rank order (p0 + p1 + ... + pN-1), so every
 * rank gets the same bits (routing and the next layer's input agree everywhere). */
void pp_bcast_x(float *x, int rows, int hidden);
void pp_allreduce(float *y, size_t n);
/* A rank that fails once a forward was announced cannot leave the others waiting: prints the
 * error and ends the whole job (MPI_Abort). */
void pp_abort(const char *what, const qwen3_err *e);

#endif
