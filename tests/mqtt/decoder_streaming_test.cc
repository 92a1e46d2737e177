// Streaming: packets split across and packed into chunks, the zero-copy write path,
// buffer memory, and frames that are views into the decoder's buffer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <variant>

#include "proxy/mqtt/decoder.h"
#include "tests/mqtt/test_util.h"

namespace moat::mqtt::test {
namespace {

// True if `inner` lies entirely within `outer` (both non-empty).
bool Within(const void* inner, size_t inner_size, const void* outer, size_t outer_size) {
  const std::less_equal<const void*> le;
  const auto* in = static_cast<const uint8_t*>(inner);
  const auto* out = static_cast<const uint8_t*>(outer);
  return le(out, in) && le(in + inner_size, out + outer_size);
}

// A QoS 1 PUBLISH of `payload` to "big/topic" with packet id 7.
ByteVector BigPublish(const std::string& payload, ProtocolVersion version) {
  Publish publish;
  publish.qos = 1;
  publish.topic = "big/topic";
  publish.packet_id = 7;
  publish.payload = payload;
  return EncodeOrFail(publish, version);
}

std::string Pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 31 + i / 251) & 0xFF);
  return bytes;
}

// Feeds `bytes` as a socket would, in 16 KiB reads straight into the buffer; returns the
// largest capacity the buffer had on the way.
size_t ReadInChunks(Decoder& decoder, std::span<const uint8_t> bytes) {
  size_t largest = 0;
  for (size_t offset = 0; offset < bytes.size(); offset += 16 * 1024) {
    const size_t n = std::min<size_t>(16 * 1024, bytes.size() - offset);
    const auto space = decoder.PrepareWrite(16 * 1024);
    std::memcpy(space.data(), bytes.data() + offset, n);
    decoder.CommitWrite(n);
    largest = std::max(largest, decoder.capacity());
  }
  return largest;
}

Frame ExpectFrame(Decoder& decoder) {
  DecodeResult result = decoder.Next();
  if (const auto* error = std::get_if<DecodeError>(&result)) {
    ADD_FAILURE() << "unexpected error " << Name(*error);
  } else if (std::holds_alternative<NeedMore>(result)) {
    ADD_FAILURE() << "unexpected NeedMore";
  } else {
    return std::get<Frame>(std::move(result));
  }
  return Frame{PacketType::kReserved, {}, Pingreq{}};
}

bool IsNeedMore(const DecodeResult& result) { return std::holds_alternative<NeedMore>(result); }

// CONNECT, QoS 1 PUBLISH, PINGREQ, SUBSCRIBE, DISCONNECT: a 3.1.1 client's stream.
std::vector<ByteVector> ClientPackets() {
  return {MinimalConnect(kV311),
          Hex("32 08 00 03 61 2F 62 00 01 78"),  // PUBLISH QoS 1 "a/b" id 1, "x"
          Hex("C0 00"),                          // PINGREQ
          Hex("82 06 00 02 00 01 23 01"),        // SUBSCRIBE id 2, "#" QoS 1
          Hex("E0 00")};                         // DISCONNECT
}

TEST(DecoderStreaming, ReturnsSeveralPacketsFromOneChunkInOrder) {
  const std::vector<ByteVector> packets = ClientPackets();
  ByteVector stream;
  for (const ByteVector& packet : packets)
    stream.insert(stream.end(), packet.begin(), packet.end());
  Decoder decoder(ClientToServer());
  decoder.Feed(stream);
  const PacketType types[] = {PacketType::kConnect, PacketType::kPublish, PacketType::kPingreq,
                              PacketType::kSubscribe, PacketType::kDisconnect};
  for (size_t i = 0; i < packets.size(); ++i) {
    SCOPED_TRACE(i);
    const Frame frame = ExpectFrame(decoder);
    EXPECT_EQ(frame.type, types[i]);
    EXPECT_EQ(TypeOf(frame.packet), types[i]);
    EXPECT_EQ(ToHex(frame.raw), ToHex(packets[i]));
  }
  EXPECT_TRUE(IsNeedMore(decoder.Next()));
  EXPECT_EQ(decoder.buffered(), 0u);
  EXPECT_EQ(decoder.version(), kV311);
}

TEST(DecoderStreaming, ReturnsEachPacketOnItsLastByte) {
  Decoder decoder(ClientToServer());
  for (const ByteVector& packet : ClientPackets()) {
    for (size_t i = 0; i < packet.size(); ++i) {
      decoder.Feed(std::span(packet).subspan(i, 1));
      if (i + 1 < packet.size()) {
        ASSERT_TRUE(IsNeedMore(decoder.Next())) << ToHex(packet) << " byte " << i;
        EXPECT_EQ(decoder.buffered(), i + 1);
      } else {
        const Frame frame = ExpectFrame(decoder);
        EXPECT_EQ(ToHex(frame.raw), ToHex(packet));
        EXPECT_TRUE(IsNeedMore(decoder.Next()));
        EXPECT_EQ(decoder.buffered(), 0u);
      }
    }
  }
}

TEST(DecoderStreaming, KeepsTheRestOfAChunkBuffered) {
  // PINGREQ and the first three bytes of a PUBLISH in one chunk.
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  decoder.Feed(Hex("C0 00 30 05 00"));
  EXPECT_EQ(ExpectFrame(decoder).type, PacketType::kPingreq);
  EXPECT_TRUE(IsNeedMore(decoder.Next()));
  EXPECT_EQ(decoder.buffered(), 3u);
  decoder.Feed(Hex("03 61 2F 62"));  // the rest: topic "a/b"
  const Frame frame = ExpectFrame(decoder);
  EXPECT_EQ(ToHex(frame.raw), "30 05 00 03 61 2F 62");
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(DecoderStreaming, BufferedExcludesTheFrameJustReturned) {
  // decoder.h: buffered() is "bytes received but not yet returned as a frame".
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  decoder.Feed(Hex("C0 00 30 05 00"));  // PINGREQ, then 3 bytes of a PUBLISH
  EXPECT_EQ(ExpectFrame(decoder).type, PacketType::kPingreq);
  EXPECT_EQ(decoder.buffered(), 3u);
}

TEST(DecoderStreaming, IgnoresEmptyFeeds) {
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  decoder.Feed({});
  EXPECT_TRUE(IsNeedMore(decoder.Next()));
  decoder.Feed(Hex("C0"));
  decoder.Feed({});
  EXPECT_TRUE(IsNeedMore(decoder.Next()));
  decoder.Feed(Hex("00"));
  EXPECT_EQ(ExpectFrame(decoder).type, PacketType::kPingreq);
}

TEST(DecoderStreaming, DecodesMegabytePublishInOddChunks) {
  const std::string payload = Pattern(1 << 20);
  for (const ProtocolVersion version : {kV311, kV5}) {
    const ByteVector bytes = BigPublish(payload, version);
    for (const size_t chunk_size :
         {size_t{1}, size_t{3}, size_t{7}, size_t{1000}, size_t{4093}, size_t{65537}, kWhole}) {
      SCOPED_TRACE(Name(version) + " chunk " + std::to_string(chunk_size));
      const DecodeOutcome outcome = DecodeAll(
          bytes, ServerToClient(static_cast<uint32_t>(bytes.size())), version, chunk_size);
      ASSERT_EQ(Name(outcome.error), Name(DecodeError::kNone));
      ASSERT_EQ(outcome.frames.size(), 1u);
      EXPECT_TRUE(outcome.frames[0].raw == bytes);
      const auto* publish = std::get_if<Publish>(&outcome.frames[0].packet);
      ASSERT_NE(publish, nullptr);
      EXPECT_EQ(publish->topic, "big/topic");
      EXPECT_EQ(publish->packet_id, 7);
      EXPECT_TRUE(publish->payload == payload);
      EXPECT_EQ(outcome.buffered, 0u);
    }
  }
}

TEST(DecoderStreaming, DecodesThroughPrepareWriteAndCommitWrite) {
  const std::vector<ByteVector> packets = ClientPackets();
  ByteVector stream;
  for (const ByteVector& packet : packets)
    stream.insert(stream.end(), packet.begin(), packet.end());
  for (const size_t min_size : {size_t{1}, size_t{5}, size_t{64}}) {
    SCOPED_TRACE(min_size);
    Decoder decoder(ClientToServer());
    std::vector<std::string> raws;
    size_t offset = 0;
    while (offset < stream.size()) {
      const std::span<uint8_t> space = decoder.PrepareWrite(min_size);
      ASSERT_GE(space.size(), min_size);
      // Like a socket read: fewer bytes than the room offered (here at most 3).
      const size_t size = std::min({space.size(), stream.size() - offset, size_t{3}});
      std::memcpy(space.data(), stream.data() + offset, size);
      decoder.CommitWrite(size);
      offset += size;
      for (DecodeResult result = decoder.Next(); !IsNeedMore(result); result = decoder.Next()) {
        ASSERT_TRUE(std::holds_alternative<Frame>(result)) << "error after " << offset;
        raws.push_back(ToHex(std::get<Frame>(result).raw));
      }
    }
    ASSERT_EQ(raws.size(), packets.size());
    for (size_t i = 0; i < packets.size(); ++i) EXPECT_EQ(raws[i], ToHex(packets[i]));
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

TEST(DecoderStreaming, MixesFeedAndPrepareWrite) {
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  const ByteVector publish = Hex("30 06 00 01 61 68 69 21");  // "a", payload "hi!"
  decoder.Feed(std::span(publish).first(3));
  const std::span<uint8_t> space = decoder.PrepareWrite(publish.size() - 3);
  ASSERT_GE(space.size(), publish.size() - 3);
  std::memcpy(space.data(), publish.data() + 3, publish.size() - 3);
  decoder.CommitWrite(publish.size() - 3);
  const Frame frame = ExpectFrame(decoder);
  EXPECT_EQ(ToHex(frame.raw), ToHex(publish));
}

TEST(DecoderStreaming, PayloadWrittenByPrepareWriteIsNotCopied) {
  // The whole PUBLISH is read straight into the span PrepareWrite offered; the frame, its
  // topic and its payload must be views of that same memory.
  const std::string payload = Pattern(100'000);
  const ByteVector bytes = BigPublish(payload, kV5);
  Decoder decoder(ServerToClient());
  decoder.set_version(kV5);
  const std::span<uint8_t> space = decoder.PrepareWrite(bytes.size());
  ASSERT_GE(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  decoder.CommitWrite(bytes.size());
  const Frame frame = ExpectFrame(decoder);
  EXPECT_EQ(frame.raw.data(), space.data());
  EXPECT_EQ(frame.raw.size(), bytes.size());
  const auto* publish = std::get_if<Publish>(&frame.packet);
  ASSERT_NE(publish, nullptr);
  EXPECT_TRUE(Within(publish->payload.data(), publish->payload.size(), space.data(), bytes.size()));
  EXPECT_EQ(publish->payload.data() + publish->payload.size(),
            reinterpret_cast<const char*>(frame.raw.data() + frame.raw.size()));
  EXPECT_TRUE(
      Within(publish->topic.data(), publish->topic.size(), frame.raw.data(), frame.raw.size()));
}

TEST(DecoderStreaming, ViewsPointInsideTheFrame) {
  // An MQTT 5 PUBLISH fed in pieces: topic, property strings and payload are all views
  // into frame.raw.
  Publish publish;
  publish.topic = "t/1";
  publish.properties.AddString(PropertyId::kContentType, "text/plain");
  publish.properties.AddUserProperty("key", "value");
  publish.payload = "payload bytes";
  const ByteVector bytes = EncodeOrFail(publish, kV5);
  Decoder decoder(ServerToClient());
  decoder.set_version(kV5);
  decoder.Feed(std::span(bytes).first(5));
  ASSERT_TRUE(IsNeedMore(decoder.Next()));
  decoder.Feed(std::span(bytes).subspan(5));
  const Frame frame = ExpectFrame(decoder);
  const auto* decoded = std::get_if<Publish>(&frame.packet);
  ASSERT_NE(decoded, nullptr);
  const auto inside = [&](std::string_view view) {
    return Within(view.data(), view.size(), frame.raw.data(), frame.raw.size());
  };
  EXPECT_TRUE(inside(decoded->topic));
  EXPECT_TRUE(inside(decoded->payload));
  ASSERT_EQ(decoded->properties.items.size(), 2u);
  EXPECT_TRUE(inside(std::get<std::string_view>(decoded->properties.items[0].value)));
  const auto& pair = std::get<StringPair>(decoded->properties.items[1].value);
  EXPECT_TRUE(inside(pair.first));
  EXPECT_TRUE(inside(pair.second));
}

// ---- Memory -----------------------------------------------------------------------------

TEST(DecoderStreaming, ReleaseIdleMemoryFreesTheBufferWhenNothingIsBuffered) {
  Decoder decoder(ClientToServer());
  decoder.ReleaseIdleMemory();
  EXPECT_EQ(decoder.capacity(), 0u);
  decoder.Feed(MinimalConnect(kV311));
  EXPECT_GT(decoder.capacity(), 0u);
  EXPECT_EQ(ExpectFrame(decoder).type, PacketType::kConnect);
  EXPECT_TRUE(IsNeedMore(decoder.Next()));
  EXPECT_EQ(decoder.buffered(), 0u);
  decoder.ReleaseIdleMemory();
  EXPECT_EQ(decoder.capacity(), 0u);
  // The decoder still works afterwards.
  decoder.Feed(Hex("C0 00"));
  EXPECT_EQ(ExpectFrame(decoder).type, PacketType::kPingreq);
}

TEST(DecoderStreaming, ReleaseIdleMemoryKeepsTheFrameJustReturnedValid) {
  // decoder.h: a frame stays valid until the next Next(), Feed() or PrepareWrite();
  // ReleaseIdleMemory() is not among them, so it must not free the frame's bytes.
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  const ByteVector publish = Hex("30 06 00 01 61 68 69 21");  // "a", payload "hi!"
  decoder.Feed(publish);
  const Frame frame = ExpectFrame(decoder);
  ASSERT_EQ(decoder.buffered(), 0u);
  decoder.ReleaseIdleMemory();
  EXPECT_GT(decoder.capacity(), 0u) << "the buffer under the frame was freed";
  if (decoder.capacity() > 0) {
    EXPECT_EQ(ToHex(frame.raw), ToHex(publish));
  }
  // Once the frame is given up (Next() returns NeedMore), the memory can go.
  EXPECT_TRUE(IsNeedMore(decoder.Next()));
  decoder.ReleaseIdleMemory();
  EXPECT_EQ(decoder.capacity(), 0u);
}

TEST(DecoderStreaming, ReleaseIdleMemoryKeepsAPartialPacket) {
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  const ByteVector publish = Hex("30 06 00 01 61 68 69 21");
  decoder.Feed(std::span(publish).first(4));
  ASSERT_TRUE(IsNeedMore(decoder.Next()));
  decoder.ReleaseIdleMemory();
  EXPECT_EQ(decoder.buffered(), 4u);
  EXPECT_GE(decoder.capacity(), 4u);
  decoder.Feed(std::span(publish).subspan(4));
  EXPECT_EQ(ToHex(ExpectFrame(decoder).raw), ToHex(publish));
}

TEST(DecoderStreaming, BufferDoesNotGrowWithTheNumberOfPackets) {
  // 10,000 small PUBLISHes in 7-byte chunks: consumed bytes must be reclaimed.
  const ByteVector publish = Hex("30 0A 00 03 61 2F 62 70 61 79 21 21");  // "a/b" "pay!!"
  ByteVector stream;
  for (int i = 0; i < 10'000; ++i) stream.insert(stream.end(), publish.begin(), publish.end());
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  size_t frames = 0;
  size_t max_capacity = 0;
  for (size_t offset = 0; offset < stream.size(); offset += 7) {
    decoder.Feed(std::span(stream).subspan(offset, std::min<size_t>(7, stream.size() - offset)));
    for (DecodeResult result = decoder.Next(); !IsNeedMore(result); result = decoder.Next()) {
      ASSERT_TRUE(std::holds_alternative<Frame>(result));
      ++frames;
    }
    max_capacity = std::max(max_capacity, decoder.capacity());
  }
  EXPECT_EQ(frames, 10'000u);
  EXPECT_LE(max_capacity, size_t{64 * 1024});
}

TEST(DecoderStreaming, BufferShrinksBackAfterALargePacket) {
  // A 4 MiB PUBLISH, then small ones whose next one is always partly buffered, as on a
  // busy connection: the buffer must not stay at the large packet's size.
  const ByteVector big = BigPublish(Pattern(4 << 20), kV311);
  const ByteVector small = Hex("30 0A 00 03 61 2F 62 70 61 79 21 21");
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  ReadInChunks(decoder, big);
  EXPECT_EQ(ExpectFrame(decoder).raw.size(), big.size());
  const size_t grown = decoder.capacity();
  ASSERT_GE(grown, big.size());
  size_t frames = 0;
  for (int i = 0; i < 100; ++i) {
    // Each chunk: the rest of one small PUBLISH and the first 5 bytes of the next.
    ByteVector chunk(small.begin() + (i == 0 ? 0 : 5), small.end());
    chunk.insert(chunk.end(), small.begin(), small.begin() + 5);
    const auto space = decoder.PrepareWrite(16 * 1024);
    std::memcpy(space.data(), chunk.data(), chunk.size());
    decoder.CommitWrite(chunk.size());
    for (DecodeResult result = decoder.Next(); !IsNeedMore(result); result = decoder.Next()) {
      ASSERT_TRUE(std::holds_alternative<Frame>(result));
      ++frames;
    }
    ASSERT_EQ(decoder.buffered(), 5u);
  }
  EXPECT_EQ(frames, 100u);
  EXPECT_LE(decoder.capacity(), size_t{64 * 1024}) << "grew to " << grown;
  // And it still takes a large packet after shrinking.
  decoder.Feed(std::span(small).subspan(5));
  EXPECT_EQ(ExpectFrame(decoder).raw.size(), small.size());
  decoder.Feed(big);
  EXPECT_EQ(ToHex(ExpectFrame(decoder).raw.first(64)), ToHex(std::span(big).first(64)));
}

TEST(DecoderStreaming, TheLargestPacketTakesItsSizePlusOneReadNotTwiceIt) {
  // Exactly max_packet_size, read 16 KiB at a time as a socket would: doubling alone
  // would end at 8 MiB for this 4 MiB packet.
  constexpr uint32_t kMax = 4 << 20;
  // 18 bytes of header: type, 4-byte length, topic "big/topic" and packet id.
  const ByteVector big = BigPublish(Pattern(kMax - 18), kV311);
  ASSERT_EQ(big.size(), kMax);
  Decoder decoder(ClientToServer(kMax));
  decoder.set_version(kV311);
  EXPECT_LE(ReadInChunks(decoder, big), size_t{kMax} + 16 * 1024);
  EXPECT_EQ(ExpectFrame(decoder).raw.size(), big.size());
}

TEST(DecoderStreaming, ABufferOfOrdinarySizeKeepsItsSizeBetweenPackets) {
  // Up to 256 KiB a buffer is not given back: a 100 KiB packet's buffer stays.
  const ByteVector publish = BigPublish(Pattern(100 * 1024), kV311);
  const ByteVector small = Hex("30 0A 00 03 61 2F 62 70 61 79 21 21");
  Decoder decoder(ClientToServer());
  decoder.set_version(kV311);
  decoder.Feed(publish);
  decoder.Feed(std::span(small).first(3));
  EXPECT_EQ(ExpectFrame(decoder).raw.size(), publish.size());
  const size_t capacity = decoder.capacity();
  ASSERT_GT(capacity, publish.size());
  decoder.Feed(std::span(small).subspan(3));
  EXPECT_EQ(ExpectFrame(decoder).raw.size(), small.size());
  EXPECT_EQ(decoder.capacity(), capacity);
}

}  // namespace
}  // namespace moat::mqtt::test
