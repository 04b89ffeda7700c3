/* test_rl.c - GRPO's group-normalised advantages against values worked by hand. */
#include <math.h>
#include <stdio.h>

#include "test.h"
#include "train/rl.h"

int main(void) {
    TEST_EXPECT(3);
    /* group 1: rewards 1 0 0 1: mean 0.5, unbiased std sqrt(4 * 0.25 / 3) = 0.5773503; advantages
     * +-0.5 / (0.5773503 + 1e-4) = +-0.8658753. group 2: all 1, so advantages 0. */
    float r[8] = {1, 0, 0, 1, 1, 1, 1, 1}, adv[8];
    int eq = grpo_advantages(r, 2, 4, 1e-4, adv);
    double want = 0.5 / (sqrt(1.0 / 3.0) + 1e-4), worst = 0;
    for (int i = 0; i < 4; i++) {
        double d = fabs(adv[i] - (r[i] > 0.5f ? want : -want));
        if (d > worst) worst = d;
    }
    CHECK(worst < 1e-6, "grpo-advantages", "max error %.3g against the hand-worked +-%.7f", worst, want);
    CHECK(adv[4] == 0 && adv[5] == 0 && adv[6] == 0 && adv[7] == 0, "grpo-advantages-equal",
          "an all-equal group has advantages %g %g %g %g", adv[4], adv[5], adv[6], adv[7]);
    CHECK(eq == 1, "grpo-all-equal-count", "%d all-equal groups counted, want 1", eq);
    return test_exit();
}
