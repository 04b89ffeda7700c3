/* gguf.c - parse and validate a GGUF file (see gguf.h). */
#include "format/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ggml's type table (ggml.h / gguf-py constants.py GGML_QUANT_SIZES): id, name, values per block,
 * bytes per block. Ids missing here were removed from ggml (4, 5, 31-33, 36-38) or are unknown. */
static const struct { uint32_t id; const char *name; int block; size_t size; } types[] = {
    {0, "F32", 1, 4}, {1, "F16", 1, 2}, {2, "Q4_0", 32, 18}, {3, "Q4_1", 32, 20}, {6, "Q5_0", 32, 22},
    {7, "Q5_1", 32, 24}, {8, "Q8_0", 32, 34}, {9, "Q8_1", 32, 36}, {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176}, {14, "Q6_K", 256, 210},
    {15, "Q8_K", 256, 292}, {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74}, {18, "IQ3_XXS", 256, 98},
    {19, "IQ1_S", 256, 50}, {20, "IQ4_NL", 32, 18}, {21, "IQ3_S", 256, 110}, {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1}, {25, "I16", 1, 2}, {26, "I32", 1, 4}, {27, "I64", 1, 8},
    {28, "F64", 1, 8}, {29, "IQ1_M", 256, 56}, {30, "BF16", 1, 2}, {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66}, {39, "MXFP4", 32, 17},
};

static int type_index(uint32_t t) {
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].id == t) return (int)i;
    return -1;
}

const char *gguf_type_name(uint32_t t) { int i = type_index(t); return i < 0 ? NULL : types[i].name; }
int gguf_type_block(uint32_t t) { int i = type_index(t); return i < 0 ? 0 : types[i].block; }
size_t gguf_type_size(uint32_t t) { int i = type_index(t); return i < 0 ? 0 : types[i].size; }

/* Bytes of a scalar value type; 0 for string / array / unknown. */
static size_t vsize(uint32_t t) {
    static const unsigned char s[GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GGUF_VTYPE_COUNT ? s[t] : 0;
}

static const char *vname(uint32_t t) {
    static const char *const n[GGUF_VTYPE_COUNT] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                                    "bool", "string", "array", "uint64", "int64", "float64"};
    return t < GGUF_VTYPE_COUNT ? n[t] : "unknown";
}

/* ---- a bounds-checked reader over the buffer */
typedef struct { const uint8_t *buf; size_t len, pos; const char *path; qwen3_err *e; } rd;

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int need(rd *r, uint64_t n, const char *what) {
    if (n > r->len - r->pos)
        return qerr(r->e, "%s: %s at byte %zu needs %llu bytes, but the file ends at %zu (truncated?)", r->path, what, r->pos,
                    (unsigned long long)n, r->len);
    return 0;
}

static int u32(rd *r, uint32_t *v, const char *what) {
    if (need(r, 4, what)) return -1;
    *v = (uint32_t)le(r->buf + r->pos, 4);
    r->pos += 4;
    return 0;
}

static int u64(rd *r, uint64_t *v, const char *what) {
    if (need(r, 8, what)) return -1;
    *v = le(r->buf + r->pos, 8);
    r->pos += 8;
    return 0;
}

static int str(rd *r, gguf_str *s, const char *what) {
    uint64_t n;
    if (u64(r, &n, what)) return -1;
    if (n > GGUF_MAX_STRING)
        return qerr(r->e, "%s: %s at byte %zu has an absurd length %llu (limit %u)", r->path, what, r->pos - 8,
                    (unsigned long long)n, GGUF_MAX_STRING);
    if (need(r, n, what)) return -1;
    s->p = (const char *)r->buf + r->pos;
    s->n = n;
    r->pos += (size_t)n;
    return 0;
}

static char *dup_str(gguf_str s) {
    char *c = malloc((size_t)s.n + 1);
    if (c) { memcpy(c, s.p, (size_t)s.n); c[s.n] = 0; }
    return c;
}

/* Reads one value of type t (not an array) for key; arrays of strings record offsets in kv. */
static int value(rd *r, gguf_kv *kv, const char *key) {
    char what[160];
    snprintf(what, sizeof what, "the value of key '%.100s'", key);
    if (kv->type == GGUF_STRING) {
        gguf_str s;
        return str(r, &s, what);
    }
    if (kv->type != GGUF_ARRAY) {
        size_t n = vsize(kv->type);
        if (!n) return qerr(r->e, "%s: key '%s' has unknown value type %u", r->path, key, kv->type);
        if (need(r, n, what)) return -1;
        r->pos += n;
        return 0;
    }
    if (u32(r, &kv->arr_type, what) || u64(r, &kv->n, what)) return -1;
    kv->val = r->buf + r->pos;
    if (kv->arr_type == GGUF_ARRAY) return qerr(r->e, "%s: key '%s' is an array of arrays (not supported)", r->path, key);
    if (kv->arr_type == GGUF_STRING) {
        /* each string takes at least its 8-byte length: bound the count before allocating */
        if (kv->n > (r->len - r->pos) / 8)
            return qerr(r->e, "%s: key '%s': array of %llu strings cannot fit in the %zu bytes that remain (absurd count)",
                        r->path, key, (unsigned long long)kv->n, r->len - r->pos);
        kv->str_off = malloc(sizeof *kv->str_off * (size_t)(kv->n ? kv->n : 1));
        if (!kv->str_off) return qerr(r->e, "%s: out of memory", r->path);
        for (uint64_t i = 0; i < kv->n; i++) {
            kv->str_off[i] = (uint64_t)(r->buf + r->pos - kv->val);
            gguf_str s;
            snprintf(what, sizeof what, "element %llu of key '%.100s'", (unsigned long long)i, key);
            if (str(r, &s, what)) return -1;
        }
        return 0;
    }
    size_t n = vsize(kv->arr_type);
    if (!n) return qerr(r->e, "%s: key '%s' is an array of unknown type %u", r->path, key, kv->arr_type);
    if (kv->n > (r->len - r->pos) / n)
        return qerr(r->e, "%s: key '%s': array of %llu %s values runs past the end of the file (absurd count or truncated)",
                    r->path, key, (unsigned long long)kv->n, vname(kv->arr_type));
    r->pos += (size_t)(kv->n * n);
    return 0;
}

static void free_all(gguf_file *f) {
    for (uint64_t i = 0; i < f->n_kv; i++) { free(f->kv[i].key); free(f->kv[i].str_off); }
    for (uint64_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->kv);
    free(f->tensors);
    f->kv = NULL;
    f->tensors = NULL;
    f->n_kv = f->n_tensors = 0;
}

static int cmp_by_data(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}

static int cmp_kv_key(const void *a, const void *b) {
    return strcmp((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}

/* Repeated keys, repeated tensor names and overlapping tensor data are refused. */
static int check_unique(gguf_file *f, qwen3_err *e) {
    uint64_t n = f->n_kv > f->n_tensors ? f->n_kv : f->n_tensors;
    if (!n) return 0;
    void **p = malloc(sizeof *p * (size_t)n);
    if (!p) return qerr(e, "%s: out of memory", f->path);
    int rc = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) p[i] = &f->kv[i];
    qsort(p, (size_t)f->n_kv, sizeof *p, cmp_kv_key);
    for (uint64_t i = 1; i < f->n_kv && !rc; i++)
        if (!strcmp(((gguf_kv *)p[i])->key, ((gguf_kv *)p[i - 1])->key))
            rc = qerr(e, "%s: metadata key '%s' appears twice", f->path, ((gguf_kv *)p[i])->key);
    for (uint64_t i = 0; i < f->n_tensors; i++) p[i] = &f->tensors[i];
    qsort(p, (size_t)f->n_tensors, sizeof *p, cmp_by_name);
    for (uint64_t i = 1; i < f->n_tensors && !rc; i++)
        if (!strcmp(((gguf_tensor *)p[i])->name, ((gguf_tensor *)p[i - 1])->name))
            rc = qerr(e, "%s: tensor '%s' appears twice", f->path, ((gguf_tensor *)p[i])->name);
    qsort(p, (size_t)f->n_tensors, sizeof *p, cmp_by_data);
    for (uint64_t i = 1; i < f->n_tensors && !rc; i++) {
        const gguf_tensor *a = p[i - 1], *b = p[i];
        if (a->nbytes && b->nbytes && a->data + a->nbytes > b->data)
            rc = qerr(e, "%s: tensors '%s' and '%s' overlap in the data section", f->path, a->name, b->name);
    }
    free(p);
    return rc;
}

static int tensor_info(rd *r, gguf_tensor *t, uint64_t *offset, qwen3_err *e) {
    gguf_str name;
    if (str(r, &name, "a tensor name")) return -1;
    if (!(t->name = dup_str(name))) return qerr(e, "%s: out of memory", r->path);
    if (memchr(name.p, 0, (size_t)name.n)) return qerr(e, "%s: tensor name '%s' contains a NUL byte", r->path, t->name);
    char what[160];
    snprintf(what, sizeof what, "the shape of tensor '%.100s'", t->name);
    uint32_t nd;
    if (u32(r, &nd, what)) return -1;
    if (nd < 1 || nd > GGUF_MAX_DIMS)
        return qerr(e, "%s: tensor '%s' has %u dimensions (1 to %d allowed)", r->path, t->name, nd, GGUF_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (int i = 0; i < GGUF_MAX_DIMS; i++) t->ne[i] = 1;
    for (uint32_t i = 0; i < nd; i++) {
        uint64_t x;
        if (u64(r, &x, what)) return -1;
        if (x > (uint64_t)INT64_MAX) return qerr(e, "%s: tensor '%s': ne[%u] = %llu is negative", r->path, t->name, i, (unsigned long long)x);
        if (x && numel > (uint64_t)INT64_MAX / x) return qerr(e, "%s: tensor '%s': shape overflows", r->path, t->name);
        numel *= x;
        t->ne[i] = (int64_t)x;
    }
    snprintf(what, sizeof what, "the type and offset of tensor '%.100s'", t->name);
    if (u32(r, &t->type, what) || u64(r, offset, what)) return -1;
    int ti = type_index(t->type);
    if (ti < 0) return qerr(e, "%s: tensor '%s' has unknown ggml type id %u", r->path, t->name, t->type);
    int block = types[ti].block;
    if (t->ne[0] % block)
        return qerr(e, "%s: tensor '%s': type %s needs a row length ne[0] that is a multiple of %d; it is %lld", r->path,
                    t->name, types[ti].name, block, (long long)t->ne[0]);
    uint64_t blocks = numel / (uint64_t)block;
    if (blocks > UINT64_MAX / types[ti].size) return qerr(e, "%s: tensor '%s': shape overflows", r->path, t->name);
    t->nbytes = blocks * types[ti].size;
    return 0;
}

int gguf_parse(const uint8_t *buf, size_t len, const char *path, gguf_file *out, qwen3_err *e) {
    memset(out, 0, sizeof *out);
    out->path = path;
    rd r = {buf, len, 0, path, e};
    if (len < 4 || memcmp(buf, "GGUF", 4))
        return qerr(e, "%s: not a GGUF file (it does not start with the magic \"GGUF\")", path);
    r.pos = 4;
    uint32_t ver;
    if (u32(&r, &ver, "the version")) return -1;
    if (ver >= 0x10000 && (ver & 0xFFFF) == 0)
        return qerr(e, "%s: big-endian GGUF (version bytes %08x); only little-endian files are supported", path, ver);
    if (ver == 1) return qerr(e, "%s: GGUF version 1 is obsolete and not supported (convert it again: versions 2 and 3 are)", path);
    if (ver != 2 && ver != 3) return qerr(e, "%s: GGUF version %u is not supported (2 and 3 are)", path, ver);
    out->version = ver;
    uint64_t nt, nkv;
    if (u64(&r, &nt, "the tensor count") || u64(&r, &nkv, "the metadata count")) return -1;
    /* a key-value pair takes at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 8 + 4 + 8 */
    if (nkv > (len - r.pos) / 13)
        return qerr(e, "%s: metadata count %llu cannot fit in a %zu-byte file (absurd count, or the file is truncated)", path,
                    (unsigned long long)nkv, len);
    if (nt > (len - r.pos) / 32)
        return qerr(e, "%s: tensor count %llu cannot fit in a %zu-byte file (absurd count, or the file is truncated)", path,
                    (unsigned long long)nt, len);
    out->kv = calloc((size_t)(nkv ? nkv : 1), sizeof *out->kv);
    out->tensors = calloc((size_t)(nt ? nt : 1), sizeof *out->tensors);
    if (!out->kv || !out->tensors) { free_all(out); return qerr(e, "%s: out of memory", path); }
    for (uint64_t i = 0; i < nkv; i++) {
        gguf_kv *kv = &out->kv[i];
        gguf_str key;
        out->n_kv = i + 1;
        if (str(&r, &key, "a metadata key")) goto fail;
        if (!(kv->key = dup_str(key))) { qerr(e, "%s: out of memory", path); goto fail; }
        if (memchr(key.p, 0, (size_t)key.n)) { qerr(e, "%s: metadata key '%s' contains a NUL byte", path, kv->key); goto fail; }
        char what[160];
        snprintf(what, sizeof what, "the type of key '%.100s'", kv->key);
        if (u32(&r, &kv->type, what)) goto fail;
        if (kv->type >= GGUF_VTYPE_COUNT) { qerr(e, "%s: key '%s' has unknown value type %u", path, kv->key, kv->type); goto fail; }
        kv->n = 1;
        kv->val = buf + r.pos;
        if (value(&r, kv, kv->key)) goto fail;
    }
    out->alignment = 32;
    const gguf_kv *al = gguf_find(out, "general.alignment");
    if (al) {
        if (al->type != GGUF_UINT32) { qerr(e, "%s: key 'general.alignment' must be a uint32; it is %s", path, vname(al->type)); goto fail; }
        uint32_t a = (uint32_t)le(al->val, 4);
        if (!a || (a & (a - 1))) { qerr(e, "%s: key 'general.alignment' is %u; it must be a power of two", path, a); goto fail; }
        out->alignment = a;
    }
    uint64_t *offs = malloc(sizeof *offs * (size_t)(nt ? nt : 1));
    if (!offs) { qerr(e, "%s: out of memory", path); goto fail; }
    for (uint64_t i = 0; i < nt; i++) {
        out->n_tensors = i + 1;
        if (tensor_info(&r, &out->tensors[i], &offs[i], e)) { free(offs); goto fail; }
    }
    uint64_t start = ((uint64_t)r.pos + out->alignment - 1) / out->alignment * out->alignment;
    uint64_t data_len = start <= len ? len - start : 0;
    out->data_offset = start;
    for (uint64_t i = 0; i < nt; i++) {
        gguf_tensor *t = &out->tensors[i];
        if (offs[i] % out->alignment) {
            qerr(e, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u", path, t->name,
                 (unsigned long long)offs[i], out->alignment);
            free(offs);
            goto fail;
        }
        if (offs[i] > data_len || t->nbytes > data_len - offs[i]) {
            qerr(e, "%s: tensor '%s': its %llu bytes at offset %llu run past the data section (%llu bytes; file truncated?)",
                 path, t->name, (unsigned long long)t->nbytes, (unsigned long long)offs[i], (unsigned long long)data_len);
            free(offs);
            goto fail;
        }
        t->data = buf + start + offs[i];
    }
    free(offs);
    if (check_unique(out, e)) goto fail;
    return 0;
fail:
    free_all(out);
    return -1;
}

int gguf_open(gguf_file *f, const char *path, qwen3_err *e) {
    memset(f, 0, sizeof *f);
    qfile map;
    if (qfile_map(&map, path, e) != 0) return -1;
    if (gguf_parse(map.data, map.size, map.path, f, e) != 0) {
        qfile_unmap(&map);
        return -1;
    }
    f->map = map;
    f->path = f->map.path;
    return 0;
}

void gguf_close(gguf_file *f) {
    free_all(f);
    qfile_unmap(&f->map);
}

/* ---- lookups */

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (!strcmp(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

static int is_int_type(uint32_t t) {
    return t <= GGUF_INT32 || t == GGUF_BOOL || t == GGUF_UINT64 || t == GGUF_INT64;
}

static int64_t int_at(const uint8_t *p, uint32_t t) {
    switch (t) {
    case GGUF_UINT8: case GGUF_BOOL: return p[0];
    case GGUF_INT8: return (int8_t)p[0];
    case GGUF_UINT16: return (uint16_t)le(p, 2);
    case GGUF_INT16: return (int16_t)(uint16_t)le(p, 2);
    case GGUF_UINT32: return (uint32_t)le(p, 4);
    case GGUF_INT32: return (int32_t)(uint32_t)le(p, 4);
    case GGUF_UINT64: { uint64_t v = le(p, 8); return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v; }
    case GGUF_INT64: return (int64_t)le(p, 8);
    default: return 0;
    }
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out, qwen3_err *e) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    if (!is_int_type(kv->type)) return qerr(e, "%s: key '%s' must be an integer; it is %s", f->path, key, vname(kv->type));
    int64_t v = int_at(kv->val, kv->type);
    if (v < lo || v > hi)
        return qerr(e, "%s: key '%s' is %lld; expected %lld..%lld", f->path, key, (long long)v, (long long)lo, (long long)hi);
    *out = v;
    return 1;
}

int gguf_get_float(const gguf_file *f, const char *key, double *out, qwen3_err *e) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    if (kv->type == GGUF_FLOAT32) {
        uint32_t u = (uint32_t)le(kv->val, 4);
        float x;
        memcpy(&x, &u, 4);
        *out = x;
    } else if (kv->type == GGUF_FLOAT64) {
        uint64_t u = le(kv->val, 8);
        memcpy(out, &u, 8);
    } else if (is_int_type(kv->type) && kv->type != GGUF_BOOL) {
        *out = (double)int_at(kv->val, kv->type);
    } else {
        return qerr(e, "%s: key '%s' must be a number; it is %s", f->path, key, vname(kv->type));
    }
    return 1;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, qwen3_err *e) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_STRING) return qerr(e, "%s: key '%s' must be a string; it is %s", f->path, key, vname(kv->type));
    out->n = le(kv->val, 8);
    out->p = (const char *)kv->val + 8;
    return 1;
}

gguf_str gguf_arr_str(const gguf_kv *kv, uint64_t i) {
    const uint8_t *p = kv->val + kv->str_off[i];
    gguf_str s = {(const char *)p + 8, le(p, 8)};
    return s;
}

int gguf_arr_is_int(const gguf_kv *kv) { return kv->type == GGUF_ARRAY && is_int_type(kv->arr_type); }

int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i) {
    return int_at(kv->val + i * vsize(kv->arr_type), kv->arr_type);
}
