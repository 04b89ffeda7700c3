/* render_json.c - a JSON chat request -> qwen3_chat_msg array -> chat_render.
 *
 * Accepts the OpenAI / Hugging Face message shapes the template understands and checks every field
 * the template reads, so a wrong type is an error naming "messages[i].field" rather than a prompt
 * that silently lost something. What the template does with each accepted type:
 *   content            string as is; null, absent or a list of parts -> "" (the Qwen3 template
 *                      prints nothing for non-string content; we do the same for byte identity)
 *   reasoning_content  string, or null / absent (then split from content)
 *   tool_calls         null / absent / array of {"function": {...}} or {"name", "arguments"}
 *   arguments          an object -> json.dumps text (tojson); a string holding a JSON object -> as is
 *   tools              null / absent / array of objects -> json.dumps text each
 * Keys the template does not read are ignored. */
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "chat/pyjson.h"
#include "qwen3.h"

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Python truthiness of a JSON value, for "{%- if tool_call.function %}". */
static int truthy(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return json_object_size(v) > 0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_TRUE: return 1;
    default: return 0;
    }
}

/* Optional string field: 0 with *out NULL when absent or null. */
static int opt_string(const json_t *obj, const char *key, const char **out, int i, qwen3_err *err) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return qerr(err, "messages[%d].%s: expected a string or null, got %s", i, key, type_name(v));
    *out = json_string_value(v);
    return 0;
}

typedef struct req {
    qwen3_chat_msg *msgs;
    qwen3_chat_tool_call *calls; /* all messages' calls, one block */
    char **owned;                /* json.dumps texts of object arguments */
    int n_owned;
} req;

static void req_free(req *r) {
    for (int i = 0; i < r->n_owned; i++) free(r->owned[i]);
    free(r->owned);
    free(r->calls);
    free(r->msgs);
}

static int tool_call(req *r, json_t *tc, int i, int j, qwen3_chat_tool_call *out, qwen3_err *err) {
    if (!json_is_object(tc)) return qerr(err, "messages[%d].tool_calls[%d]: expected an object, got %s", i, j, type_name(tc));
    const char *where = "";
    json_t *f = json_object_get(tc, "function");
    if (f && truthy(f)) {
        if (!json_is_object(f))
            return qerr(err, "messages[%d].tool_calls[%d].function: expected an object, got %s", i, j, type_name(f));
        tc = f;
        where = ".function";
    }
    json_t *name = json_object_get(tc, "name");
    if (!json_is_string(name))
        return qerr(err, "messages[%d].tool_calls[%d]%s.name: expected a string, got %s", i, j, where,
                    name ? type_name(name) : "nothing");
    out->name = json_string_value(name);
    json_t *args = json_object_get(tc, "arguments");
    if (json_is_string(args)) {
        out->arguments = json_string_value(args); /* printed as is; render.c checks it holds an object */
    } else if (json_is_object(args)) {
        sbuf b = {0};
        pyjson_dump(&b, args); /* {{- tool_call.arguments | tojson }} */
        char *s = sb_take(&b, NULL);
        if (!s) return qerr(err, "out of memory");
        r->owned[r->n_owned++] = s;
        out->arguments = s;
    } else {
        return qerr(err, "messages[%d].tool_calls[%d]%s.arguments: expected an object or a string holding a JSON object, "
                         "got %s", i, j, where, args ? type_name(args) : "nothing");
    }
    return 0;
}

static int build(req *r, json_t *msgs, qwen3_err *err) {
    size_t n = json_array_size(msgs), n_calls = 0;
    json_t *m;
    size_t i;
    json_array_foreach(msgs, i, m) {
        json_t *tc = json_object_get(m, "tool_calls");
        if (json_is_array(tc)) n_calls += json_array_size(tc);
    }
    r->msgs = calloc(n ? n : 1, sizeof *r->msgs);
    r->calls = calloc(n_calls ? n_calls : 1, sizeof *r->calls);
    r->owned = calloc(n_calls ? n_calls : 1, sizeof *r->owned);
    if (!r->msgs || !r->calls || !r->owned) return qerr(err, "out of memory");
    size_t next_call = 0;
    json_array_foreach(msgs, i, m) {
        int mi = (int)i;
        if (!json_is_object(m)) return qerr(err, "messages[%d]: expected an object, got %s", mi, type_name(m));
        qwen3_chat_msg *o = &r->msgs[i];
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role))
            return qerr(err, "messages[%d].role: expected a string, got %s", mi, role ? type_name(role) : "nothing");
        o->role = json_string_value(role);
        json_t *content = json_object_get(m, "content");
        if (json_is_string(content)) o->content = json_string_value(content);
        else if (content && !json_is_null(content) && !json_is_array(content))
            return qerr(err, "messages[%d].content: expected a string, null or a list of parts, got %s", mi,
                        type_name(content));
        if (opt_string(m, "reasoning_content", &o->reasoning_content, mi, err)) return -1;
        if (strcmp(o->role, "assistant")) continue; /* the template reads tool_calls of assistants only */
        json_t *tcs = json_object_get(m, "tool_calls");
        if (!tcs || json_is_null(tcs)) continue;
        if (!json_is_array(tcs))
            return qerr(err, "messages[%d].tool_calls: expected an array or null, got %s", mi, type_name(tcs));
        o->tool_calls = r->calls + next_call;
        o->n_tool_calls = (int)json_array_size(tcs);
        json_t *tc;
        size_t j;
        json_array_foreach(tcs, j, tc) {
            if (tool_call(r, tc, mi, (int)j, &r->calls[next_call++], err)) return -1;
        }
    }
    return 0;
}

static int opt_bool(json_t *root, const char *key, int dflt, qwen3_err *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return dflt;
    if (!json_is_boolean(v)) return qerr(err, "%s: expected true or false, got %s", key, type_name(v)), -1;
    return json_is_true(v);
}

char *qwen3_chat_render_json(qwen3_chat_kind kind, const char *json, size_t json_len, size_t *len, qwen3_err *err) {
    json_error_t je;
    json_t *root = json_loadb(json, json_len, 0, &je);
    if (!root) return qerr(err, "request: not valid JSON at column %d: %s", je.column, je.text), NULL;
    char *out = NULL;
    req r = {0};
    json_t **tools = NULL;
    int n_tools = 0;
    if (!json_is_object(root)) {
        qerr(err, "request: expected a JSON object, got %s", type_name(root));
        goto done;
    }
    json_t *msgs = json_object_get(root, "messages");
    if (!json_is_array(msgs)) {
        qerr(err, "messages: expected an array, got %s", msgs ? type_name(msgs) : "nothing");
        goto done;
    }
    qwen3_chat_opts o;
    if ((o.add_generation_prompt = opt_bool(root, "add_generation_prompt", 0, err)) < 0) goto done;
    if ((o.enable_thinking = opt_bool(root, "enable_thinking", 1, err)) < 0) goto done;
    json_t *t = json_object_get(root, "tools");
    if (t && !json_is_null(t)) {
        if (!json_is_array(t)) {
            qerr(err, "tools: expected an array or null, got %s", type_name(t));
            goto done;
        }
        n_tools = (int)json_array_size(t);
        tools = calloc(n_tools ? (size_t)n_tools : 1, sizeof *tools);
        if (!tools) {
            qerr(err, "out of memory");
            goto done;
        }
        for (int i = 0; i < n_tools; i++) {
            tools[i] = json_array_get(t, (size_t)i);
            if (!json_is_object(tools[i])) {
                qerr(err, "tools[%d]: expected an object, got %s", i, type_name(tools[i]));
                goto done;
            }
        }
    }
    if (build(&r, msgs, err)) goto done;
    out = chat_render(kind, r.msgs, (int)json_array_size(msgs), tools, n_tools, &o, len, err);
done:
    free(tools);
    req_free(&r);
    json_decref(root);
    return out;
}
