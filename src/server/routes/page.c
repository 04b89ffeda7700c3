/* page.c - GET /: the web chat page (src/server/web/chat.html, compiled in by scripts/embed.sh).
 * It is static and holds nothing secret, so it is served without the API key; the page sends the
 * key the user types with its own API requests. */
#include "server/routes/routes.h"

extern const unsigned char srv_chat_html[];
extern const unsigned long srv_chat_html_len;

enum MHD_Result srv_route_page(srv_http_req *q) {
    return srv_reply_text(q, 200, "text/html; charset=utf-8", (const char *)srv_chat_html, srv_chat_html_len);
}
