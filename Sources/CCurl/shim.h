// Umbrella header for the CCurl system-library module (libcurl 7.x/8.x).
// KuraCurl wraps it (all pointer code lives there); KuraNotify imports it only for option names.
#ifndef KURA_CCURL_SHIM_H
#define KURA_CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: typed wrappers.
static inline CURLcode kura_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode kura_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode kura_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode kura_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode kura_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode kura_curl_setopt_read_function(CURL *handle, curl_read_callback function) {
    return curl_easy_setopt(handle, CURLOPT_READFUNCTION, function);
}
static inline CURLcode kura_curl_setopt_write_function(CURL *handle, curl_write_callback function) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, function);
}
static inline CURLcode kura_curl_setopt_header_function(CURL *handle, curl_write_callback function) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, function);
}
static inline CURLcode kura_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

// Only these protocols may be used by a handle (a redirect or a typo cannot reach file:// or others).
static inline CURLcode kura_curl_allow_protocols(CURL *handle, const char *names) {
#if LIBCURL_VERSION_NUM >= 0x075500
    return curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, names);
#else
    (void)names;
    return CURLE_OK;
#endif
}

// Macros that Swift cannot import, re-exported as constants.
static const long KURA_CURL_GLOBAL_DEFAULT = CURL_GLOBAL_DEFAULT;
static const int KURA_CURL_ERROR_SIZE = CURL_ERROR_SIZE;
static const size_t KURA_CURL_READFUNC_ABORT = CURL_READFUNC_ABORT;

#endif
