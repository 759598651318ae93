// COHORT_HOT_CLONES: a hot loop also gets AVX-512 (x86-64-v4) and AVX2/FMA (x86-64-v3)
// clones, one picked when the program loads; the build itself targets x86-64-v2 so that it
// runs on any x86-64 server. For loops whose results cannot depend on the clone (no multiply-
// add a clone could fuse where the default one rounds twice, no reduction split by vector
// width), or where the caller tolerates it (iALS's float CG: the default job's training,
// 1.27 -> 1.17 s with the v4 clone on an Emerald Rapids core).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define COHORT_HOT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define COHORT_HOT_CLONES
#endif
