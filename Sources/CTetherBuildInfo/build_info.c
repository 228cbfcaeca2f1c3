#include "tether_build_info.h"

// Package.swift defines both (cSettings); the fallbacks keep a build without them honest.
#ifndef TETHER_BUILD_VERSION
#define TETHER_BUILD_VERSION "unknown"
#endif
#ifndef TETHER_BUILD_COMMIT
#define TETHER_BUILD_COMMIT "unknown"
#endif

const char *tether_build_version(void) { return TETHER_BUILD_VERSION; }
const char *tether_build_commit(void) { return TETHER_BUILD_COMMIT; }
