/* Configuration file parsing, LLM/VLM settings from file and environment,
 * endpoint URLs, and base64 against RFC 4648's published vectors. */
#include "iris.h"
#include "net/llm.h"
#include "test.h"
#include "util/base64.h"
#include "util/config.h"

#include <stdlib.h>
#include <unistd.h>

static iris_config *parse(const char *text)
{
    iris_config *cfg = NULL;
    int rc = iris_config_parse(text, strlen(text), "test.toml", &cfg);
    return rc ? NULL : cfg;
}

static void test_config_syntax(void)
{
    iris_config *c = parse("# comment\n"
                           "top = 1\n"
                           "[llm]\n"
                           "url = \"http://h:1/x\"   # trailing comment\n"
                           "model=bare word here\n"
                           "quoted = \"a \\\"b\\\" # not a comment\\n\"\n"
                           "  [ vlm ]  \n"
                           "model = first\n"
                           "model = second\r\n");
    CHECK(c);
    CHECK(!strcmp(iris_config_get(c, "", "top"), "1"));
    CHECK(!strcmp(iris_config_get(c, "llm", "url"), "http://h:1/x"));
    CHECK(!strcmp(iris_config_get(c, "llm", "model"), "bare word here"));
    CHECK(!strcmp(iris_config_get(c, "llm", "quoted"), "a \"b\" # not a comment\n"));
    CHECK(!strcmp(iris_config_get(c, "vlm", "model"), "second")); /* later wins */
    CHECK(iris_config_get(c, "llm", "missing") == NULL);
    CHECK(iris_config_get(NULL, "llm", "url") == NULL);
    const char *k, *v;
    int pos = 0, line, n = 0;
    while (iris_config_next(c, "vlm", &pos, &k, &v, &line)) n++;
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(line, 9);
    iris_config_free(c);
}

static void test_config_errors_name_the_line(void)
{
    static const struct { const char *text; int line; } bad[] = {
        {"[llm\n", 1},
        {"ok = 1\nno value here\n", 2},
        {"\n\nk = \"unterminated\n", 3},
        {"k = \"x\" junk\n", 1},
        {"[a b]\n", 1},
        {"= 3\n", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        iris_config *c;
        CHECK_EQ_INT(iris_config_parse(bad[i].text, strlen(bad[i].text), "f.toml", &c),
                     IRIS_EFORMAT);
        char want[32];
        snprintf(want, sizeof want, "f.toml:%d:", bad[i].line);
        CHECK_MSG(strstr(iris_errmsg(), want), "%s", iris_errmsg());
    }
    iris_config *c;
    CHECK_EQ_INT(iris_config_parse("a = 1\0b = 2", 11, "nul", &c), IRIS_EFORMAT);
}

static void test_config_load_locations(void)
{
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/iris_test_cfg_%d", (int)getpid());
    snprintf(path, sizeof path, "%s/iris/config.toml", dir);
    setenv("XDG_CONFIG_HOME", dir, 1);
    unsetenv("IRIS_CONFIG");
    iris_config *c;
    CHECK_OK(iris_config_load(NULL, &c)); /* no file: empty configuration */
    CHECK(iris_config_get(c, "llm", "url") == NULL);
    iris_config_free(c);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/iris && printf '[llm]\\nmodel = m1\\n' > %s", dir, path);
    CHECK(system(cmd) == 0);
    CHECK_OK(iris_config_load(NULL, &c));
    CHECK(!strcmp(iris_config_get(c, "llm", "model"), "m1"));
    CHECK(!strcmp(iris_config_origin(c), path));
    iris_config_free(c);
    setenv("IRIS_CONFIG", "/nonexistent/iris.toml", 1); /* named: must exist */
    CHECK_EQ_INT(iris_config_load(NULL, &c), IRIS_ENOTFOUND);
    CHECK(strstr(iris_errmsg(), "/nonexistent/iris.toml"));
    unsetenv("IRIS_CONFIG");
    unsetenv("XDG_CONFIG_HOME");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static void clear_env(void)
{
    static const char *vars[] = {"IRIS_LLM_URL", "IRIS_LLM_MODEL", "IRIS_LLM_TIMEOUT",
                                 "IRIS_LLM_PROTOCOL", "IRIS_LLM_API_KEY", "IRIS_VLM_MODEL",
                                 "IRIS_VLM_API_KEY", "IRIS_VLM_STRONG_MODEL",
                                 "IRIS_VLM_STRONG_API_KEY", "IRIS_LLM_VISION"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static void test_llm_config_file_then_env(void)
{
    clear_env();
    iris_config *f = parse("[llm]\nurl = http://file:1\nmodel = from-file\ntimeout = 30\n"
                           "protocol = ollama\ncontext = 4096\n");
    iris_llm_config c;
    CHECK_OK(iris_llm_config_load(&c, "llm", f, NULL));
    CHECK(!strcmp(c.url, "http://file:1") && !strcmp(c.model, "from-file"));
    CHECK_NEAR(c.timeout_s, 30, 0);
    CHECK_EQ_INT(c.protocol, IRIS_LLM_OLLAMA);
    CHECK_EQ_INT(c.context_tokens, 4096);
    CHECK_EQ_INT(c.vision, 0); /* llm default: text-only */
    CHECK(!strcmp(c.api_key_env, "IRIS_LLM_API_KEY"));
    setenv("IRIS_LLM_MODEL", "from-env", 1);
    setenv("IRIS_LLM_TIMEOUT", "2.5", 1);
    setenv("IRIS_LLM_PROTOCOL", "openai", 1);
    CHECK_OK(iris_llm_config_load(&c, "llm", f, NULL));
    CHECK(!strcmp(c.model, "from-env") && !strcmp(c.url, "http://file:1"));
    CHECK_NEAR(c.timeout_s, 2.5, 0);
    CHECK_EQ_INT(c.protocol, IRIS_LLM_OPENAI);
    CHECK(iris_llm_configured(&c));
    setenv("IRIS_LLM_TIMEOUT", "12s", 1);
    CHECK_EQ_INT(iris_llm_config_load(&c, "llm", f, NULL), IRIS_EARG);
    CHECK_MSG(strstr(iris_errmsg(), "IRIS_LLM_TIMEOUT: '12s' is not a number"), "%s",
              iris_errmsg());
    setenv("IRIS_LLM_PROTOCOL", "grpc", 1);
    setenv("IRIS_LLM_TIMEOUT", "1", 1);
    CHECK_EQ_INT(iris_llm_config_load(&c, "llm", f, NULL), IRIS_EARG);
    CHECK(strstr(iris_errmsg(), "openai or ollama"));
    iris_config_free(f);
    clear_env();
}

static void test_llm_config_refuses_keys_in_files_and_typos(void)
{
    clear_env();
    iris_config *f = parse("[llm]\nmodel = m\napi_key = sk-do-not-store-me\n");
    iris_llm_config c;
    CHECK_EQ_INT(iris_llm_config_load(&c, "llm", f, NULL), IRIS_EARG);
    CHECK_MSG(strstr(iris_errmsg(), "test.toml:3") && strstr(iris_errmsg(), "IRIS_LLM_API_KEY"),
              "%s", iris_errmsg());
    CHECK(!strstr(iris_errmsg(), "sk-do-not-store-me"));
    iris_config_free(f);
    f = parse("[llm]\nmodle = m\n");
    CHECK_EQ_INT(iris_llm_config_load(&c, "llm", f, NULL), IRIS_EARG);
    CHECK(strstr(iris_errmsg(), "test.toml:2: [llm] modle: unknown setting"));
    iris_config_free(f);
    f = parse("[llm]\ncontext = 10\n"); /* below the bound */
    CHECK_EQ_INT(iris_llm_config_load(&c, "llm", f, NULL), IRIS_EARG);
    iris_config_free(f);
    f = parse("[llm]\napi_key_env = MY_OPENAI_KEY\n");
    CHECK_OK(iris_llm_config_load(&c, "llm", f, NULL));
    CHECK(!strcmp(c.api_key_env, "MY_OPENAI_KEY"));
    iris_config_free(f);
}

static void test_vlm_strong_inherits_vlm(void)
{
    clear_env();
    iris_config *f = parse("[vlm]\nurl = http://local:11434\nmodel = moondream\n"
                           "protocol = ollama\n[vlm_strong]\nurl = https://api.example\n"
                           "protocol = openai\nprice_in = 2.5\n");
    iris_llm_config vlm, strong;
    CHECK_OK(iris_llm_config_load(&vlm, "vlm", f, NULL));
    CHECK_EQ_INT(vlm.vision, 1);
    setenv("IRIS_VLM_STRONG_MODEL", "gpt-4o", 1);
    setenv("IRIS_VLM_STRONG_API_KEY", "k", 1);
    CHECK_OK(iris_llm_config_load(&strong, "vlm_strong", f, &vlm));
    CHECK(!strcmp(strong.role, "vlm_strong"));
    CHECK(!strcmp(strong.model, "gpt-4o") && !strcmp(strong.url, "https://api.example"));
    CHECK_EQ_INT(strong.protocol, IRIS_LLM_OPENAI);
    CHECK_NEAR(strong.price_in, 2.5, 0);
    CHECK(!strcmp(strong.api_key_env, "IRIS_VLM_STRONG_API_KEY"));
    unsetenv("IRIS_VLM_STRONG_API_KEY");
    CHECK_OK(iris_llm_config_load(&strong, "vlm_strong", f, &vlm));
    CHECK(!strcmp(strong.api_key_env, "IRIS_VLM_API_KEY")); /* inherited */
    iris_config_free(f);
    clear_env();
}

static void test_endpoints(void)
{
    static const struct { int proto; const char *base, *want; } cases[] = {
        {IRIS_LLM_OPENAI, "http://h:8080", "http://h:8080/v1/chat/completions"},
        {IRIS_LLM_OPENAI, "https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions"},
        {IRIS_LLM_OPENAI, "http://h/v1/chat/completions", "http://h/v1/chat/completions"},
        {IRIS_LLM_OPENAI, "http://h/proxy/", "http://h/proxy/v1/chat/completions"},
        {IRIS_LLM_OLLAMA, "http://localhost:11434", "http://localhost:11434/api/chat"},
        {IRIS_LLM_OLLAMA, "http://localhost:11434/api", "http://localhost:11434/api/chat"},
        {IRIS_LLM_OLLAMA, "http://h/api/chat/", "http://h/api/chat"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        iris_llm_config c;
        iris_llm_config_defaults(&c, "llm");
        c.protocol = cases[i].proto;
        snprintf(c.url, sizeof c.url, "%s", cases[i].base);
        char buf[256];
        iris_llm_endpoint(&c, buf, sizeof buf);
        CHECK_MSG(!strcmp(buf, cases[i].want), "%s -> %s", cases[i].base, buf);
    }
}

static void test_base64_rfc4648_vectors(void)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char enc[16];
        unsigned char dec[16];
        size_t n;
        CHECK_EQ_INT(iris_base64_len(strlen(in[i])), strlen(out[i]));
        iris_base64_encode(in[i], strlen(in[i]), enc);
        CHECK(!strcmp(enc, out[i]));
        CHECK_OK(iris_base64_decode(out[i], strlen(out[i]), dec, &n));
        CHECK(n == strlen(in[i]) && !memcmp(dec, in[i], n));
    }
    unsigned char all[256], back[256];
    char enc[400];
    size_t n;
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    iris_base64_encode(all, 256, enc);
    CHECK_OK(iris_base64_decode(enc, strlen(enc), back, &n));
    CHECK(n == 256 && !memcmp(all, back, 256));
    static const char *bad[] = {"Zg=", "Z===", "Zg==Zg==", "Zm9!", "Zm 9"};
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(iris_base64_decode(bad[i], strlen(bad[i]), back, &n), IRIS_EFORMAT);
}

int main(void)
{
    RUN(test_config_syntax);
    RUN(test_config_errors_name_the_line);
    RUN(test_config_load_locations);
    RUN(test_llm_config_file_then_env);
    RUN(test_llm_config_refuses_keys_in_files_and_typos);
    RUN(test_vlm_strong_inherits_vlm);
    RUN(test_endpoints);
    RUN(test_base64_rfc4648_vectors);
    return test_summary();
}
