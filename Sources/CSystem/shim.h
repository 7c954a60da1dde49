// Linux calls and constants that Swift's Glibc module does not expose. Header-only: nothing to link.
// _GNU_SOURCE is deliberately not defined: it would change glibc's struct definitions and clash with
// the Glibc module, so the few GNU constants are spelled out with their (Linux ABI-stable) values.
#ifndef KURA_CSYSTEM_SHIM_H
#define KURA_CSYSTEM_SHIM_H
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>

/// O_NOATIME (fcntl.h, GNU): do not update the access time when reading.
static inline int kura_o_noatime(void) { return 01000000; }
/// SEEK_DATA / SEEK_HOLE (unistd.h, GNU): find the data and holes of a sparse file.
static inline int kura_seek_data(void) { return 3; }
static inline int kura_seek_hole(void) { return 4; }
static inline unsigned int kura_major(unsigned long long dev) { return gnu_dev_major((dev_t)dev); }
static inline unsigned int kura_minor(unsigned long long dev) { return gnu_dev_minor((dev_t)dev); }
static inline unsigned long long kura_makedev(unsigned int ma, unsigned int mi) { return (unsigned long long)gnu_dev_makedev(ma, mi); }
#endif
