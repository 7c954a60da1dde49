// Umbrella header for the CZstd system-library module (libzstd 1.5.x).
// Only KuraCompression imports this module; all pointer code lives there.
#ifndef KURA_CZSTD_SHIM_H
#define KURA_CZSTD_SHIM_H

#include <zstd.h>
#include <zstd_errors.h>

#endif
