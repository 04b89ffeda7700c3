/* budget.c - the thinking budget (Qwen3 technical report, "thinking budget").
 *
 * Counts the tokens generated between <think> and </think> (the tags themselves and forced tokens
 * excluded) over the whole turn: a second <think> block continues the count instead of re-arming
 * it, so a model cannot escape the budget by closing and reopening. Once the count reaches the
 * budget, the stop-thinking text is forced (gen.c does the forcing) as soon as
 *   - the streaming decoder holds no part of a character (a multi-byte character split across tokens
 *     is finished first, so the thought never ends in the middle of one), and
 *   - when a grace window is set, the token just generated ended a line (its text holds a newline)
 *     or the window's tokens are used up; the tokens past the budget still count as thinking.
 * A budget of 0 forces as soon as the model opens <think>. A forced text must close the block
 * (gen.c checks that it holds </think>), so forcing always leaves the thinking state. */
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
    if (id == b->think_id) {
        b->in_think = 1;
    } else if (id == b->end_think_id) {
        b->in_think = 0;
        return 0;
    } else if (b->in_think && !forced) {
        if (b->budget >= 0 && b->count >= b->budget) b->over++;
        b->count++;
    }
    if (forced || !b->in_think || b->budget < 0 || b->count < b->budget || mid_char) return 0;
    if (b->grace > 0 && b->over < b->grace && id != b->think_id && !(n && memchr(text, '\n', n))) return 0;
    b->hit = 1;
    return 1;
}
