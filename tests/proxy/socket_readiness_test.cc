// net::AwaitSocket on real loopback sockets: a wait started after EAGAIN (or a short read)
// fires on the next data or room, even when the reactor already took an earlier edge with
// no wait queued; it never fires by itself; closing the socket aborts it; an io_context
// destroyed with a wait queued tells nobody.
#include "proxy/net/socket_readiness.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>
#include <vector>

namespace moat::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct Recorder final : ReadyListener {
  void OnReady(int tag, const boost::system::error_code& error) override {
    calls.push_back(tag);
    last_error = error;
  }
  std::vector<int> calls;
  boost::system::error_code last_error;
};

class SocketReadiness : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    near_.connect(acceptor.local_endpoint());
    acceptor.accept(far_);
    near_.non_blocking(true);
    // Pending work, so that the io_context polls its reactor even with no wait queued.
    keep_running_.async_wait([](const boost::system::error_code&) {});
  }

  void TearDown() override { keep_running_.cancel(); }

  // Runs the io_context until the listener was called `calls` times in all, or 2 s.
  void RunUntilCalled(size_t calls) {
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (recorder_.calls.size() < calls && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(10ms);
    }
  }

  // Reads until EAGAIN; returns the bytes read.
  size_t ReadAll() {
    size_t total = 0;
    for (;;) {
      char buffer[4096];
      boost::system::error_code error;
      total += near_.read_some(asio::buffer(buffer), error);
      if (error == asio::error::would_block) return total;
      EXPECT_FALSE(error) << error.message();
      if (error) return total;
    }
  }

  void Send(size_t bytes) { asio::write(far_, asio::buffer(std::vector<char>(bytes, 'x'))); }

  asio::io_context io_{1};
  tcp::socket near_{io_};
  tcp::socket far_{io_};
  asio::steady_timer keep_running_{io_, 1h};
  Recorder recorder_;
};

TEST_F(SocketReadiness, ReadWaitFiresOnDataSentAfterEagain) {
  EXPECT_EQ(ReadAll(), 0u);
  AwaitSocket(near_, Want::kReadable, recorder_, 7);
  io_.run_for(50ms);
  EXPECT_TRUE(recorder_.calls.empty()) << "a wait with nothing to read must not fire";
  Send(10);
  RunUntilCalled(1);
  ASSERT_EQ(recorder_.calls, std::vector<int>{7});
  EXPECT_FALSE(recorder_.last_error);
  EXPECT_EQ(ReadAll(), 10u);
}

// The reactor saw the first data while nobody waited (the edge is spent); the next wait,
// started after reading to EAGAIN, still fires on new data.
TEST_F(SocketReadiness, AnEdgeSpentWithNoWaitDoesNotStrandTheNext) {
  EXPECT_EQ(ReadAll(), 0u);
  AwaitSocket(near_, Want::kReadable, recorder_, 1);
  Send(5);
  RunUntilCalled(1);
  ASSERT_EQ(recorder_.calls.size(), 1u);
  Send(5);  // arrives with no wait queued: the reactor takes its edge and drops it
  io_.run_for(50ms);
  EXPECT_EQ(ReadAll(), 10u);
  AwaitSocket(near_, Want::kReadable, recorder_, 2);
  io_.run_for(50ms);
  EXPECT_EQ(recorder_.calls.size(), 1u) << "a wait with nothing to read must not fire";
  Send(1);
  RunUntilCalled(2);
  EXPECT_EQ(recorder_.calls, (std::vector<int>{1, 2}));
}

TEST_F(SocketReadiness, WriteWaitFiresWhenThePeerMakesRoom) {
  near_.set_option(asio::socket_base::send_buffer_size(4096));
  std::vector<char> chunk(65536, 'y');
  size_t written = 0;
  for (;;) {
    boost::system::error_code error;
    written += near_.write_some(asio::buffer(chunk), error);
    if (error == asio::error::would_block) break;
    ASSERT_FALSE(error) << error.message();
  }
  AwaitSocket(near_, Want::kWritable, recorder_, 3);
  // No "must not fire yet" here: loopback TCP may free send buffer space a moment after
  // EAGAIN by itself, which is a true edge.
  std::vector<char> sink(written);
  asio::read(far_, asio::buffer(sink));
  RunUntilCalled(1);
  EXPECT_EQ(recorder_.calls, std::vector<int>{3});
}

TEST_F(SocketReadiness, ClosingTheSocketAbortsTheWait) {
  EXPECT_EQ(ReadAll(), 0u);
  AwaitSocket(near_, Want::kReadable, recorder_, 4);
  near_.close();
  RunUntilCalled(1);
  ASSERT_EQ(recorder_.calls, std::vector<int>{4});
  EXPECT_EQ(recorder_.last_error, asio::error::operation_aborted);
}

TEST(SocketReadinessLifetime, AnIoContextDestroyedWithAWaitQueuedTellsNobody) {
  Recorder recorder;
  {
    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket near(io);
    tcp::socket far(io);
    near.connect(acceptor.local_endpoint());
    acceptor.accept(far);
    near.non_blocking(true);
    char byte;
    boost::system::error_code error;
    near.read_some(asio::buffer(&byte, 1), error);
    ASSERT_EQ(error, asio::error::would_block);
    AwaitSocket(near, Want::kReadable, recorder, 5);
    // The sockets close before the io_context goes: the wait is posted as aborted and
    // then destroyed unrun with the io_context.
  }
  EXPECT_TRUE(recorder.calls.empty());
}

}  // namespace
}  // namespace moat::net
