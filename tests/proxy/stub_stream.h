// A ByteStream whose peer the test plays: what the peer sends, how much room each write
// finds, when readiness comes. Nothing happens by itself: readiness reaches the listener
// only when the test says so (Fire*), outside the relay's own calls, as the real streams
// guarantee. Close() and ShutdownNow() cancel pending waits the way the real streams do:
// posted, with operation_aborted.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "proxy/net/byte_stream.h"

namespace moat::proxy::test {

class StubStream final : public net::ByteStream {
 public:
  explicit StubStream(boost::asio::io_context& io);

  // ---- The peer --------------------------------------------------------------------
  void Send(std::span<const uint8_t> bytes);
  void SendEnd();  // the peer closes its side after what it sent
  // Writes take at most this many bytes in all until the next call; then "would block".
  void set_write_room(size_t bytes) { write_room_ = bytes; }
  // The next TryRead fails with `error`, as a reset connection would.
  void FailNextRead(boost::system::error_code error) { read_error_ = error; }
  // What the peer sent that moat has not read yet.
  size_t unread() const { return input_.size(); }
  // What moat wrote to the peer, and not yet taken by TakeWritten().
  std::vector<uint8_t> TakeWritten();
  const std::vector<uint8_t>& written() const { return written_; }

  // ---- Readiness ---------------------------------------------------------------------
  bool awaiting(net::Want want) const;
  // Tells the listener of the pending wait for `want` that it may go on.
  void Fire(net::Want want);

  // ---- What moat did -------------------------------------------------------------------
  size_t reads() const { return reads_; }  // TryRead calls
  size_t cancels() const { return cancels_; }
  bool closed() const { return closed_; }   // Close(): dropped
  bool shut_down() const { return shut_; }  // ShutdownNow(): goodbye, then closed

  // ---- net::ByteStream ---------------------------------------------------------------
  boost::asio::awaitable<size_t> ReadInto(mqtt::Decoder& decoder) override;
  boost::asio::awaitable<void> WriteAll(
      std::span<const boost::asio::const_buffer> buffers) override;
  net::IoResult TryRead(mqtt::Decoder& decoder) override;
  net::IoResult TryWrite(std::span<const boost::asio::const_buffer> buffers) override;
  void AwaitReady(net::Want want, mqtt::Decoder& decoder, net::ReadyListener& listener,
                  int tag) override;
  void CancelWaits() override;
  void ShutdownNow() override;
  void Close() override;

 private:
  struct Wait {
    net::Want want;
    net::ReadyListener* listener;
    int tag;
  };
  size_t MoveInput(mqtt::Decoder& decoder);
  void AbortWaits();

  boost::asio::io_context& io_;
  std::vector<uint8_t> input_;
  bool input_ended_ = false;
  boost::system::error_code read_error_;
  std::vector<uint8_t> written_;
  size_t write_room_ = std::numeric_limits<size_t>::max();
  std::vector<Wait> waits_;
  boost::asio::steady_timer input_arrived_;  // ReadInto waits on it
  size_t reads_ = 0;
  size_t cancels_ = 0;
  bool closed_ = false;
  bool shut_ = false;
};

}  // namespace moat::proxy::test
