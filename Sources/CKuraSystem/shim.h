// Linux calls and constants that Swift's Glibc module does not expose. Header-only: nothing to link.
// _GNU_SOURCE is deliberately not defined: it would change glibc's struct definitions and clash with
// the Glibc module, so the few GNU constants are spelled out with their (Linux ABI-stable) values.
#ifndef KURA_CSYSTEM_SHIM_H
#define KURA_CSYSTEM_SHIM_H
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <malloc.h>

/// O_NOATIME (fcntl.h, GNU): do not update the access time when reading.
static inline int kura_o_noatime(void) { return 01000000; }
/// O_DIRECT (fcntl.h, GNU): write around the page cache (LocalStore's large objects). Its value
/// differs between architectures.
#if defined(__aarch64__) || defined(__arm__) || defined(__powerpc__)
static inline int kura_o_direct(void) { return 0200000; }
#else
static inline int kura_o_direct(void) { return 040000; }
#endif
/// O_TMPFILE (fcntl.h, GNU): an unnamed file in a directory, gone if the process dies before it is
/// linked to a name. __O_TMPFILE | O_DIRECTORY; both values differ between architectures.
#if defined(__aarch64__) || defined(__arm__) || defined(__powerpc__)
static inline int kura_o_tmpfile(void) { return 020000000 | 040000; }
#else
static inline int kura_o_tmpfile(void) { return 020000000 | 0200000; }
#endif
/// AT_EMPTY_PATH (fcntl.h, GNU).
static inline int kura_at_empty_path(void) { return 0x1000; }
/// SEEK_DATA / SEEK_HOLE (unistd.h, GNU): find the data and holes of a sparse file.
static inline int kura_seek_data(void) { return 3; }
static inline int kura_seek_hole(void) { return 4; }
static inline unsigned int kura_major(unsigned long long dev) { return gnu_dev_major((dev_t)dev); }
static inline unsigned int kura_minor(unsigned long long dev) { return gnu_dev_minor((dev_t)dev); }
static inline unsigned long long kura_makedev(unsigned int ma, unsigned int mi) { return (unsigned long long)gnu_dev_makedev(ma, mi); }

/// mremap with MREMAP_MAYMOVE (sys/mman.h declares it only with _GNU_SOURCE; variadic, so Swift
/// cannot call it directly): grows an anonymous mapping without copying its pages (the index table).
extern void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);
static inline void *kura_mremap(void *p, size_t old_size, size_t new_size) { return mremap(p, old_size, new_size, 1); }

/// Keeps large buffers (read blocks, packs, sealed chunks) in the heap instead of a fresh mmap per
/// allocation, so that a backup does not page-fault and zero every buffer again. Process-wide: only
/// the command-line front end calls it. One arena: memory freed by one thread is reused by the others
/// (per-thread arenas each kept their own high-water mark, which inflated the peak RSS).
static inline void kura_tune_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    mallopt(M_ARENA_MAX, 1);
}
#endif
