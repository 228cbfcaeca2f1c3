#ifndef TETHER_BUILD_INFO_H
#define TETHER_BUILD_INFO_H

/// This build's version (the VERSION file) and git commit, as Package.swift found them when the
/// build was made. Defined in build_info.c only, so a new commit recompiles one C file, not the
/// Swift modules that read it.
const char *tether_build_version(void);
const char *tether_build_commit(void);

#endif
