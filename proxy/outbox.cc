#include "proxy/outbox.h"

#include <algorithm>
#include <utility>

namespace moat::proxy {

namespace asio = boost::asio;

void Outbox::AddBorrowed(std::span<const uint8_t> bytes, Producer producer) {
  if (bytes.empty()) return;
  if (pieces_.size() > head_) {
    Piece& last = pieces_.back();
    const auto* end = static_cast<const uint8_t*>(last.bytes.data()) + last.bytes.size();
    if (last.borrowed && last.producer == producer && end == bytes.data()) {
      last.bytes = asio::const_buffer(last.bytes.data(), last.bytes.size() + bytes.size());
      return;
    }
  }
  Piece& piece = pieces_.emplace_back();
  piece.bytes = asio::const_buffer(bytes.data(), bytes.size());
  piece.producer = producer;
  piece.borrowed = true;
  ++pending_[static_cast<size_t>(producer)];
}

void Outbox::AddOwned(std::vector<uint8_t> bytes, Producer producer) {
  if (bytes.empty()) return;
  // A read of 7-byte refused QoS 1 PUBLISHes is answered with a 4-byte PUBACK each: as a
  // piece and a heap block apiece, about 80 bytes, moat would hold ten times what the
  // client sent. Joined to the answer before (not yet partly written), they cost their
  // bytes. Up to a read chunk's worth, so a large rewritten packet is never copied to
  // join it.
  constexpr size_t kJoinUpTo = 64;
  constexpr size_t kJoinedAtMost = 16 * 1024;
  if (pieces_.size() > head_ && bytes.size() <= kJoinUpTo) {
    Piece& last = pieces_.back();
    if (!last.borrowed && last.producer == producer && last.bytes.data() == last.owned.data() &&
        last.owned.size() + bytes.size() <= kJoinedAtMost) {
      last.owned.insert(last.owned.end(), bytes.begin(), bytes.end());
      last.bytes = asio::const_buffer(last.owned.data(), last.owned.size());
      return;
    }
  }
  Piece& piece = pieces_.emplace_back();
  piece.owned = std::move(bytes);
  piece.bytes = asio::const_buffer(piece.owned.data(), piece.owned.size());
  piece.producer = producer;
  ++pending_[static_cast<size_t>(producer)];
}

net::IoResult Outbox::Flush(net::ByteStream& stream) {
  // One gathered write takes a whole read's worth of packets; more pieces than this
  // wait for the next round.
  constexpr size_t kMaxGather = 16;
  std::array<asio::const_buffer, kMaxGather> gather;
  while (head_ < pieces_.size()) {
    const size_t count = std::min(kMaxGather, pieces_.size() - head_);
    for (size_t i = 0; i < count; ++i) gather[i] = pieces_[head_ + i].bytes;
    net::IoResult result = stream.TryWrite({gather.data(), count});
    if (result.bytes > 0) Written(result.bytes);
    if (result.error || result.want != net::Want::kNothing) return result;
  }
  return {};
}

void Outbox::Written(size_t bytes) {
  while (bytes > 0 && head_ < pieces_.size()) {
    Piece& piece = pieces_[head_];
    if (bytes < piece.bytes.size()) {
      piece.bytes += bytes;
      return;
    }
    bytes -= piece.bytes.size();
    --pending_[static_cast<size_t>(piece.producer)];
    piece.owned = {};
    ++head_;
  }
  if (head_ == pieces_.size()) {
    pieces_.clear();  // keeps the capacity for the next round of a busy connection
    head_ = 0;
  }
}

void Outbox::ReleaseIdleMemory() {
  if (pieces_.empty()) std::vector<Piece>().swap(pieces_);
}

}  // namespace moat::proxy
