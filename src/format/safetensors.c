/* safetensors.c - parse and validate a safetensors header (see safetensors.h). */
#include "format/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; st_dtype t; size_t size; int block; } dtypes[] = {
    {"F32", ST_F32, 4, 1}, {"F16", ST_F16, 2, 1}, {"BF16", ST_BF16, 2, 1}, {"I8", ST_I8, 1, 1}, {"U8", ST_U8, 1, 1},
    {"I32", ST_I32, 4, 1}, {"I64", ST_I64, 8, 1}, {"F64", ST_F64, 8, 1}, {"BOOL", ST_BOOL, 1, 1},
    {"Q8_0", ST_Q8_0, 34, 32}, {"Q4", ST_Q4, 148, 256}, /* ours, see safetensors.h */
    {"Q4_0", ST_Q4_0, 18, 32}, {"Q4_1", ST_Q4_1, 20, 32}, {"Q5_0", ST_Q5_0, 22, 32}, {"Q5_1", ST_Q5_1, 24, 32},
    {"IQ4_NL", ST_IQ4_NL, 18, 32}, {"Q2_K", ST_Q2_K, 84, 256}, {"Q3_K", ST_Q3_K, 110, 256}, {"Q4_K", ST_Q4_K, 144, 256},
    {"Q5_K", ST_Q5_K, 176, 256}, {"Q6_K", ST_Q6_K, 210, 256}, {"IQ4_XS", ST_IQ4_XS, 136, 256},
};

size_t st_dtype_size(st_dtype t) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].t == t) return dtypes[i].size;
    return 0;
}

int st_dtype_block(st_dtype t) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].t == t) return dtypes[i].block;
    return 1;
}

static void free_tensors(st_file *f) {
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    f->tensors = NULL;
    f->n_tensors = 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

/* Parses one header entry into t. */
static int parse_entry(const char *path, const char *name, json_t *v, const uint8_t *data, uint64_t data_len,
                       st_tensor *t, qwen3_err *e) {
    if (!json_is_object(v)) return qerr(e, "%s: tensor '%s': header entry is not an object", path, name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return qerr(e, "%s: tensor '%s': missing or non-string \"dtype\"", path, name);
    if (!json_is_array(sh)) return qerr(e, "%s: tensor '%s': missing or non-array \"shape\"", path, name);
    if (!json_is_array(off) || json_array_size(off) != 2)
        return qerr(e, "%s: tensor '%s': \"data_offsets\" must be an array [begin, end]", path, name);
    const char *dts = json_string_value(dt);
    t->dtype = ST_OTHER;
    size_t esize = 0;
    int block = 1;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dts, dtypes[i].name)) { t->dtype = dtypes[i].t; esize = dtypes[i].size; block = dtypes[i].block; }
    if (!esize) return qerr(e, "%s: tensor '%s': unknown dtype \"%.15s\"", path, name, dts);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dts);
    size_t nd = json_array_size(sh);
    if (nd > ST_MAX_DIMS) return qerr(e, "%s: tensor '%s': %zu dimensions (at most %d supported)", path, name, nd, ST_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return qerr(e, "%s: tensor '%s': shape[%zu] is not a non-negative integer", path, name, i);
        uint64_t x = (uint64_t)json_integer_value(d);
        if (x && numel > UINT64_MAX / x) return qerr(e, "%s: tensor '%s': shape overflows", path, name);
        numel *= x;
        t->shape[i] = (int64_t)x;
    }
    if (block > 1) {
        /* block types: the last dimension holds whole blocks; bytes count blocks */
        if (nd == 0 || t->shape[nd - 1] % block)
            return qerr(e, "%s: tensor '%s': dtype %s needs a last dimension that is a multiple of %d", path, name, dts, block);
        numel /= (uint64_t)block;
    }
    if (numel > UINT64_MAX / esize) return qerr(e, "%s: tensor '%s': shape overflows", path, name);
    json_t *b = json_array_get(off, 0), *en = json_array_get(off, 1);
    if (!json_is_integer(b) || !json_is_integer(en) || json_integer_value(b) < 0 || json_integer_value(en) < 0)
        return qerr(e, "%s: tensor '%s': data_offsets must be non-negative integers", path, name);
    uint64_t ob = (uint64_t)json_integer_value(b), oe = (uint64_t)json_integer_value(en);
    if (oe < ob) return qerr(e, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, name,
                             (unsigned long long)ob, (unsigned long long)oe);
    if (oe > data_len)
        return qerr(e, "%s: tensor '%s': data_offsets end %llu runs past the data section (%llu bytes; file truncated?)",
                    path, name, (unsigned long long)oe, (unsigned long long)data_len);
    if (oe - ob != numel * esize)
        return qerr(e, "%s: tensor '%s': %llu bytes in data_offsets, but shape x %s needs %llu", path, name,
                    (unsigned long long)(oe - ob), dts, (unsigned long long)(numel * esize));
    t->data = data + ob;
    t->nbytes = oe - ob;
    t->file = path;
    t->name = strdup(name);
    if (!t->name) return qerr(e, "%s: out of memory", path);
    return 0;
}

int st_parse(const uint8_t *buf, size_t len, const char *path, st_file *out, qwen3_err *e) {
    out->tensors = NULL;
    out->n_tensors = 0;
    if (len < 8) return qerr(e, "%s: %zu bytes is too short for a safetensors file (needs an 8-byte header length)", path, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > ST_MAX_HEADER) return qerr(e, "%s: header length %llu is absurd (limit %u bytes)", path, (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > len - 8) return qerr(e, "%s: header length %llu runs past the end of the %zu-byte file (truncated?)", path, (unsigned long long)hlen, len);
    json_error_t je;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) return qerr(e, "%s: header is not valid JSON: %s (at byte %d)", path, je.text, je.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return qerr(e, "%s: header is not a JSON object", path);
    }
    const uint8_t *data = buf + 8 + hlen;
    uint64_t data_len = len - 8 - hlen;
    size_t cap = json_object_size(root);
    out->tensors = calloc(cap ? cap : 1, sizeof *out->tensors);
    if (!out->tensors) { json_decref(root); return qerr(e, "%s: out of memory", path); }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) continue;
        st_tensor *t = &out->tensors[out->n_tensors];
        if (parse_entry(path, key, v, data, data_len, t, e) != 0) {
            json_decref(root);
            free_tensors(out);
            return -1;
        }
        out->n_tensors++;
    }
    json_decref(root);
    /* No two tensors may share bytes: sort a copy by offset and check neighbours. */
    if (out->n_tensors > 1) {
        st_tensor *s = malloc(sizeof *s * (size_t)out->n_tensors);
        if (!s) { free_tensors(out); return qerr(e, "%s: out of memory", path); }
        memcpy(s, out->tensors, sizeof *s * (size_t)out->n_tensors);
        qsort(s, (size_t)out->n_tensors, sizeof *s, cmp_by_offset);
        for (int i = 1; i < out->n_tensors; i++) {
            if (s[i - 1].nbytes && s[i].nbytes && s[i - 1].data + s[i - 1].nbytes > s[i].data) {
                int r = qerr(e, "%s: tensors '%s' and '%s' overlap in the data section", path, s[i - 1].name, s[i].name);
                free(s);
                free_tensors(out);
                return r;
            }
        }
        free(s);
    }
    return 0;
}

int st_open(st_file *f, const char *path, qwen3_err *e) {
    memset(f, 0, sizeof *f);
    int rc = qfile_map(&f->map, path, e);
    if (rc) return rc; /* -2: mmap refused it (file.h) */
    if (st_parse(f->map.data, f->map.size, f->map.path, f, e) != 0) {
        qfile_unmap(&f->map);
        return -1;
    }
    for (int i = 0; i < f->n_tensors; i++) f->tensors[i].file = f->map.path;
    return 0;
}

void st_close(st_file *f) {
    free_tensors(f);
    qfile_unmap(&f->map);
}
