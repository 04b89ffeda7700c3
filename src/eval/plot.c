/* plot.c - line charts written as PNG, with no image or compression library: the pixels are an
 * RGB canvas, the text a built-in 5x7 font, and the file's zlib stream (RFC 1950) one deflate block
 * with the fixed Huffman codes (RFC 1951) whose matches repeat the pixel before or the row above
 * (deflate_fixed): a chart of 1.4 MB of pixels becomes ~30 KB. tests/suite/eval.sh checks the file
 * with Python's zlib and struct (chunk CRCs, sizes, the decoded pixels). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "qwen3_eval.h"

/* the canvas: W x H pixels, the plot area inside the margins; the legend's rows (one per series)
 * go under the x axis' title, so they never hide a line */
enum { W = 800, PLOT_H = 400, LEFT = 90, RIGHT = 30, TOP = 60, BOTTOM = 86, LEGEND_ROW = 24, SCALE = 2 };
static int H;

typedef struct { unsigned char *px; } canvas; /* W * H * 3 bytes, RGB */

static void put(canvas *c, int x, int y, const unsigned char rgb[3]) {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    memcpy(c->px + ((size_t)y * W + x) * 3, rgb, 3);
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, const unsigned char rgb[3]) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, rgb);
}

/* a line of the given half-width (Bresenham, a square brush at each step) */
static void line(canvas *c, int x0, int y0, int x1, int y1, int r, const unsigned char rgb[3]) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        rect(c, x0 - r, y0 - r, x0 + r, y0 + r, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

/* The 5x7 font: seven rows of five columns per character, '#' for ink. */
static const struct { char ch; const char *rows[7]; } FONT[] = {
    {'0', {" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "}},
    {'1', {"  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "}},
    {'2', {" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"}},
    {'3', {"#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "}},
    {'4', {"   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "}},
    {'5', {"#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "}},
    {'6', {"  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "}},
    {'7', {"#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "}},
    {'8', {" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "}},
    {'9', {" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "}},
    {'A', {" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"}},
    {'B', {"#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### "}},
    {'C', {" ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### "}},
    {'D', {"###  ", "#  # ", "#   #", "#   #", "#   #", "#  # ", "###  "}},
    {'E', {"#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"}},
    {'F', {"#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "}},
    {'G', {" ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####"}},
    {'H', {"#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"}},
    {'I', {" ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "}},
    {'J', {"  ###", "   # ", "   # ", "   # ", "   # ", "#  # ", " ##  "}},
    {'K', {"#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #"}},
    {'L', {"#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"}},
    {'M', {"#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #"}},
    {'N', {"#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #"}},
    {'O', {" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "}},
    {'P', {"#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    "}},
    {'Q', {" ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #"}},
    {'R', {"#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"}},
    {'S', {" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "}},
    {'T', {"#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "}},
    {'U', {"#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "}},
    {'V', {"#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "}},
    {'W', {"#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # "}},
    {'X', {"#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"}},
    {'Y', {"#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "}},
    {'Z', {"#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####"}},
    {'%', {"##   ", "##  #", "   # ", "  #  ", " #   ", "#  ##", "   ##"}},
    {'-', {"     ", "     ", "     ", "#####", "     ", "     ", "     "}},
    {'+', {"     ", "  #  ", "  #  ", "#####", "  #  ", "  #  ", "     "}},
    {'=', {"     ", "     ", "#####", "     ", "#####", "     ", "     "}},
    {';', {"     ", " ##  ", " ##  ", "     ", " ##  ", "  #  ", " #   "}},
    {'.', {"     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "}},
    {',', {"     ", "     ", "     ", "     ", " ##  ", "  #  ", " #   "}},
    {':', {"     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "}},
    {'/', {"     ", "    #", "   # ", "  #  ", " #   ", "#    ", "     "}},
    {'(', {"   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # "}},
    {')', {" #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   "}},
    {'<', {"   # ", "  #  ", " #   ", "#    ", " #   ", "  #  ", "   # "}},
    {'>', {" #   ", "  #  ", "   # ", "    #", "   # ", "  #  ", " #   "}},
    {'_', {"     ", "     ", "     ", "     ", "     ", "     ", "#####"}},
    {'@', {" ### ", "#   #", "# ###", "# # #", "# ###", "#    ", " ####"}},
};

/* pixels of a text's width at the font's scale */
static int text_w(const char *s) { return (int)strlen(s) * 6 * SCALE - SCALE; }

static void text(canvas *c, int x, int y, const char *s, const unsigned char rgb[3]) {
    for (; *s; s++, x += 6 * SCALE) {
        char ch = (char)toupper((unsigned char)*s);
        for (size_t k = 0; k < sizeof FONT / sizeof FONT[0]; k++) {
            if (FONT[k].ch != ch) continue;
            for (int r = 0; r < 7; r++)
                for (int q = 0; q < 5; q++)
                    if (FONT[k].rows[r][q] == '#') rect(c, x + q * SCALE, y + r * SCALE, x + q * SCALE + SCALE - 1, y + r * SCALE + SCALE - 1, rgb);
            break;
        }
    }
}

/* ---- the parts both charts share ------------------------------------------------------------- */

static const unsigned char BLACK[3] = {0, 0, 0}, GRID[3] = {220, 220, 220},
                           COLORS[5][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}};

/* the plot area [x0, x1] x [y0, y1] (y grows down) */
typedef struct { int x0, x1, y0, y1; } area;

static area plot_area(void) { return (area){LEFT, W - RIGHT, TOP, TOP + PLOT_H}; }

/* a y tick at pixel row y with its label, and a grid line across unless it is the x axis */
static void y_tick(canvas *c, const area *a, int y, const char *label) {
    if (y != a->y1) line(c, a->x0, y, a->x1, y, 0, GRID);
    line(c, a->x0 - 6, y, a->x0, y, 0, BLACK);
    text(c, a->x0 - 10 - text_w(label), y - 7, label, BLACK);
}

static void x_tick(canvas *c, const area *a, int x, const char *label) {
    line(c, x, a->y1, x, a->y1 + 6, 0, BLACK);
    text(c, x - text_w(label) / 2, a->y1 + 12, label, BLACK);
}

/* the axes and the titles */
static void frame(canvas *c, const area *a, const char *title, const char *x_title, const char *y_title) {
    line(c, a->x0, a->y0, a->x0, a->y1, 0, BLACK);
    line(c, a->x0, a->y1, a->x1, a->y1, 0, BLACK);
    if (title) text(c, (W - text_w(title)) / 2, 16, title, BLACK);
    if (x_title) text(c, a->x0 + (a->x1 - a->x0 - text_w(x_title)) / 2, a->y1 + 44, x_title, BLACK);
    if (y_title) text(c, 8, a->y0 - 24, y_title, BLACK);
}

/* legend row k: under the x axis' title, so it never hides a line */
static void legend(canvas *c, const area *a, int k, const char *name) {
    const unsigned char *col = COLORS[k % 5];
    int ly = a->y1 + BOTTOM + k * LEGEND_ROW - 8, lx = a->x0;
    line(c, lx, ly + 7, lx + 28, ly + 7, 1, col);
    rect(c, lx + 10, ly + 3, lx + 18, ly + 11, col);
    text(c, lx + 38, ly, name ? name : "", BLACK);
}

/* a white canvas with room for n_series legend rows (sets H) */
static int new_canvas(canvas *c, int n_series, qwen3_err *err) {
    H = TOP + PLOT_H + BOTTOM + LEGEND_ROW * n_series;
    c->px = malloc((size_t)W * H * 3);
    if (!c->px) return qerr(err, "plot: out of memory");
    memset(c->px, 255, (size_t)W * H * 3);
    return 0;
}

/* ---- PNG: chunks with CRC-32, a zlib stream of stored blocks with Adler-32 -------------------- */

static uint32_t crc_table[256];
static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}
static uint32_t crc(uint32_t c, const unsigned char *p, size_t n) {
    c ^= 0xFFFFFFFFu;
    while (n--) c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void be32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v; }

static int chunk(FILE *f, const char *type, const unsigned char *data, size_t n) {
    unsigned char len[4], t[4], c[4];
    be32(len, (uint32_t)n);
    memcpy(t, type, 4);
    uint32_t k = crc(crc(0, t, 4), data, n);
    be32(c, k);
    return fwrite(len, 1, 4, f) == 4 && fwrite(t, 1, 4, f) == 4 && (!n || fwrite(data, 1, n, f) == n) && fwrite(c, 1, 4, f) == 4 ? 0 : -1;
}

/* Deflate with the fixed Huffman codes (RFC 1951 3.2.6) and matches at two distances only: the pixel
 * before (3 bytes) and the same place in the row above (a scanline). A chart is long runs of one
 * colour and rows that repeat, so this greedy choice compresses it ~50x with no search structure. */
typedef struct bits { unsigned char *p; size_t n; uint64_t acc; int k; } bits;

static void bput(bits *b, uint32_t v, int n) { /* n bits of v, least significant first */
    b->acc |= (uint64_t)v << b->k;
    b->k += n;
    while (b->k >= 8) { b->p[b->n++] = (unsigned char)b->acc; b->acc >>= 8; b->k -= 8; }
}

static void put_code(bits *b, uint32_t code, int n) { /* a Huffman code: most significant bit first */
    uint32_t r = 0;
    for (int i = 0; i < n; i++) r |= ((code >> i) & 1) << (n - 1 - i);
    bput(b, r, n);
}

static void put_litlen(bits *b, int v) {
    if (v < 144) put_code(b, 0x30 + v, 8);
    else if (v < 256) put_code(b, 0x190 + v - 144, 9);
    else if (v < 280) put_code(b, v - 256, 7);
    else put_code(b, 0xC0 + v - 280, 8);
}

static const int LBASE[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const int LEXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const int DBASE[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                              4097, 6145, 8193, 12289, 16385, 24577};
static const int DEXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static void put_match(bits *b, int len, int dist) {
    int c = 28;
    while (LBASE[c] > len) c--;
    put_litlen(b, 257 + c);
    bput(b, (uint32_t)(len - LBASE[c]), LEXTRA[c]);
    int d = 29;
    while (DBASE[d] > dist) d--;
    put_code(b, (uint32_t)d, 5);
    bput(b, (uint32_t)(dist - DBASE[d]), DEXTRA[d]);
}

/* raw[0, n) as one final fixed-Huffman block into out (room for n * 9 / 8 + 16 bytes); returns its size */
static size_t deflate_fixed(const unsigned char *raw, size_t n, size_t stride, unsigned char *out) {
    bits b = {out, 0, 0, 0};
    bput(&b, 1, 1); /* BFINAL */
    bput(&b, 1, 2); /* BTYPE 01: fixed codes */
    const size_t dists[2] = {stride, 3};
    for (size_t i = 0; i < n;) {
        size_t best = 0, bd = 0;
        for (int k = 0; k < 2; k++) {
            size_t d = dists[k], m = 0;
            if (d > i || d > 32768) continue;
            while (m < 258 && i + m < n && raw[i + m] == raw[i + m - d]) m++;
            if (m > best) { best = m; bd = d; }
        }
        if (best >= 3) { put_match(&b, (int)best, (int)bd); i += best; }
        else put_litlen(&b, raw[i++]);
    }
    put_litlen(&b, 256); /* end of block */
    if (b.k) bput(&b, 0, 8 - b.k);
    return b.n;
}

static int write_png(const char *path, const canvas *c, qwen3_err *err) {
    crc_init();
    size_t stride = 1 + (size_t)W * 3, raw_n = (size_t)H * stride;
    size_t z_cap = 2 + raw_n + raw_n / 8 + 16 + 4;
    unsigned char *raw = malloc(raw_n), *z = malloc(z_cap);
    if (!raw || !z) { free(raw); free(z); return qerr(err, "plot: out of memory"); }
    for (int y = 0; y < H; y++) {
        raw[(size_t)y * stride] = 0; /* filter: none */
        memcpy(raw + (size_t)y * stride + 1, c->px + (size_t)y * W * 3, (size_t)W * 3);
    }
    size_t o = 0;
    z[o++] = 0x78; /* deflate, 32 KiB window */
    z[o++] = 0x01; /* no preset dictionary; (0x78 << 8 | 0x01) % 31 == 0 */
    o += deflate_fixed(raw, raw_n, stride, z + o);
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < raw_n; i++) { a = (a + raw[i]) % 65521; b = (b + a) % 65521; }
    be32(z + o, b << 16 | a);
    o += 4;
    unsigned char ihdr[13];
    be32(ihdr, W); be32(ihdr + 4, (uint32_t)H);
    ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = ihdr[11] = ihdr[12] = 0; /* 8-bit RGB, deflate, filter 0, no interlace */
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!f) rc = qerr(err, "plot: cannot create %s (does its directory exist and is it writable?)", path);
    else {
        if (fwrite(sig, 1, 8, f) != 8 || chunk(f, "IHDR", ihdr, 13) || chunk(f, "IDAT", z, o) || chunk(f, "IEND", NULL, 0)) rc = -1;
        if (fclose(f) || rc) rc = qerr(err, "plot: writing %s failed (disk full?)", path);
    }
    free(raw);
    free(z);
    return rc;
}

int qwen3_plot_png(const char *path, const char *title, const char *x_title, const char *y_title,
                   const char *const *x_labels, int n_x, const double *const *ys, const char *const *names,
                   int n_series, qwen3_err *err) {
    if (!path || !*path) return qerr(err, "plot: no output path");
    if (n_x < 1 || n_series < 1 || !x_labels || !ys) return qerr(err, "plot: nothing to draw (%d points, %d series)", n_x, n_series);
    canvas c;
    if (new_canvas(&c, n_series, err)) return -1;
    area A = plot_area();
    int x0 = A.x0, y0 = A.y0, y1 = A.y1;
    /* grid and y ticks: 0 .. 100 % every 20 */
    for (int t = 0; t <= 100; t += 20) {
        char s[12];
        snprintf(s, sizeof s, "%d", t);
        y_tick(&c, &A, y1 - (y1 - y0) * t / 100, s);
    }
    /* x positions: equally spaced points with a half step of margin at each side */
    double step = (double)(A.x1 - x0) / n_x;
    for (int i = 0; i < n_x; i++) x_tick(&c, &A, x0 + (int)lround(step * (i + 0.5)), x_labels[i] ? x_labels[i] : "");
    frame(&c, &A, title, x_title, y_title);
    /* series: lines between defined points, a square marker on each */
    for (int s = 0; s < n_series; s++) {
        const unsigned char *col = COLORS[s % 5];
        int px = -1, py = -1;
        for (int i = 0; i < n_x; i++) {
            double v = ys[s][i];
            if (isnan(v)) { px = -1; continue; }
            if (v < 0) v = 0;
            if (v > 1) v = 1;
            int x = x0 + (int)lround(step * (i + 0.5)), y = y1 - (int)lround((y1 - y0) * v);
            if (px >= 0) line(&c, px, py, x, y, 1, col);
            rect(&c, x - 4, y - 4, x + 4, y + 4, col);
            px = x; py = y;
        }
        legend(&c, &A, s, names ? names[s] : NULL);
    }
    int rc = write_png(path, &c, err);
    free(c.px);
    return rc;
}

/* ---- numeric x: a curve over steps (the training loss) --------------------------------------- */

/* a "nice" tick step (1, 2 or 5 times a power of ten) giving about n ticks over span */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *s, size_t n, double v) {
    if (fabs(v) >= 1e6) snprintf(s, n, "%.3g", v);
    else snprintf(s, n, "%g", fabs(v) < 1e-12 ? 0.0 : v);
}

int qwen3_plot_xy_png(const char *path, const char *title, const char *x_title, const char *y_title, const double *x,
                      const double *const *ys, int n, const char *const *names, int n_series, int log_y, qwen3_err *err) {
    if (!path || !*path) return qerr(err, "plot: no output path");
    if (n < 1 || n_series < 1 || !x || !ys) return qerr(err, "plot: nothing to draw (%d points, %d series)", n, n_series);
    /* the ranges: x over all points, y over the finite values (positive ones on a log axis) */
    double xlo = x[0], xhi = x[0], ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (x[i] < xlo) xlo = x[i];
        if (x[i] > xhi) xhi = x[i];
        for (int s = 0; s < n_series; s++) {
            double v = ys[s][i];
            if (!isfinite(v) || (log_y && v <= 0)) continue;
            if (v < ylo) ylo = v;
            if (v > yhi) yhi = v;
        }
    }
    if (!(ylo <= yhi)) return qerr(err, "plot: no finite%s value to draw", log_y ? " positive" : "");
    if (xhi == xlo) { xlo -= 0.5; xhi += 0.5; }
    double xs = nice_step(xhi - xlo, 6);
    xlo = floor(xlo / xs) * xs;
    xhi = ceil(xhi / xs) * xs;
    double ys_step = 0;
    if (log_y) { /* the 1-2-5 ticks around the data */
        double d = pow(10, floor(log10(ylo)));
        ylo = ylo >= 5 * d ? 5 * d : ylo >= 2 * d ? 2 * d : d;
        d = pow(10, floor(log10(yhi)));
        yhi = yhi <= d ? d : yhi <= 2 * d ? 2 * d : yhi <= 5 * d ? 5 * d : 10 * d;
        if (yhi <= ylo) yhi = ylo * 2;
    } else {
        if (yhi == ylo) { ylo -= 0.5; yhi += 0.5; }
        ys_step = nice_step(yhi - ylo, 5);
        ylo = floor(ylo / ys_step) * ys_step;
        yhi = ceil(yhi / ys_step) * ys_step;
    }
    canvas c;
    if (new_canvas(&c, n_series, err)) return -1;
    area A = plot_area();
    int x0 = A.x0, x1 = A.x1, y0 = A.y0, y1 = A.y1;
#define PX(v) (x0 + (int)lround((x1 - x0) * ((v) - xlo) / (xhi - xlo)))
#define PY(v) (y1 - (int)lround((y1 - y0) * (log_y ? (log10(v) - log10(ylo)) / (log10(yhi) - log10(ylo)) : ((v) - ylo) / (yhi - ylo))))
    /* y ticks: every nice step, or 1, 2, 5 in each decade */
    char s[32];
    if (log_y) {
        for (double d = pow(10, floor(log10(ylo))); d < yhi * 1.0001; d *= 10)
            for (int m = 1; m <= 5; m += m == 1 ? 1 : 3) {
                double v = d * m;
                if (v < ylo * 0.9999) continue;
                if (v > yhi * 1.0001) break;
                fmt_tick(s, sizeof s, v);
                y_tick(&c, &A, PY(v), s);
            }
    } else {
        for (double v = ylo; v <= yhi + ys_step * 1e-6; v += ys_step) {
            fmt_tick(s, sizeof s, v);
            y_tick(&c, &A, PY(v), s);
        }
    }
    for (double v = xlo; v <= xhi + xs * 1e-6; v += xs) {
        fmt_tick(s, sizeof s, v);
        x_tick(&c, &A, PX(v), s);
    }
    frame(&c, &A, title, x_title, y_title);
    /* series: a polyline through the finite points (thin for the first when there are several: the
     * raw curve, with its smoothed twin drawn over it) */
    for (int k = 0; k < n_series; k++) {
        const unsigned char *col = COLORS[k % 5];
        int px = -1, py = -1, r = n_series > 1 && k == 0 ? 0 : 1;
        for (int i = 0; i < n; i++) {
            double v = ys[k][i];
            if (!isfinite(v) || (log_y && v <= 0)) { px = -1; continue; }
            int xp = PX(x[i]), yp = PY(v);
            if (px >= 0) line(&c, px, py, xp, yp, r, col);
            else rect(&c, xp - r, yp - r, xp + r, yp + r, col);
            px = xp; py = yp;
        }
        legend(&c, &A, k, names ? names[k] : NULL);
    }
#undef PX
#undef PY
    int rc = write_png(path, &c, err);
    free(c.px);
    return rc;
}
