#include "proxy/net/socket_readiness.h"

#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

// asio's public async_wait cannot skip its epoll_ctl; its reactor can, for an operation
// that may be attempted "speculatively". This file talks to the reactor directly and is
// the only place that does: it depends on asio's epoll reactor (Linux, Boost 1.81).
#if !defined(BOOST_ASIO_HAS_EPOLL) || defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "socket_readiness.cc expects asio's epoll reactor"
#endif

namespace moat::net {
namespace {

namespace detail = boost::asio::detail;

// One readiness wait. Tried once speculatively when queued, which must not complete it (the
// caller just saw EAGAIN); after that, the reactor runs it only on an event for its
// direction (or an error or hang-up), which completes it.
class ReadinessOp final : public detail::reactor_op {
 public:
  ReadinessOp(ReadyListener& listener, int tag)
      : reactor_op(boost::system::error_code(), &ReadinessOp::Perform, &ReadinessOp::Complete),
        listener_(listener),
        tag_(tag) {}

  void MarkQueued() { queued_ = true; }

 private:
  static status Perform(reactor_op* base) {
    return static_cast<ReadinessOp*>(base)->queued_ ? done : not_done;
  }

  // `owner` is null when the io_context is destroyed with the wait still queued: the op is
  // freed and nobody is told.
  static void Complete(void* owner, detail::operation* base, const boost::system::error_code&,
                       std::size_t) {
    auto* op = static_cast<ReadinessOp*>(base);
    ReadyListener& listener = op->listener_;
    const int tag = op->tag_;
    const boost::system::error_code error = op->ec_;
    delete op;
    if (owner != nullptr) listener.OnReady(tag, error);
  }

  ReadyListener& listener_;
  const int tag_;
  bool queued_ = false;
};

// basic_socket keeps its implementation protected; a derived class may name it.
struct SocketInternals : boost::asio::ip::tcp::socket {
  static auto& Of(boost::asio::ip::tcp::socket& socket) {
    return (socket.*&SocketInternals::impl_).get_implementation();
  }
};

}  // namespace

void AwaitSocket(boost::asio::ip::tcp::socket& socket, Want want, ReadyListener& listener,
                 int tag) {
  auto& implementation = SocketInternals::Of(socket);
  auto& reactor = boost::asio::use_service<detail::reactor>(
      boost::asio::query(socket.get_executor(), boost::asio::execution::context));
  // Exact-size and freed when it completes: asio's recycling allocator would park this
  // small wait, for as long as the connection is idle, in whatever larger block it cached.
  auto* op = new ReadinessOp(listener, tag);
  reactor.start_op(want == Want::kWritable ? detail::reactor::write_op : detail::reactor::read_op,
                   implementation.socket_, implementation.reactor_data_, op,
                   /*is_continuation=*/false, /*allow_speculative=*/true);
  // Still alive: whatever start_op did with it (queued, or posted as failed because the
  // socket is closed), it runs no earlier than the next turn of this io_context's thread.
  op->MarkQueued();
}

}  // namespace moat::net
