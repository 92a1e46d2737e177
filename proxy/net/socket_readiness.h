// Readiness waits on a raw socket, for the streams that read and write it themselves
// (plain TCP, TLS) once a session relays.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "proxy/net/byte_stream.h"

namespace moat::net {

// Calls `listener.OnReady(tag, ...)` once `socket` is readable or writable (or in error).
//
// Precondition: the last read (for kReadable) or write (for kWritable) on the socket, in
// this same turn of its io_context, failed with EAGAIN, and the io_context runs on one
// thread. The wait is then queued on the reactor's edge-triggered registration as it
// stands, without the epoll_ctl that asio's async_wait makes for every wait (one system
// call per wait, about a sixth of a relay's calls): the next edge cannot be missed, since
// the reactor does not poll between that EAGAIN and this call.
void AwaitSocket(boost::asio::ip::tcp::socket& socket, Want want, ReadyListener& listener, int tag);

}  // namespace moat::net
