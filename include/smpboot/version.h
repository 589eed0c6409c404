/* SPDX-License-Identifier: MIT */
/*
 * The library's version: the one place it is written. meson.build checks its
 * project() version against these three numbers at configure time and stops
 * on a mismatch.
 */
#ifndef SMPBOOT_VERSION_H
#define SMPBOOT_VERSION_H

#define SMPBOOT_VERSION_MAJOR 0
#define SMPBOOT_VERSION_MINOR 1
#define SMPBOOT_VERSION_PATCH 0

/*
 * One number for #if comparisons: MAJOR * 10000 + MINOR * 100 + PATCH, so
 * 0.1.0 is 100 and 1.2.3 would be 10203 (MINOR and PATCH stay below 100).
 */
#define SMPBOOT_VERSION \
    (SMPBOOT_VERSION_MAJOR * 10000 + SMPBOOT_VERSION_MINOR * 100 + SMPBOOT_VERSION_PATCH)

#endif
