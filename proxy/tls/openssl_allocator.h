// Where OpenSSL's memory comes from. With SSL_MODE_RELEASE_BUFFERS (what keeps an idle TLS
// connection at a few kilobytes) OpenSSL mallocs a ~17 KiB record buffer each time a
// connection wakes and frees it when the connection goes quiet: several large mallocs per
// message. After a reconnect storm glibc's arena is a patchwork of thousands of free
// chunks pinned apart by long-lived small objects (asio keeps every socket's reactor state
// it ever made), and each of those mallocs walks sorted free lists: a fifth of the relay's
// CPU in the benchmark. Blocks of 4-32 KiB are therefore kept, once freed, in a small
// per-thread cache (512 KiB) by size class and handed straight back.
#pragma once

#include <cstddef>

namespace moat::tls {

// Makes OpenSSL allocate through the functions below. Call first thing in main(): OpenSSL
// refuses once it has allocated anything. Returns false if it refused.
bool InstallOpenSslAllocator();

// The functions themselves, with OpenSSL's signatures (exposed for tests).
void* OpenSslAllocate(size_t size, const char* file, int line);
void* OpenSslReallocate(void* block, size_t size, const char* file, int line);
void OpenSslRelease(void* block, const char* file, int line);

// Bytes this thread's cache holds now.
size_t OpenSslCachedBytes();

}  // namespace moat::tls
