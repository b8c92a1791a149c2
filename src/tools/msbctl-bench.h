/*
 * `msbctl bench`: the throughput benchmark over the TCP protocol, implemented in msbctl-bench.c
 * (built only when that file exists; meson then defines MSBCTL_HAVE_BENCH).
 */
#pragma once

int
msbctl_bench_run(int argc, char **argv);
