/* The error contract of iris.h: codes, names and thread-local messages. */
#include "iris.h"
#include "test.h"
#include "util/error.h"

#include <pthread.h>

static void test_fail_sets_message(void)
{
    CHECK_EQ_INT(iris_fail(IRIS_EFORMAT, "bad header in %s", "x.png"), IRIS_EFORMAT);
    CHECK(strcmp(iris_errmsg(), "bad header in x.png") == 0);
    iris_fail_wrap(IRIS_EFORMAT, "loading %s", "dir");
    CHECK(strcmp(iris_errmsg(), "loading dir: bad header in x.png") == 0);
    iris_clear_error();
    CHECK(iris_errmsg()[0] == '\0');
}

static void test_strerror_covers_all_codes(void)
{
    for (int c = IRIS_OK; c <= IRIS_EINTERNAL; c++)
        CHECK(strcmp(iris_strerror(c), "unknown error") != 0);
    CHECK(strcmp(iris_strerror(-1), "unknown error") == 0);
    CHECK(strcmp(iris_strerror(9999), "unknown error") == 0);
}

static void *other_thread(void *arg)
{
    iris_fail(IRIS_EIO, "thread message");
    *(int *)arg = strcmp(iris_errmsg(), "thread message") == 0;
    return NULL;
}

static void test_messages_are_per_thread(void)
{
    iris_fail(IRIS_EARG, "main message");
    int ok = 0;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, &ok) == 0);
    pthread_join(t, NULL);
    CHECK(ok);
    CHECK(strcmp(iris_errmsg(), "main message") == 0);
}

static void test_long_message_truncated(void)
{
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    iris_fail(IRIS_EARG, "%s", big);
    CHECK(strlen(iris_errmsg()) < sizeof big);
    CHECK(strlen(iris_errmsg()) > 100);
}

int main(void)
{
    RUN(test_fail_sets_message);
    RUN(test_strerror_covers_all_codes);
    RUN(test_messages_are_per_thread);
    RUN(test_long_message_truncated);
    return test_summary();
}
