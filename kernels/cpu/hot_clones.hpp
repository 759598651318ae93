// COHORT_HOT_CLONES: a hot loop also gets an AVX2/FMA clone (x86-64-v3), picked when the
// program loads; the build itself targets x86-64-v2 so that it runs on any x86-64 server.
// Only for loops whose results cannot depend on the clone: no multiply-add the v3 clone could
// fuse where the default one rounds twice, unless (as in iALS) the caller tolerates it.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define COHORT_HOT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define COHORT_HOT_CLONES
#endif
