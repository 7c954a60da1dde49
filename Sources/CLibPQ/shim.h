// libpq, the PostgreSQL client library (Debian: libpq-dev; pkg-config libpq gives -I/usr/include/postgresql).
// Only KuraPostgres/Connection.swift and KuraPostgres/ConnectionString.swift touch these functions.
#ifndef KURA_CLIBPQ_SHIM_H
#define KURA_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
