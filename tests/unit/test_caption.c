/* Captions: the cache key against an independent Python computation, reply
 * cleaning, the one-image request through the scripted server, model
 * choice by set size, per-run limits and the estimate shown before a run. */
#include "bmp.h"
#include "iris.h"
#include "llm_server.h"
#include "rag/caption.h"
#include "rag/prompt.h"
#include "test.h"
#include "util/fs.h"

#include <stdlib.h>
#include <time.h>

#define RED "tests/fixtures/rag/red.jpg"

static void test_cache_key_matches_python(void)
{
    const char *sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char key[65];
    CHECK_OK(iris_caption_cache_key(sha, "llava:7b", iris_caption_prompt(), key));
    /* The same recipe in Python's hashlib, from caption.h's description. */
    FILE *f = fopen("/tmp/iris_caption_prompt.txt", "wb");
    CHECK(f);
    fputs(iris_caption_prompt(), f);
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s -c \"import hashlib;p=open('/tmp/iris_caption_prompt.txt','rb').read();"
             "ph=hashlib.sha256(p).hexdigest().encode();"
             "print(hashlib.sha256(b'iris-caption-v1\\0'+b'%s\\0'+b'llava:7b\\0'+ph+b'\\0')"
             ".hexdigest())\"",
             llm_server_python(), sha);
    FILE *py = popen(cmd, "r");
    char want[80] = "";
    if (!py || !fgets(want, sizeof want, py)) {
        if (py) pclose(py);
        SKIP("python3 is not available");
    }
    pclose(py);
    want[strcspn(want, "\n")] = '\0';
    CHECK_MSG(!strcmp(key, want), "C %s vs Python %s", key, want);
    remove("/tmp/iris_caption_prompt.txt");
    /* Each part of the triple changes the key. */
    char k2[65];
    CHECK_OK(iris_caption_cache_key(sha, "llava:13b", iris_caption_prompt(), k2));
    CHECK(strcmp(key, k2));
    CHECK_OK(iris_caption_cache_key(sha, "llava:7b", "another prompt", k2));
    CHECK(strcmp(key, k2));
    CHECK_EQ_INT(iris_caption_cache_key("abc", "m", "p", k2), IRIS_EARG);
    CHECK_EQ_INT(iris_caption_cache_key(sha, "", "p", k2), IRIS_EARG);
    char ph[65], direct[65];
    CHECK_OK(iris_caption_prompt_hash(ph));
    CHECK_OK(iris_sha256_hex(iris_caption_prompt(), strlen(iris_caption_prompt()), direct));
    CHECK(!strcmp(ph, direct));
}

static void check_clean(const char *reply, const char *want)
{
    char *out;
    CHECK_OK(iris_caption_clean(reply, strlen(reply), &out));
    CHECK_MSG(!strcmp(out, want), "got [%s]", out);
    free(out);
}

static void test_clean_replies(void)
{
    check_clean("<think>the user wants...</think>\n\nHere is a description of the image:\n"
                "**A red card** with a white square.\n\n\n\nText: STOP  \n",
                "A red card with a white square.\n\nText: STOP");
    check_clean("Caption: a dog on a beach", "a dog on a beach");
    check_clean("  ## Busy street\nCars and __buses__.", "Busy street\nCars and buses.");
    check_clean("Line one: with a colon is kept\nsecond", "Line one: with a colon is kept\nsecond");
    char *out;
    CHECK_FAILS(iris_caption_clean("   \n\n ", 5, &out), IRIS_EFORMAT, "empty caption");
    CHECK_FAILS(iris_caption_clean("<think>never closed", 19, &out), IRIS_EFORMAT, "empty");
    /* Capped on a character boundary. */
    char big[8000] = "";
    for (int i = 0; i < 2000; i++) strcat(big, "\xe7\x8c\xab");
    CHECK_OK(iris_caption_clean(big, strlen(big), &out));
    CHECK(strlen(out) <= IRIS_CAPTION_MAX_BYTES && strlen(out) % 3 == 0);
    free(out);
}

static void test_request_shape_and_formats(void)
{
    iris_caption_request r;
    static const unsigned char gif[] = "GIF89a....";
    CHECK_FAILS(iris_caption_request_init(&r, gif, sizeof gif, 0), IRIS_EUNSUPPORTED, "JPEG");
    CHECK_FAILS(iris_caption_request_init(&r, NULL, 0, 0), IRIS_EARG, "no image");
    static const unsigned char jpg[] = {0xFF, 0xD8, 0xFF, 0xE0};
    CHECK_OK(iris_caption_request_init(&r, jpg, sizeof jpg, 0));
    CHECK_EQ_INT(r.request.n_messages, 1);
    CHECK(r.parts[0].text && strstr(r.parts[0].text, "visible text"));
    CHECK(r.parts[1].image == jpg && !strcmp(r.parts[1].mime, "image/jpeg"));
    CHECK_EQ_INT(r.request.max_tokens, 300);
}

static void test_caption_image_through_server(void)
{
    if (!llm_server_start()) SKIP("cannot start tests/py/llm_server.py");
    size_t n = 0;
    unsigned char *img = (unsigned char *)test_read_file(RED, &n);
    CHECK(img);
    for (int protocol = 0; protocol < 2; protocol++) {
        iris_llm_config cfg;
        llm_server_config(&cfg, "vlm", "moondream", protocol);
        cfg.price_in = 1.0, cfg.price_out = 4.0; /* per million tokens */
        llm_server_script("{'steps': [{'expect': {'model': 'moondream', 'stream': false, "
                          "'roles': ['user'], 'images': ['" RED "'], 'max_tokens': 300, "
                          "'text_contains': ['search index', 'copied exactly']}, "
                          "'reply': {'text': '<think>hm</think>Caption: A red card, text STOP.', "
                          "'prompt_tokens': 1000, 'completion_tokens': 250}}]}");
        iris_caption_result r;
        CHECK_OK(iris_caption_image(&cfg, img, n, &r));
        CHECK(!strcmp(r.text, "A red card, text STOP."));
        CHECK_EQ_INT(r.prompt_tokens, 1000);
        CHECK_EQ_INT(r.completion_tokens, 250);
        CHECK_NEAR(r.cost, (1000 * 1.0 + 250 * 4.0) / 1e6, 1e-12);
        CHECK(r.seconds >= 0);
        iris_caption_result_free(&r);
        llm_server_verify();
    }
    free(img);
    /* A BMP (no endpoint takes one) is converted to JPEG first. */
    iris_llm_config cfg;
    llm_server_config(&cfg, "vlm", "moondream", IRIS_LLM_OLLAMA);
    img = bmp_gradient(300, 200, &n);
    llm_server_script("{'steps': [{'expect': {'image_mimes': ['image/jpeg']}, "
                      "'reply': {'text': 'A gradient.'}}]}");
    iris_caption_result r;
    CHECK_OK(iris_caption_image(&cfg, img, n, &r));
    CHECK(!strcmp(r.text, "A gradient."));
    iris_caption_result_free(&r);
    llm_server_verify();
    CHECK_FAILS(iris_caption_image(&cfg, (const unsigned char *)"junk", 4, &r), IRIS_EFORMAT,
                "caption");
    free(img);
}

static void clear_env(void)
{
    static const char *vars[] = {"IRIS_VLM_URL", "IRIS_VLM_MODEL", "IRIS_VLM_STRONG_URL",
                                 "IRIS_VLM_STRONG_MODEL", "IRIS_CAPTION_MAX_IMAGES",
                                 "IRIS_CAPTION_MAX_COST", "IRIS_CAPTION_MAX_SECONDS",
                                 "IRIS_CAPTION_STRONG_MAX_IMAGES"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static iris_config *parse(const char *text)
{
    iris_config *c = NULL;
    CHECK_OK(iris_config_parse(text, strlen(text), "t.toml", &c));
    return c;
}

static void test_policy_chooses_by_set_size(void)
{
    clear_env();
    iris_config *f = parse("[vlm]\nurl = http://127.0.0.1:11434\nmodel = moondream\n"
                           "protocol = ollama\nseconds_per_request = 4\n"
                           "[vlm_strong]\nurl = https://api.example.com\nmodel = big-vlm\n"
                           "price_in = 2\nprice_out = 8\nimage_tokens = 1000\n"
                           "seconds_per_request = 2\n[caption]\nstrong_max_images = 20\n");
    iris_caption_policy p;
    CHECK_OK(iris_caption_policy_load(&p, f));
    CHECK(p.has_strong);
    CHECK_EQ_INT(p.strong_max_images, 20);
    iris_caption_plan plan;
    CHECK_OK(iris_caption_plan_make(&p, 30, 15, &plan)); /* 15 left: small */
    CHECK(plan.model == &p.strong && strstr(plan.why, "small set"));
    CHECK_EQ_INT(plan.n_todo, 15);
    int in = 1000 + iris_rag_estimate_tokens(iris_caption_prompt(), strlen(iris_caption_prompt()));
    CHECK_NEAR(plan.est_cost, 15 * (in * 2.0 + 160 * 8.0) / 1e6, 1e-12);
    CHECK_NEAR(plan.est_seconds, 30, 1e-9);
    char line[512];
    iris_caption_plan_describe(&plan, line, sizeof line);
    CHECK_MSG(strstr(line, "Captioning 15 of 30 images (15 cached) with big-vlm at "
                           "https://api.example.com: about 30 s, about 0.") &&
              strstr(line, "in model fees"), "%s", line);
    CHECK_OK(iris_caption_plan_make(&p, 500, 0, &plan));
    CHECK(plan.model == &p.cheap && strstr(plan.why, "large set"));
    CHECK_NEAR(plan.est_cost, 0, 0); /* local model: free */
    iris_caption_plan_describe(&plan, line, sizeof line);
    CHECK_MSG(strstr(line, "about 2000 s.") && !strstr(line, "fees"), "%s", line);
    CHECK_EQ_INT(iris_caption_plan_make(&p, 5, 6, &plan), IRIS_EARG);
    iris_config_free(f);
    /* Nothing configured: a clear error that says how to configure. */
    CHECK_OK(iris_caption_policy_load(&p, NULL));
    CHECK(!p.has_strong);
    CHECK_FAILS(iris_caption_plan_make(&p, 3, 0, &plan), IRIS_EARG, "IRIS_VLM_URL");
    /* Only a strong model (through the environment): used for any size. */
    setenv("IRIS_VLM_STRONG_URL", "http://h", 1);
    setenv("IRIS_VLM_STRONG_MODEL", "only", 1);
    CHECK_OK(iris_caption_policy_load(&p, NULL));
    CHECK_OK(iris_caption_plan_make(&p, 1000, 0, &plan));
    CHECK(plan.model == &p.strong && plan.est_seconds < 0);
    iris_caption_plan_describe(&plan, line, sizeof line);
    CHECK(strstr(line, "time unknown"));
    clear_env();
}

static void test_plan_limits(void)
{
    clear_env();
    setenv("IRIS_VLM_URL", "https://api.example.com", 1);
    setenv("IRIS_VLM_MODEL", "paid", 1);
    setenv("IRIS_CAPTION_MAX_IMAGES", "40", 1);
    iris_config *f = parse("[vlm]\nprice_in = 1000\nimage_tokens = 900\n"
                           "seconds_per_request = 10\n");
    iris_caption_policy p;
    CHECK_OK(iris_caption_policy_load(&p, f));
    iris_caption_plan plan;
    CHECK_OK(iris_caption_plan_make(&p, 100, 0, &plan));
    CHECK_EQ_INT(plan.n_todo, 40);
    CHECK_EQ_INT(plan.n_deferred, 60);
    /* Each image costs about (900 + prompt) * 1000 / 1e6 = about 1: a cost
     * cap of 10 allows 9 or 10 of them; a 55 s cap allows 5. */
    setenv("IRIS_CAPTION_MAX_COST", "10", 1);
    CHECK_OK(iris_caption_policy_load(&p, f));
    CHECK_OK(iris_caption_plan_make(&p, 100, 0, &plan));
    CHECK(plan.n_todo >= 9 && plan.n_todo <= 10 && plan.est_cost <= 10);
    setenv("IRIS_CAPTION_MAX_SECONDS", "55", 1);
    CHECK_OK(iris_caption_policy_load(&p, f));
    CHECK_OK(iris_caption_plan_make(&p, 100, 0, &plan));
    CHECK_EQ_INT(plan.n_todo, 5);
    char line[512];
    iris_caption_plan_describe(&plan, line, sizeof line);
    CHECK_MSG(strstr(line, "95 left for a later run"), "%s", line);
    setenv("IRIS_CAPTION_MAX_COST", "lots", 1);
    CHECK_FAILS(iris_caption_policy_load(&p, f), IRIS_EARG, "IRIS_CAPTION_MAX_COST");
    iris_config_free(f);
    f = parse("[caption]\nmax_imgs = 3\n");
    CHECK_FAILS(iris_caption_policy_load(&p, f), IRIS_EARG, "t.toml:2: [caption] max_imgs");
    iris_config_free(f);
    clear_env();
}

static void test_run_meter(void)
{
    clear_env();
    setenv("IRIS_VLM_URL", "http://127.0.0.1:1", 1);
    setenv("IRIS_VLM_MODEL", "m", 1);
    iris_caption_policy p;
    CHECK_OK(iris_caption_policy_load(&p, NULL));
    p.max_cost = 1.0;
    iris_caption_plan plan;
    CHECK_OK(iris_caption_plan_make(&p, 10, 0, &plan));
    iris_caption_run run;
    iris_caption_run_start(&run, &p, &plan);
    CHECK_EQ_INT(iris_caption_run_eta(&run), -1); /* no speed known yet */
    iris_caption_result r = {.seconds = 3, .cost = 0.4};
    CHECK_OK(iris_caption_run_check(&run));
    iris_caption_run_add(&run, &r);
    CHECK_OK(iris_caption_run_check(&run));
    iris_caption_run_add(&run, &r);
    CHECK_NEAR(iris_caption_run_eta(&run), 8 * 3.0, 1e-9);
    /* 0.8 spent, the next would make 1.2 > 1.0. */
    CHECK_FAILS(iris_caption_run_check(&run), IRIS_ELIMIT, "cost limit");
    p.max_cost = 0;
    p.max_seconds = 0.001;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CHECK_FAILS(iris_caption_run_check(&run), IRIS_ELIMIT, "time limit");
    p.max_seconds = 0;
    for (int i = 2; i < 10; i++) iris_caption_run_add(&run, &r);
    CHECK_FAILS(iris_caption_run_check(&run), IRIS_ELIMIT, "the 10 images planned");
    CHECK_NEAR(iris_caption_run_eta(&run), 0, 0);
    clear_env();
}

int main(void)
{
    RUN(test_cache_key_matches_python);
    RUN(test_clean_replies);
    RUN(test_request_shape_and_formats);
    RUN(test_caption_image_through_server);
    RUN(test_policy_chooses_by_set_size);
    RUN(test_plan_limits);
    RUN(test_run_meter);
    llm_server_stop();
    return test_summary();
}
