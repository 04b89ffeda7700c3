/* routes.h - the endpoint handlers, one per route of http.c's table.
 *
 *   generate.c  POST /v1/chat/completions, POST /v1/completions (streaming and not)
 *   api.c       GET /v1/models, GET /health, GET /metrics, POST /tokenize, POST /detokenize
 *   page.c      GET / (the web chat page)
 *   embed.c     POST /v1/embeddings */
#ifndef QWEN3_SERVER_ROUTES_H
#define QWEN3_SERVER_ROUTES_H

#include "server/http.h"

typedef enum MHD_Result (*srv_handler)(srv_http_req *q);

enum MHD_Result srv_route_chat(srv_http_req *q);
enum MHD_Result srv_route_completions(srv_http_req *q);
enum MHD_Result srv_route_models(srv_http_req *q);
enum MHD_Result srv_route_health(srv_http_req *q);
enum MHD_Result srv_route_metrics(srv_http_req *q);
enum MHD_Result srv_route_tokenize(srv_http_req *q);
enum MHD_Result srv_route_detokenize(srv_http_req *q);
enum MHD_Result srv_route_page(srv_http_req *q);
enum MHD_Result srv_route_embeddings(srv_http_req *q);

/* The facts request parsing checks against, from the server. */
struct srv_model_info;
void srv_model_info_of(const srv *s, struct srv_model_info *info);

#endif
