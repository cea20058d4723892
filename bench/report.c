/* report.c — see report.h. */
#include "report.h"

#include <stdio.h>

static double ms(uint64_t us) { return (double)us / 1000.0; }

static void table_load(const struct load_result *r, const char *lat_name)
{
    const struct hist *h = &r->lat;
    printf("\n%s (%s)\n", r->what, r->target_rate > 0 ? "open loop" : "flat out");
    if (r->target_rate > 0)
        printf("  target rate            %10.0f /s\n", r->target_rate);
    printf("  in flight (max)        %10d\n", r->inflight);
    if (r->read_ms > 0)
        printf("  reading before confirm %10.0f ms\n", r->read_ms);
    if (r->pcs)
        printf("  PC / phone sockets     %6d / %d\n", r->pcs, r->phones);
    if (r->idle_open)
        printf("  idle PC sockets open   %10d\n", r->idle_open);
    printf("  window                 %10.1f s\n", r->secs);
    printf("  completed              %10llu\n", (unsigned long long)r->done);
    printf("  rate                   %10.0f /s\n", r->rate);
    printf("  errors                 %10llu %s\n", (unsigned long long)r->errors,
           r->error_codes);
    if (r->missed)
        printf("  starts behind schedule %10llu\n", (unsigned long long)r->missed);
    printf("  %-22s  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f ms\n",
           lat_name, ms(hist_quantile(h, .5)), ms(hist_quantile(h, .9)),
           ms(hist_quantile(h, .99)), ms(hist_quantile(h, .999)), ms(h->max),
           hist_mean(h) / 1000.0);
    if (r->whole.count)
        printf("  %-22s  p50 %.3f  p99 %.3f  max %.3f ms\n", "whole flow",
               ms(hist_quantile(&r->whole, .5)), ms(hist_quantile(&r->whole, .99)),
               ms(r->whole.max));
    printf("  broker CPU             %10.1f %%  (100 = one core)\n", r->broker_cpu_pct);
    if (r->loop_cpu_pct >= 0)
        printf("    event loop / workers %10.1f %% / %.1f %%\n", r->loop_cpu_pct,
               r->workers_cpu_pct);
    printf("  bench CPU              %10.1f %%\n", r->bench_cpu_pct);
    printf("  other processes' CPU   %10.1f %%\n", r->other_cpu_pct);
    if (r->rss_kib > 0)
        printf("  broker RSS at end      %10.1f MiB\n", r->rss_kib / 1024.0);
}

void report_table(const struct idle_result *idle, const struct load_result *flows,
                  const struct load_result *refresh)
{
    if (idle->ran) {
        long d = idle->rss_after_kib - idle->rss_before_kib;
        printf("idle PC sockets (each with its ticket)\n");
        printf("  requested / ready / failed  %d / %d / %d\n", idle->requested, idle->ready,
               idle->failed);
        printf("  opened in              %10.1f s\n", idle->open_s);
        printf("  broker RSS before      %10.1f MiB\n", idle->rss_before_kib / 1024.0);
        printf("  broker RSS after       %10.1f MiB\n", idle->rss_after_kib / 1024.0);
        if (idle->ready > 0 && idle->rss_before_kib >= 0)
            printf("  RSS per socket         %10.0f bytes\n", d * 1024.0 / idle->ready);
        if (idle->ready > 0 && idle->rss_held_kib > 0)
            printf("  ... at the hold's end  %10.0f bytes\n",
                   (double)(idle->rss_held_kib - idle->rss_before_kib) * 1024.0 / idle->ready);
        printf("  hold                   %10.1f s\n", idle->hold_s);
        printf("  broker CPU over hold   %10.2f %%\n", idle->broker_cpu_pct);
        printf("  bench CPU over hold    %10.2f %%\n", idle->bench_cpu_pct);
        printf("  others' CPU over hold  %10.2f %%\n", idle->other_cpu_pct);
    }
    if (flows->ran)
        table_load(flows, "confirm -> login");
    if (refresh->ran)
        table_load(refresh, "refresh -> token");
}

static void json_hist(const char *name, const struct hist *h)
{
    printf("\"%s\":{\"count\":%llu,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,"
           "\"p999_us\":%llu,\"max_us\":%llu,\"mean_us\":%.1f}",
           name, (unsigned long long)h->count, (unsigned long long)hist_quantile(h, .5),
           (unsigned long long)hist_quantile(h, .9), (unsigned long long)hist_quantile(h, .99),
           (unsigned long long)hist_quantile(h, .999), (unsigned long long)h->max,
           hist_mean(h));
}

static void json_load(const char *key, const struct load_result *r)
{
    printf(",\"%s\":{\"target_rate\":%.1f,\"read_ms\":%.1f,\"inflight\":%d,\"pcs\":%d,\"phones\":%d,"
           "\"idle_open\":%d,\"secs\":%.2f,\"done\":%llu,\"errors\":%llu,\"missed\":%llu,"
           "\"rate\":%.1f,\"broker_cpu_pct\":%.1f,\"bench_cpu_pct\":%.1f,\"other_cpu_pct\":%.1f,"
           "\"loop_cpu_pct\":%.1f,\"workers_cpu_pct\":%.1f,\"rss_kib\":%ld,"
           "\"error_codes\":\"%s\",",
           key, r->target_rate, r->read_ms, r->inflight, r->pcs, r->phones, r->idle_open, r->secs,
           (unsigned long long)r->done, (unsigned long long)r->errors,
           (unsigned long long)r->missed, r->rate, r->broker_cpu_pct, r->bench_cpu_pct, r->other_cpu_pct,
           r->loop_cpu_pct, r->workers_cpu_pct, r->rss_kib, r->error_codes);
    json_hist("latency", &r->lat);
    if (r->whole.count) {
        printf(",");
        json_hist("whole", &r->whole);
    }
    printf("}");
}

void report_json(const struct idle_result *idle, const struct load_result *flows,
                 const struct load_result *refresh)
{
    printf("{\"version\":1");
    if (idle->ran) {
        long d = idle->rss_after_kib - idle->rss_before_kib;
        printf(",\"idle\":{\"requested\":%d,\"ready\":%d,\"failed\":%d,\"open_s\":%.2f,"
               "\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,\"bytes_per_socket\":%.0f,"
               "\"rss_held_kib\":%ld,\"bytes_per_socket_held\":%.0f,"
               "\"hold_s\":%.2f,\"broker_cpu_pct\":%.3f,\"bench_cpu_pct\":%.3f,"
               "\"other_cpu_pct\":%.3f}",
               idle->requested, idle->ready, idle->failed, idle->open_s, idle->rss_before_kib,
               idle->rss_after_kib, idle->ready > 0 ? d * 1024.0 / idle->ready : 0.0,
               idle->rss_held_kib,
               idle->ready > 0 ? (double)(idle->rss_held_kib - idle->rss_before_kib) * 1024.0 /
                                     idle->ready
                               : 0.0,
               idle->hold_s, idle->broker_cpu_pct, idle->bench_cpu_pct, idle->other_cpu_pct);
    }
    if (flows->ran)
        json_load("flows", flows);
    if (refresh->ran)
        json_load("refresh", refresh);
    printf("}\n");
}
