/* version.c - the library's version (qwen3.h's QWEN3_VERSION when it was built). */
#include "qwen3.h"

const char *qwen3_version(void) { return QWEN3_VERSION; }
