// The packets of one read that go on unchanged, as few buffers as possible: frames that
// lie back to back in the decoder's buffer merge into one, so a burst of allowed
// packets leaves in a single write.
#pragma once

#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <span>
#include <vector>

namespace moat::proxy {

class ForwardBatch {
 public:
  void Add(std::span<const uint8_t> raw) {
    if (!buffers_.empty()) {
      auto& last = buffers_.back();
      if (static_cast<const uint8_t*>(last.data()) + last.size() == raw.data()) {
        last = boost::asio::const_buffer(last.data(), last.size() + raw.size());
        return;
      }
    }
    buffers_.emplace_back(raw.data(), raw.size());
  }
  // Bytes moat made (a rewritten packet); kept alive until Clear().
  void AddOwned(std::vector<uint8_t> bytes) {
    owned_.push_back(std::move(bytes));
    buffers_.emplace_back(owned_.back().data(), owned_.back().size());
  }
  bool empty() const { return buffers_.empty(); }
  std::span<const boost::asio::const_buffer> buffers() const { return buffers_; }
  void Clear() {
    buffers_.clear();
    owned_.clear();
  }

 private:
  std::vector<boost::asio::const_buffer> buffers_;
  // Moving a vector keeps its bytes where they are, so buffers_ stays valid as this grows.
  std::vector<std::vector<uint8_t>> owned_;
};

}  // namespace moat::proxy
