# qwen3 - one build for all.
#   make            the `qwen3` binary (./qwen3) and the test programs
#   make test       build and run every test (tests/run.sh); last line "N passed, N failed, N skipped"
#   make SAN=1 test the same under AddressSanitizer + UndefinedBehaviorSanitizer (objects in build/san)
#   make bench      benchmarks (bench/run.sh)
#   make fuzz       rerun the fuzz corpora briefly (clang + libFuzzer)
#   make install    PREFIX=/usr/local, DESTDIR: binary, header, static + shared library, qwen3.pc,
#                   man page, bash completion (make uninstall removes them)
#   CC=clang make   any C11 compiler; warnings are errors
#   make MPI=1      also ./qwen3-mpi, the MPI pipeline build (Open MPI's mpicc; see README "More than
#                   one machine"); ./qwen3 stays free of MPI. `make test` builds it too when mpicc exists
CC ?= cc
SAN ?= 0
ifeq ($(SAN),1)
BUILD := build/san
# -g1: line tables, enough for the sanitizers' reports (function, file and line of every frame);
# full -g took CI's sanitizer build 155 s, -g1 92 s (2026-12-06, 2 cores)
OPT := -O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# the sanitizers' programs are linked as fixed-address executables: a position-independent one
# spends ~25 ms of every start relocating the sanitizers' 230,000 pointers to their metadata, and
# the tests start the engine about 1,100 times (measured 94 -> 63 ms a start, `qwen3 --version`,
# ASAN_OPTIONS=detect_leaks=0)
EXE_LDFLAGS := -no-pie
else
BUILD := build/rel
OPT := -O2 -g
endif
# -fPIC: the same objects make libqwen3.a, the binary and libqwen3.so (one compile, not two);
# -fno-semantic-interposition keeps what -fPIE allows (inlining and direct calls of the library's
# own functions), since nothing outside is meant to replace them (only qwen3_* is exported)
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -pthread -MMD -MP \
	-fPIC -fno-semantic-interposition
CFLAGS += $(CFLAGS_BASE) $(OPT)
LDLIBS := -ljansson -lutf8proc -lmicrohttpd -ledit -lm -pthread
LDFLAGS += $(OPT)

LIB_SRC := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))

# The boundary the build enforces: cli/ and server/ are front-ends over the public API, so they are
# compiled with include/ and $(FRONT) only, never -Isrc. $(FRONT) holds links to their own
# directories and to the two headers of base/ every layer shares (errors as values, the growable
# buffer); an include of any other internal header (model/, kernels/, chat/, ...) fails to compile.
# (tests/suite/boundaries.sh checks that it does, and that no include climbs out with "..".)
# Everything else, the library and the tests, sees src/.
INC := -Isrc
FRONT := $(BUILD)/front
FRONT_INC := -I$(FRONT)
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
# static files compiled in (scripts/embed.sh): the web chat page qwen3 serve answers at /
EMBED_OBJ := $(BUILD)/gen/chat_html.o
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(EMBED_OBJ)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIB := $(BUILD)/libqwen3.a
BIN := $(BUILD)/qwen3

.PHONY: all test bench fuzz clean demo qwen3 qwen3-mpi install uninstall shared
ifeq ($(SAN),1)
all: $(BIN) $(TEST_BIN) default-model
else
all: $(BIN) $(TEST_BIN) qwen3 default-model
endif

# The trained default model: the repository keeps its compact form (models/default: the trained
# vocabulary rows + one shared row, BF16); the build expands it into an ordinary Hugging Face
# directory beside the binary, where `qwen3 run "question"` (no MODEL) finds it. The tokenizer
# files come from QWEN3_TOKENIZER or ../shared/qwen3-tokenizer.
DEFAULT_MODEL := $(BUILD)/default-model
MODEL_TOKENIZER ?= $(or $(QWEN3_TOKENIZER),../shared/qwen3-tokenizer)
.PHONY: default-model
ifneq ($(wildcard models/default/rows.json),)
default-model: $(DEFAULT_MODEL)/model.safetensors
$(DEFAULT_MODEL)/model.safetensors: $(BIN) models/default/model.safetensors models/default/config.json models/default/rows.json
	$(BIN) unpack models/default $(DEFAULT_MODEL) --tokenizer $(MODEL_TOKENIZER)
else
default-model:
endif

# ./qwen3 always points at the release build (phony, so a sanitizer or other build in between
# cannot leave it pointing elsewhere); the sanitizer build stays in build/san.
qwen3: $(BIN)
	@ln -sfn $(BIN) qwen3

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -c $< -o $@

FRONT_OBJ := $(CLI_OBJ) $(filter $(BUILD)/src/server/%,$(LIB_OBJ))
$(FRONT_OBJ): INC := $(FRONT_INC)
# The links are made on every run (five of them), so that a build directory copied from another
# checkout never compiles against that checkout's sources; $(FRONT)/flags changes when the
# front-ends' include path does, so objects compiled with another one (an older build directory)
# are compiled again.
.PHONY: front-links
$(FRONT_OBJ): $(FRONT)/flags | front-links
front-links:
	@mkdir -p $(FRONT)/base
	@ln -sfn $(CURDIR)/src/cli $(FRONT)/cli
	@ln -sfn $(CURDIR)/src/server $(FRONT)/server
	@ln -sfn $(CURDIR)/src/base/err.h $(FRONT)/base/err.h
	@ln -sfn $(CURDIR)/src/base/buf.h $(FRONT)/base/buf.h
$(FRONT)/flags: front-links
	@echo '$(FRONT_INC)' | cmp -s - $@ || echo '$(FRONT_INC)' > $@
# the front-ends' flags, for tests/suite/boundaries.sh
.PHONY: print-front-flags
print-front-flags: front-links
	@echo $(CFLAGS) $(FRONT_INC)

# The tokenizer's binary cache is keyed on the code that builds the tables, not only on the
# tokenizer files: a hash of the tokenizer's (and base's) sources and of the rule that picks the
# tokenizer's files (format/mdir.*), baked into load.c, which is rebuilt whenever one of them
# changes (src/tokenizer/cache.c explains the cache).
TOK_SRC := $(sort $(wildcard src/tokenizer/*.c src/tokenizer/*.h src/base/*.c src/base/*.h src/format/mdir.c src/format/mdir.h))
TOK_HASH := $(shell cat $(TOK_SRC) | sha256sum | cut -c1-16)
$(BUILD)/src/tokenizer/load.o: CFLAGS += -DQWEN3_TOKENIZER_BUILD='"$(TOK_HASH)"'
$(BUILD)/src/tokenizer/load.o: $(TOK_SRC)

$(BUILD)/gen/chat_html.c: src/server/web/chat.html scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh $< srv_chat_html > $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) $(INC) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EXE_LDFLAGS) $(INC) -o $@ $< $(TEST_EXTRA) $(LIB) $(LDLIBS)

# test_gemm_ggml also links a second build of quant_ggml_gemm256.c: its AVX-VNNI flavour with the
# EVEX encoding of the same instructions (kq_ggml_gemm_avxvnni_evex), so that the flavour's code runs
# on CPUs with AVX-512 VNNI but without AVX-VNNI (see the file's head). Not in the library.
GEMM256_EVEX := $(BUILD)/testobj/quant_ggml_gemm256_evex.o
$(GEMM256_EVEX): src/kernels/quant_ggml_gemm256.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -DQWEN3_GEMM256_EVEX -c $< -o $@
$(BUILD)/tests/test_gemm_ggml: $(GEMM256_EVEX)
$(BUILD)/tests/test_gemm_ggml: TEST_EXTRA := $(GEMM256_EVEX)
-include $(GEMM256_EVEX:.o=.d)

# qwen3-mpi: the same objects, but src/mpi/pp.c compiled by mpicc with QWEN3_MPI, linked by mpicc
MPICC ?= mpicc
MPI ?= 0
MPI_BIN := $(BUILD)/qwen3-mpi
MPI_PP := $(BUILD)/mpi/pp.o
HAVE_MPICC := $(shell command -v $(MPICC) 2>/dev/null)
$(MPI_PP): src/mpi/pp.c
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) $(INC) -DQWEN3_MPI -c $< -o $@
$(MPI_BIN): $(CLI_OBJ) $(filter-out $(BUILD)/src/mpi/pp.o,$(LIB_OBJ)) $(MPI_PP)
	$(MPICC) $(LDFLAGS) $(EXE_LDFLAGS) -o $@ $^ $(LDLIBS)
qwen3-mpi: $(MPI_BIN)
	@ln -sfn $(MPI_BIN) qwen3-mpi
ifeq ($(MPI),1)
all: qwen3-mpi
endif
-include $(MPI_PP:.o=.d)

ifneq ($(HAVE_MPICC),)
test: $(MPI_BIN)
endif
test: all
	QWEN3_BUILD=$(BUILD) tests/run.sh

bench: all
	QWEN3_BUILD=$(BUILD) bench/run.sh

demo: all
	scripts/demo.sh

fuzz:
	scripts/fuzz.sh

clean:
	rm -rf build qwen3 qwen3-mpi

# ---- install: make install [PREFIX=/usr/local] [DESTDIR=staging root] ----------------------------
# The binary, include/qwen3.h, libqwen3.a, libqwen3.so.MAJOR.MINOR.PATCH (soname libqwen3.so.MAJOR,
# or libqwen3.so.0.MINOR while MAJOR is 0: before 1.0 a minor version may change the ABI; only the
# qwen3_* symbols exported), qwen3.pc, the man page and bash completion (both generated
# from the help texts). The shared library links the release build's objects (compiled -fPIC).
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^\#define QWEN3_VERSION "\(.*\)"/\1/p' include/qwen3.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
ifeq ($(SOMAJOR),0)
SOMAJOR := 0.$(word 2,$(subst ., ,$(VERSION)))
endif
SHLIB := $(BUILD)/libqwen3.so.$(VERSION)
LIB_LDLIBS := -ljansson -lutf8proc -lmicrohttpd -lm -pthread

$(SHLIB): $(LIB_OBJ) scripts/libqwen3.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libqwen3.so.$(SOMAJOR) -Wl,--version-script=scripts/libqwen3.map \
		-o $@ $(LIB_OBJ) $(LIB_LDLIBS)

$(BUILD)/qwen3.1: $(BIN) scripts/gen_man.sh
	scripts/gen_man.sh $(BIN) > $@

$(BUILD)/qwen3.bash: $(BIN) scripts/gen_completion.sh
	scripts/gen_completion.sh $(BIN) > $@

shared: $(SHLIB)

install: $(BIN) $(LIB) $(SHLIB) $(BUILD)/qwen3.1 $(BUILD)/qwen3.bash scripts/qwen3.pc.in default-model
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/qwen3
	install -m 644 include/qwen3.h $(DESTDIR)$(PREFIX)/include/qwen3.h
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libqwen3.a
	install -m 755 $(SHLIB) $(DESTDIR)$(PREFIX)/lib/libqwen3.so.$(VERSION)
	ln -sfn libqwen3.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libqwen3.so.$(SOMAJOR)
	ln -sfn libqwen3.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libqwen3.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' scripts/qwen3.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/qwen3.pc
	install -m 644 $(BUILD)/qwen3.1 $(DESTDIR)$(PREFIX)/share/man/man1/qwen3.1
	install -m 644 $(BUILD)/qwen3.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qwen3
	if [ -f $(DEFAULT_MODEL)/model.safetensors ]; then install -d $(DESTDIR)$(PREFIX)/share/qwen3/default-model && \
		install -m 644 $(DEFAULT_MODEL)/* $(DESTDIR)$(PREFIX)/share/qwen3/default-model/; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/qwen3 $(DESTDIR)$(PREFIX)/include/qwen3.h $(DESTDIR)$(PREFIX)/lib/libqwen3.a \
		$(DESTDIR)$(PREFIX)/lib/libqwen3.so $(DESTDIR)$(PREFIX)/lib/libqwen3.so.$(SOMAJOR) \
		$(DESTDIR)$(PREFIX)/lib/libqwen3.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/pkgconfig/qwen3.pc \
		$(DESTDIR)$(PREFIX)/share/man/man1/qwen3.1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qwen3 \
		$(DESTDIR)$(PREFIX)/share/qwen3/default-model/*
	-rmdir $(DESTDIR)$(PREFIX)/share/qwen3/default-model $(DESTDIR)$(PREFIX)/share/qwen3 2>/dev/null

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
