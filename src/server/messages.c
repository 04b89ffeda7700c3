/* messages.c - OpenAI chat messages -> the shapes the Qwen3 template reads, prepared the way the
 * reference servers prepare them before templating (vLLM's "string" content format; llama-server's
 * common_chat_msgs_to_json_oaicompat, which concatenates typed text): clients such as the OpenAI
 * SDK, LangChain and most web UIs send `content` as a list of parts, and the template itself prints
 * nothing for non-string content, so without this step their text would silently vanish.
 *
 *   - content as a list: the text of each part joined with "\n" (the separator both servers use);
 *     a text part is {"type": "text", "text": S} (also "input_text" / "output_text", the Responses
 *     API's names), {"type": "refusal", "refusal": S} (an assistant's refusal), or a bare string.
 *     Any other part (image_url, input_audio, file, ...) is refused with a 400 naming the part and
 *     its type: this model reads text only, and dropping the part would answer another question.
 *   - role "developer" (OpenAI's newer name for the system instructions) becomes "system".
 * Everything else passes through untouched for the renderer to check (it names index and field). */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "server/request.h"

/* The text of parts[] joined with "\n" into b; -1 with e naming the part at fault. */
static int join_parts(json_t *parts, size_t i, sbuf *b, srv_error *e) {
    json_t *p;
    size_t j;
    json_array_foreach(parts, j, p) {
        const char *text = NULL;
        size_t len = 0;
        if (json_is_string(p)) {
            text = json_string_value(p);
            len = json_string_length(p);
        } else if (json_is_object(p)) {
            json_t *ty = json_object_get(p, "type");
            if (!json_is_string(ty))
                return srv_bad(e, "messages", "messages[%zu].content[%zu].type: expected a string such as \"text\", got %s",
                               i, j, ty ? jx_type_name(ty) : "nothing");
            const char *t = json_string_value(ty);
            const char *key = !strcmp(t, "text") || !strcmp(t, "input_text") || !strcmp(t, "output_text") ? "text"
                              : !strcmp(t, "refusal")                                                       ? "refusal"
                                                                                                            : NULL;
            if (!key)
                return srv_bad(e, "messages", "messages[%zu].content[%zu]: content parts of type '%s' are not supported: "
                               "this model reads text only (send {\"type\": \"text\", \"text\": \"...\"} parts)", i, j, t);
            json_t *v = json_object_get(p, key);
            if (!json_is_string(v))
                return srv_bad(e, "messages", "messages[%zu].content[%zu].%s: expected a string, got %s", i, j, key,
                               v ? jx_type_name(v) : "nothing");
            text = json_string_value(v);
            len = json_string_length(v);
        } else {
            return srv_bad(e, "messages", "messages[%zu].content[%zu]: expected a content part {\"type\": \"text\", "
                           "\"text\": \"...\"} or a string, got %s", i, j, jx_type_name(p));
        }
        if (j) sb_putc(b, '\n');
        sb_put(b, text, len);
    }
    return 0;
}

json_t *srv_messages_normalize(json_t *msgs, srv_error *e) {
    json_t *out = json_array();
    if (!out) { srv_fail(e, 500, NULL, NULL, "out of memory"); return NULL; }
    json_t *m;
    size_t i;
    json_array_foreach(msgs, i, m) {
        json_t *content = json_object_get(m, "content");
        json_t *role = json_object_get(m, "role");
        int developer = json_is_string(role) && !strcmp(json_string_value(role), "developer");
        if (!json_is_object(m) || (!json_is_array(content) && !developer)) { /* as is */
            json_array_append(out, m);
            continue;
        }
        json_t *c = json_copy(m); /* shallow: the other fields stay shared */
        if (!c) goto oom;
        if (developer) json_object_set_new(c, "role", json_string("system"));
        if (json_is_array(content)) {
            sbuf b = {0};
            if (join_parts(content, i, &b, e)) {
                sb_free(&b);
                json_decref(c);
                json_decref(out);
                return NULL;
            }
            json_t *s = b.oom ? NULL : json_stringn(b.s ? b.s : "", b.len);
            sb_free(&b);
            if (!s) { /* the parts are valid UTF-8 (jansson checked them), so only memory can fail */
                json_decref(c);
                goto oom;
            }
            json_object_set_new(c, "content", s);
        }
        json_array_append_new(out, c);
    }
    return out;
oom:
    json_decref(out);
    srv_fail(e, 500, NULL, NULL, "out of memory");
    return NULL;
}
