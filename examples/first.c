/* Three independent queries at once: about as long as the slowest one. */
#include <amysql.h>
#include <ev.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    const char *dsn = argc > 1 ? argv[1] : "mysql://app:secret@127.0.0.1/shop";
    char err[256];
    amy_pool *pool = amy_pool_new(EV_DEFAULT, dsn, err, sizeof err);
    if (!pool) {
        fprintf(stderr, "bad DSN: %s\n", err);
        return 1;
    }
    amy_future *fs[3] = {
        amy_query(pool, "SELECT VERSION()"),
        amy_query(pool, "SELECT COUNT(*) FROM information_schema.COLLATIONS"),
        amy_query(pool, "SELECT 'slept 0.1 s' FROM (SELECT SLEEP(0.1)) AS t"),
    };
    amy_future *all = amy_gather(fs, 3); /* NULL only if memory ran out */
    int st = all ? amy_future_wait(all) : AMY_ENOMEM; /* runs the loop */
    for (int i = 0; i < 3; i++) {
        char why[512];
        if (amy_future_status(fs[i]) == AMY_OK)
            printf("%d: %s\n", i,
                   amy_result_value(amy_future_result(fs[i]), 0, 0, NULL));
        else if (amy_future_describe(fs[i], why, sizeof why))
            printf("%d failed: %s\n", i, why); /* status, errno, SQLSTATE */
        amy_future_free(fs[i]);
    }
    amy_future_free(all); /* a gather never owns its children */
    amy_pool_free(pool);
    return st == AMY_OK ? 0 : 1;
}
