// The Outbox keeps every byte in order across partial writes, and tells each producer
// when its pieces are out: that count is what holds a direction back (backpressure).
#include "proxy/outbox.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "proxy/mqtt/decoder.h"

namespace moat::proxy {
namespace {

namespace asio = boost::asio;

// Takes at most `budget` bytes per TryWrite, then says "would block" until refilled.
class ThrottledStream final : public net::ByteStream {
 public:
  size_t budget = 0;
  std::string written;
  size_t calls = 0;

  net::IoResult TryWrite(std::span<const asio::const_buffer> buffers) override {
    ++calls;
    net::IoResult result;
    for (const auto& b : buffers) {
      const size_t take = std::min(budget, b.size());
      written.append(static_cast<const char*>(b.data()), take);
      budget -= take;
      result.bytes += take;
      if (take < b.size()) break;
    }
    if (result.bytes == 0) result.want = net::Want::kWritable;
    return result;
  }

  net::IoResult TryRead(mqtt::Decoder&) override { return {}; }
  void AwaitReady(net::Want, mqtt::Decoder&, net::ReadyListener&, int) override {}
  void ShutdownNow() override {}
  asio::awaitable<size_t> ReadInto(mqtt::Decoder&) override { co_return 0; }
  asio::awaitable<void> WriteAll(std::span<const asio::const_buffer>) override { co_return; }
  void Close() override {}
};

std::span<const uint8_t> Bytes(const std::string& text, size_t offset, size_t size) {
  return {reinterpret_cast<const uint8_t*>(text.data()) + offset, size};
}

std::vector<uint8_t> Owned(const std::string& text) { return {text.begin(), text.end()}; }

// Everything queued, written to a stream that takes it all: what it got, in how many writes.
struct Written {
  std::string bytes;
  size_t writes = 0;
};
Written FlushAll(Outbox& outbox) {
  ThrottledStream stream;
  stream.budget = 1 << 20;
  outbox.Flush(stream);
  return {stream.written, stream.calls};
}

TEST(Outbox, PartialWritesKeepOrderAndReleaseEachProducerWhenItsBytesAreOut) {
  PendingPieces pending{};
  Outbox outbox(pending);
  ThrottledStream stream;
  const std::string read_chunk = "AAAABBBB";
  outbox.AddBorrowed(Bytes(read_chunk, 0, 4), Producer::kFromClient);
  outbox.AddOwned(Owned("xy"), Producer::kFromBroker);
  outbox.AddBorrowed(Bytes(read_chunk, 4, 4), Producer::kFromClient);
  EXPECT_EQ(pending[0], 2u);
  EXPECT_EQ(pending[1], 1u);

  stream.budget = 3;
  net::IoResult result = outbox.Flush(stream);
  EXPECT_EQ(result.want, net::Want::kWritable);
  EXPECT_EQ(stream.written, "AAA");
  EXPECT_EQ(pending[0], 2u);  // the first piece is not out yet

  stream.budget = 3;
  result = outbox.Flush(stream);
  EXPECT_EQ(stream.written, "AAAAxy");
  EXPECT_EQ(pending[0], 1u);
  EXPECT_EQ(pending[1], 0u);  // the broker's answer is out: that direction may go on
  EXPECT_FALSE(outbox.empty());

  stream.budget = 100;
  result = outbox.Flush(stream);
  EXPECT_EQ(result.want, net::Want::kNothing);
  EXPECT_FALSE(result.error);
  EXPECT_EQ(stream.written, "AAAAxyBBBB");
  EXPECT_EQ(pending[0], 0u);
  EXPECT_TRUE(outbox.empty());
}

TEST(Outbox, AdjacentBorrowedBytesOfOneProducerLeaveAsOnePiece) {
  PendingPieces pending{};
  Outbox outbox(pending);
  const std::string read_chunk = "one two three";
  outbox.AddBorrowed(Bytes(read_chunk, 0, 4), Producer::kFromClient);
  outbox.AddBorrowed(Bytes(read_chunk, 4, 4), Producer::kFromClient);
  outbox.AddBorrowed(Bytes(read_chunk, 8, 5), Producer::kFromClient);
  EXPECT_EQ(pending[0], 1u);
  const Written written = FlushAll(outbox);
  EXPECT_EQ(written.bytes, read_chunk);
  EXPECT_EQ(written.writes, 1u);
  EXPECT_EQ(pending[0], 0u);
}

TEST(Outbox, BytesFromAnotherProducerOrNotAdjacentAreNotMerged) {
  PendingPieces pending{};
  Outbox outbox(pending);
  const std::string read_chunk = "abcdef";
  outbox.AddBorrowed(Bytes(read_chunk, 0, 2), Producer::kFromClient);
  outbox.AddBorrowed(Bytes(read_chunk, 2, 2), Producer::kFromBroker);
  outbox.AddBorrowed(Bytes(read_chunk, 5, 1), Producer::kFromBroker);
  EXPECT_EQ(pending[0], 1u);
  EXPECT_EQ(pending[1], 2u);
  EXPECT_EQ(FlushAll(outbox).bytes, "abcdf");
  EXPECT_EQ(pending[1], 0u);
}

TEST(Outbox, SmallAnswersOfOneProducerJoinIntoOnePiece) {
  PendingPieces pending{};
  Outbox outbox(pending);
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    const std::string ack = "ack" + std::to_string(i % 10);
    outbox.AddOwned(Owned(ack), Producer::kFromClient);
    expected += ack;
  }
  EXPECT_EQ(pending[0], 1u);
  const Written written = FlushAll(outbox);
  EXPECT_EQ(written.bytes, expected);
  EXPECT_EQ(written.writes, 1u);
  EXPECT_EQ(pending[0], 0u);
}

TEST(Outbox, AnAnswerPartlyWrittenOrFromAnotherProducerIsNotJoined) {
  PendingPieces pending{};
  Outbox outbox(pending);
  ThrottledStream stream;
  outbox.AddOwned(Owned("abcd"), Producer::kFromClient);
  stream.budget = 2;
  outbox.Flush(stream);
  outbox.AddOwned(Owned("ef"), Producer::kFromClient);  // "cd" is on its way from one piece
  outbox.AddOwned(Owned("gh"), Producer::kFromBroker);
  outbox.AddOwned(Owned(std::string(65, 'i')), Producer::kFromBroker);  // large: its own piece
  EXPECT_EQ(pending[0], 2u);
  EXPECT_EQ(pending[1], 2u);
  stream.budget = 4;
  outbox.Flush(stream);
  EXPECT_EQ(stream.written, "abcdef");
  EXPECT_EQ(pending[0], 0u);
  stream.budget = 100;
  outbox.Flush(stream);
  EXPECT_EQ(stream.written, "abcdefgh" + std::string(65, 'i'));
  EXPECT_EQ(pending[1], 0u);
}

TEST(Outbox, EmptyPiecesAreNeverQueued) {
  PendingPieces pending{};
  Outbox outbox(pending);
  outbox.AddOwned({}, Producer::kSession);
  outbox.AddBorrowed({}, Producer::kFromClient);
  EXPECT_TRUE(outbox.empty());
  EXPECT_EQ(pending, (PendingPieces{}));
}

}  // namespace
}  // namespace moat::proxy
