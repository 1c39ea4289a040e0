/* Progress line text (see progress.h). */
#include "progress.h"

#include <stdio.h>

void amy__cli_format_eta(char *buf, size_t len, double seconds)
{
    if (!(seconds >= 0) || seconds > 99 * 3600.0) {
        snprintf(buf, len, "?");
        return;
    }
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
}

void amy__cli_progress_format(char *buf, size_t len, const amy__cli_progress *p)
{
    double rate = p->elapsed > 0 ? (double)p->done / p->elapsed : 0;
    double total = p->total_final ? (double)p->total : p->est_total;
    char eta[32] = "?";
    if (rate > 0 && total >= (double)p->done)
        amy__cli_format_eta(eta, sizeof eta, (total - (double)p->done) / rate);
    else if (p->total_final && p->done >= p->total)
        amy__cli_format_eta(eta, sizeof eta, 0);
    snprintf(buf, len, "%llu/%llu%s done, %llu error%s, %.0f q/s, ETA %s",
             (unsigned long long)p->done, (unsigned long long)p->total,
             p->total_final ? "" : "+", (unsigned long long)p->errors,
             p->errors == 1 ? "" : "s", rate, eta);
}
