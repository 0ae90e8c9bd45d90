/* chlaunch: runs the ClickHouse server that ships inside chDB's libchdb.so.
 *
 * usage: chlaunch /path/to/libchdb.so [clickhouse-local arguments...]
 *
 * libchdb.so embeds clickhouse-local; its query_stable_v2(argc, argv) entry takes the
 * same command line. With --tcp_port/--http_port/--listen_host and a query that starts
 * the listeners and then never ends, the process is a real ClickHouse server.
 * ops/stack builds this with: gcc -O2 -o .local/bin/chlaunch chlaunch.c -ldl
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct local_result_v2 {
    char *buf;
    size_t len;
    void *_vec;
    double elapsed;
    uint64_t rows_read;
    uint64_t bytes_read;
    char *error_message;
};

typedef struct local_result_v2 *(*query_fn)(int, char **);

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/libchdb.so [clickhouse-local args...]\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        fprintf(stderr, "chlaunch: dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    query_fn query = (query_fn)dlsym(lib, "query_stable_v2");
    if (!query) {
        fprintf(stderr, "chlaunch: query_stable_v2 not found: %s\n", dlerror());
        return 1;
    }
    /* argv[1] (the library path) becomes argv[0] = "clickhouse" for clickhouse-local. */
    argv[1] = "clickhouse";
    struct local_result_v2 *res = query(argc - 1, argv + 1);
    if (!res) {
        fprintf(stderr, "chlaunch: query_stable_v2 returned no result\n");
        return 1;
    }
    if (res->error_message) {
        fprintf(stderr, "chlaunch: %s\n", res->error_message);
        return 1;
    }
    if (res->buf && res->len) fwrite(res->buf, 1, res->len, stdout);
    fprintf(stderr, "chlaunch: query ended after %.1f s\n", res->elapsed);
    return 0;
}
