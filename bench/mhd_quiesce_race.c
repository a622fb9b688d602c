/*
 * mhd_quiesce_race - why `iris serve` accepts connections itself instead of
 * stopping libmicrohttpd's listening socket with MHD_quiesce_daemon()
 * (src/server/listener.h): counts, for each way of stopping, the rounds
 * where stopping a busy daemon aborts (tests/unit/mhd_race.h describes a
 * round).
 *
 *   make bench && build/bench/mhd_quiesce_race 2000
 *   build/bench/mhd_quiesce_race 2000 quiesce-epoll listener
 *
 * With libmicrohttpd 0.9.75 (Debian 12), quiesced epoll workers abort with
 * "Failed to remove listen FD from epoll set" (daemon.c): the quiescing
 * thread and a worker that is awake both take the listening socket out of
 * the worker's epoll set, and the quiescing side treats ENOENT as fatal.
 */
#include "../tests/unit/mhd_race.h"

#include <string.h>

int main(int argc, char **argv)
{
    static const char *const names[] = {"quiesce-epoll", "quiesce-poll", "listener"};
    int rounds = argc > 1 ? atoi(argv[1]) : 2000;
    if (rounds < 1) {
        fprintf(stderr, "usage: mhd_quiesce_race [ROUNDS] [quiesce-epoll|quiesce-poll|listener ...]\n");
        return 2;
    }
    int n = argc > 2 ? argc - 2 : 3;
    printf("libmicrohttpd %s, %d rounds each, pool of 2 workers, %d clients\n",
           MHD_get_version(), rounds, MHD_RACE_CLIENTS);
    for (int i = 0; i < n; i++) {
        const char *name = argc > 2 ? argv[i + 2] : names[i];
        int how = -1;
        for (int k = 0; k < 3; k++)
            if (!strcmp(name, names[k])) how = k;
        if (how < 0) {
            fprintf(stderr, "unknown way to stop '%s' (quiesce-epoll, quiesce-poll, listener)\n",
                    name);
            return 2;
        }
        int failed, aborted = mhd_race_count(how, rounds, &failed);
        if (aborted < 0) {
            perror("mhd_quiesce_race: fork");
            return 1;
        }
        printf("%-13s  %d of %d rounds aborted", name, aborted, rounds);
        printf(failed ? " (%d did not start)\n" : "\n", failed);
    }
    return 0;
}
