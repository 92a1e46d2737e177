// What a session has yet to write to one stream, in order: packets borrowed from the
// other side's decoder (forwarded as they came) and bytes moat made itself (answers,
// rewritten packets, DISCONNECT). Each piece remembers which direction produced it, so
// that a direction stops reading while its output is still on the way: that is the
// backpressure that bounds a session's memory.
#pragma once

#include <array>
#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <span>
#include <vector>

#include "proxy/net/byte_stream.h"

namespace moat::proxy {

// Who put a piece in an outbox: one of the two directions, or the session itself
// (an UNSUBSCRIBE after a reload, a DISCONNECT), which holds no direction back.
enum class Producer : uint8_t { kFromClient = 0, kFromBroker = 1, kSession = 2 };

// Pieces not yet written, per producer, over all of a session's outboxes.
using PendingPieces = std::array<uint32_t, 3>;

class Outbox {
 public:
  explicit Outbox(PendingPieces& pending) : pending_(pending) {}

  // `bytes` must stay where they are until written: the producer does not read again
  // before its pieces are out. Adjacent borrowed bytes merge into one piece.
  void AddBorrowed(std::span<const uint8_t> bytes, Producer producer);
  void AddOwned(std::vector<uint8_t> bytes, Producer producer);

  // Writes what `stream` takes now. Returns what to wait for before the rest can go
  // (kNothing once empty) and any error.
  net::IoResult Flush(net::ByteStream& stream);

  bool empty() const { return pieces_.empty(); }
  // Frees the piece list of an idle stream.
  void ReleaseIdleMemory();

 private:
  struct Piece {
    boost::asio::const_buffer bytes;
    std::vector<uint8_t> owned;  // empty for borrowed bytes; moving it keeps `bytes` valid
    Producer producer = Producer::kSession;
    bool borrowed = false;
  };
  void Written(size_t bytes);

  std::vector<Piece> pieces_;
  size_t head_ = 0;  // pieces before it are written; compacted when the list empties
  PendingPieces& pending_;
};

}  // namespace moat::proxy
