#include "tests/proxy/stub_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "proxy/mqtt/decoder.h"

namespace moat::proxy::test {

namespace asio = boost::asio;

StubStream::StubStream(asio::io_context& io)
    : io_(io), input_arrived_(io, asio::steady_timer::time_point::max()) {}

void StubStream::Send(std::span<const uint8_t> bytes) {
  input_.insert(input_.end(), bytes.begin(), bytes.end());
  input_arrived_.cancel();
}

void StubStream::SendEnd() {
  input_ended_ = true;
  input_arrived_.cancel();
}

std::vector<uint8_t> StubStream::TakeWritten() { return std::exchange(written_, {}); }

bool StubStream::awaiting(net::Want want) const {
  return std::any_of(waits_.begin(), waits_.end(),
                     [want](const Wait& wait) { return wait.want == want; });
}

void StubStream::Fire(net::Want want) {
  const auto it = std::find_if(waits_.begin(), waits_.end(),
                               [want](const Wait& wait) { return wait.want == want; });
  ASSERT_NE(it, waits_.end()) << "nothing awaits that";
  const Wait wait = *it;
  waits_.erase(it);
  wait.listener->OnReady(wait.tag, {});
}

size_t StubStream::MoveInput(mqtt::Decoder& decoder) {
  const size_t n = std::min(input_.size(), net::kReadChunkSize);
  const auto space = decoder.PrepareWrite(n);
  std::copy_n(input_.begin(), n, space.begin());
  decoder.CommitWrite(n);
  input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

asio::awaitable<size_t> StubStream::ReadInto(mqtt::Decoder& decoder) {
  for (;;) {
    if (closed_) throw boost::system::system_error(asio::error::operation_aborted);
    if (!input_.empty()) co_return MoveInput(decoder);
    if (input_ended_) co_return 0;
    input_arrived_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ignored;
    co_await input_arrived_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

asio::awaitable<void> StubStream::WriteAll(std::span<const asio::const_buffer> buffers) {
  if (closed_) throw boost::system::system_error(asio::error::broken_pipe);
  for (const asio::const_buffer& buffer : buffers) {
    const auto* data = static_cast<const uint8_t*>(buffer.data());
    written_.insert(written_.end(), data, data + buffer.size());
  }
  co_return;
}

net::IoResult StubStream::TryRead(mqtt::Decoder& decoder) {
  ++reads_;
  net::IoResult result;
  if (closed_) {
    result.error = asio::error::bad_descriptor;
  } else if (read_error_) {
    result.error = std::exchange(read_error_, {});
  } else if (!input_.empty()) {
    result.bytes = MoveInput(decoder);
    result.drained = input_.empty();
  } else if (input_ended_) {
    result.end = true;
  } else {
    result.want = net::Want::kReadable;
  }
  return result;
}

net::IoResult StubStream::TryWrite(std::span<const asio::const_buffer> buffers) {
  net::IoResult result;
  if (closed_) {
    result.error = asio::error::broken_pipe;
    return result;
  }
  for (const asio::const_buffer& buffer : buffers) {
    const size_t take = std::min(write_room_, buffer.size());
    const auto* data = static_cast<const uint8_t*>(buffer.data());
    written_.insert(written_.end(), data, data + take);
    write_room_ -= take;
    result.bytes += take;
    if (take < buffer.size()) break;
  }
  if (result.bytes == 0) result.want = net::Want::kWritable;
  return result;
}

void StubStream::AwaitReady(net::Want want, mqtt::Decoder& /*decoder*/,
                            net::ReadyListener& listener, int tag) {
  EXPECT_FALSE(closed_) << "a wait on a closed stream would never end";
  waits_.push_back({want, &listener, tag});
}

void StubStream::CancelWaits() {
  ++cancels_;
  AbortWaits();
}

void StubStream::AbortWaits() {
  for (const Wait& wait : std::exchange(waits_, {})) {
    asio::post(io_, [wait] { wait.listener->OnReady(wait.tag, asio::error::operation_aborted); });
  }
  input_arrived_.cancel();
}

void StubStream::ShutdownNow() {
  shut_ = true;
  Close();
}

void StubStream::Close() {
  closed_ = true;
  AbortWaits();
}

}  // namespace moat::proxy::test
