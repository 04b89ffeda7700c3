/* budget.c - the thinking budget (Qwen3 technical report, "thinking budget").
 *
 * Counts every token generated inside a think block (between <think> and </think>) over the whole
 * turn: special tokens too, so a model that keeps writing <think> inside its thought is counted and
 * cut like any other; only the tags that open and close the block, and forced tokens, are not
 * counted. A second block continues the count instead of re-arming it, so a model cannot escape the
 * budget by closing and reopening. Once the count reaches the budget inside a block, the
 * stop-thinking text is forced (gen.c does the forcing) as soon as
 *   - the streaming decoder holds no part of a character (a multi-byte character split across tokens
 *     is finished first, so the thought never ends in the middle of one), and
 *   - when a grace window is set, the token just generated ended a line (its text holds a newline)
 *     or the window's tokens are used up; the tokens past the budget still count as thinking.
 * A block opened when the budget is already spent gets no thinking at all: the empty closing is
 * forced right after its <think>, never a second stop text (which would land in the answer). So a
 * budget of 0 closes every block as it opens. A forced text must close the block (gen.c checks that
 * it holds </think>), so forcing always leaves the thinking state. */
#include <string.h>

#include "generate/gen.h"

void budget_init(gen_budget *b, int budget, int grace, int in_think, int32_t think_id, int32_t end_think_id) {
    memset(b, 0, sizeof *b);
    b->budget = budget;
    b->grace = grace > 0 ? grace : 0;
    b->in_think = in_think != 0;
    b->think_id = think_id;
    b->end_think_id = end_think_id;
}

int budget_note(gen_budget *b, int32_t id, const char *text, size_t n, int mid_char, int forced) {
    int spent = b->budget >= 0 && b->count >= b->budget;
    if (!b->in_think) {
        if (id != b->think_id) return 0;
        b->in_think = 1; /* the opening tag: not counted */
        if (forced || !spent) return 0;
        b->hit = 1;
        return BUDGET_CLOSE;
    }
    if (id == b->end_think_id) {
        b->in_think = 0;
        return 0;
    }
    if (forced) return 0;
    if (spent) b->over++;
    b->count++;
    if (b->budget < 0 || b->count < b->budget || mid_char) return 0;
    if (b->grace > 0 && b->over < b->grace && !(n && memchr(text, '\n', n))) return 0;
    b->hit = 1;
    return BUDGET_STOP;
}
