// Umbrella header for the CCrypto system-library module (OpenSSL libcrypto 3.x).
// Only KuraCrypto imports this module; all pointer code lives there.
#ifndef KURA_CCRYPTO_SHIM_H
#define KURA_CCRYPTO_SHIM_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/params.h>

// Function-like and nested macros that Swift cannot import, re-exported as constants.
static const int KURA_EVP_CTRL_GCM_GET_TAG = EVP_CTRL_GCM_GET_TAG;
static const int KURA_EVP_CTRL_GCM_SET_TAG = EVP_CTRL_GCM_SET_TAG;

#endif
