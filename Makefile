# iris build.
#
#   make            libiris.a, libiris.so and the iris CLI in build/
#   make test       build everything (tests too) and run the whole suite
#   make asan       the same suite on an ASan + UBSan build (build/asan/)
#   make CC=clang   any target with clang (-Werror clean on gcc and clang)
#   make bench      benchmark binaries (never part of `make test`)
#
# Sources are found by folder: every src/<module>/*.c goes into libiris,
# except src/cli (the iris binary) and src/server (linked into the CLI).
# Each tests/unit/test_*.c becomes one test binary. Nothing needs listing.

CC      ?= cc
BUILD   ?= build
PYTHON  ?= .venv/bin/python
SAN     ?=

DEPS    := libcrypto sqlite3 libjpeg libpng libwebp libwebpdemux libtiff-4 libexif libutf8proc \
           libcurl libmicrohttpd libcjson tesseract lept openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(DEPS) mupdf 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(DEPS) 2>/dev/null) \
              $(shell pkg-config --libs --static mupdf 2>/dev/null) -lharfbuzz -lgif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -pthread $(WARN) $(CFLAGS) \
              -Iinclude -Isrc $(PKG_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lgomp -lpthread -lm

ifeq ($(SAN),1)
  BUILD := build/asan
  ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC  := $(filter-out src/cli/% src/server/%,$(wildcard src/*/*.c))
CLI_SRC  := $(wildcard src/cli/*.c) $(wildcard src/server/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
BENCH_SRC := $(wildcard bench/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test asan check-tests bench clean
all: $(BUILD)/libiris.a $(BUILD)/libiris.so $(BUILD)/iris

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libiris.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libiris.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/iris: $(CLI_OBJ) $(BUILD)/libiris.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libiris.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libiris.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(EXTRA_OBJ) $(BUILD)/libiris.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libiris.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(EXTRA_OBJ) $(BUILD)/libiris.a $(LDFLAGS) $(LDLIBS)

# These use the server's listening socket (src/server/listener.c), outside libiris.
LISTENER_USERS := $(BUILD)/tests/test_serve_listener $(BUILD)/bench/mhd_quiesce_race
$(LISTENER_USERS): EXTRA_OBJ := $(BUILD)/obj/src/server/listener.o
$(LISTENER_USERS): $(BUILD)/obj/src/server/listener.o

# Vector-search benchmark against hnswlib (C++ headers) and FAISS (static).
# -march=native lets hnswlib compile its AVX-512 kernels, as a user would.
BENCH_BIN += $(BUILD)/bench/ann_bench
$(BUILD)/bench/ann_bench: bench/ann_bench.cpp tests/unit/ann_data.h $(BUILD)/libiris.a
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O3 -march=native -fopenmp -Wall -Iinclude -Isrc -o $@ $< \
	    $(BUILD)/libiris.a -lfaiss -llapack -lblas -lpthread -lm

# The web UI and the OpenAPI document are embedded (.incbin) in the server.
$(BUILD)/obj/src/server/assets.o: $(wildcard web/*) docs/openapi.json

check-tests: all $(TEST_BIN)

# The runner prints one line per test and ends with "N passed, N failed".
test: check-tests
	$(PYTHON) tests/run.py --build $(BUILD)

asan:
	$(MAKE) SAN=1 test

bench: $(BENCH_BIN)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
