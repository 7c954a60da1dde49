// Umbrella header for the CZlib system-library module (zlib 1.2.x).
// Only KuraCompression imports this module; all pointer code lives there.
#ifndef KURA_CZLIB_SHIM_H
#define KURA_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2/inflateInit2 are function-like macros (they pass ZLIB_VERSION and
// sizeof(z_stream)), which Swift cannot import; these inline wrappers expand them.

/// deflateInit2 producing a gzip (RFC 1952) stream: windowBits 15 + 16.
static inline int kura_deflateInit2_gzip(z_streamp strm, int level) {
    return deflateInit2(strm, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/// inflateInit2 with automatic gzip/zlib header detection: windowBits 15 + 32.
static inline int kura_inflateInit2_auto(z_streamp strm) {
    return inflateInit2(strm, 15 + 32);
}

#endif
