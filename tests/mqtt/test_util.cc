#include "tests/mqtt/test_util.h"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <type_traits>
#include <variant>

namespace moat::mqtt::test {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---- Copying frames out of the decoder ----------------------------------------------

struct Storage {
  std::string raw;                // copy of frame.raw
  std::deque<std::string> extra;  // views that did not point into frame.raw
};

// Re-points a view that pointed into the decoder's copy of frame.raw at the same bytes
// of our copy; anything else (a view the decoder did not take from raw) is copied.
class Rebaser {
 public:
  Rebaser(std::span<const uint8_t> original, Storage& storage)
      : begin_(reinterpret_cast<uintptr_t>(original.data())),
        size_(original.size()),
        storage_(storage) {}

  std::string_view operator()(std::string_view view) {
    if (view.empty()) return {};
    const auto data = reinterpret_cast<uintptr_t>(view.data());
    if (data >= begin_ && data + view.size() <= begin_ + size_) {
      return std::string_view(storage_.raw).substr(data - begin_, view.size());
    }
    return storage_.extra.emplace_back(view);
  }

  Properties operator()(const Properties& properties) {
    Properties out;
    for (const Property& item : properties.items) {
      Property copy = item;
      if (auto* text = std::get_if<std::string_view>(&copy.value)) {
        *text = (*this)(*text);
      } else if (auto* pair = std::get_if<StringPair>(&copy.value)) {
        pair->first = (*this)(pair->first);
        pair->second = (*this)(pair->second);
      }
      out.items.push_back(copy);
    }
    return out;
  }

  Packet operator()(const Packet& packet) {
    return std::visit([this](const auto& original) -> Packet { return Copy(original); }, packet);
  }

 private:
  template <typename T>
  T Copy(const T& original) {
    T copy = original;
    if constexpr (requires { copy.properties; }) copy.properties = (*this)(copy.properties);
    if constexpr (std::is_same_v<T, Connect>) {
      copy.client_id = (*this)(copy.client_id);
      if (copy.will) {
        copy.will->topic = (*this)(copy.will->topic);
        copy.will->payload = (*this)(copy.will->payload);
        copy.will->properties = (*this)(copy.will->properties);
      }
      if (copy.username) copy.username = (*this)(*copy.username);
      if (copy.password) copy.password = (*this)(*copy.password);
    } else if constexpr (std::is_same_v<T, Publish>) {
      copy.topic = (*this)(copy.topic);
      copy.payload = (*this)(copy.payload);
    } else if constexpr (std::is_same_v<T, Subscribe>) {
      for (Subscription& subscription : copy.subscriptions) {
        subscription.filter = (*this)(subscription.filter);
      }
    } else if constexpr (std::is_same_v<T, Unsubscribe>) {
      for (std::string_view& filter : copy.filters) filter = (*this)(filter);
    }
    return copy;
  }

  uintptr_t begin_;
  size_t size_;
  Storage& storage_;
};

DecodedFrame CopyFrame(const Frame& frame) {
  auto storage = std::make_shared<Storage>();
  storage->raw.assign(reinterpret_cast<const char*>(frame.raw.data()), frame.raw.size());
  Rebaser rebase(frame.raw, *storage);
  DecodedFrame copy{frame.type, ByteVector(frame.raw.begin(), frame.raw.end()),
                    rebase(frame.packet), nullptr};
  copy.storage = std::move(storage);
  return copy;
}

// Next() until NeedMore (true) or an error (false).
bool Drain(Decoder& decoder, size_t max_frames, DecodeOutcome& outcome) {
  for (;;) {
    DecodeResult result = decoder.Next();
    if (std::holds_alternative<NeedMore>(result)) return true;
    if (const auto* error = std::get_if<DecodeError>(&result)) {
      outcome.error = *error;
      return false;
    }
    outcome.frames.push_back(CopyFrame(std::get<Frame>(result)));
    if (outcome.frames.size() > max_frames) {
      ADD_FAILURE() << "decoder returned more frames than the input can hold";
      return false;
    }
  }
}

::testing::AssertionResult SameOutcome(const DecodeOutcome& whole, const DecodeOutcome& bytewise) {
  // After an error the bytes still buffered depend on where the error was noticed.
  bool same = whole.error == bytewise.error && whole.frames.size() == bytewise.frames.size() &&
              (whole.error != DecodeError::kNone || whole.buffered == bytewise.buffered);
  for (size_t i = 0; same && i < whole.frames.size(); ++i) {
    same = whole.frames[i].type == bytewise.frames[i].type &&
           whole.frames[i].raw == bytewise.frames[i].raw &&
           whole.frames[i].packet == bytewise.frames[i].packet;
  }
  if (same) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "fed whole: " << Describe(whole) << "\nfed one byte at a time: " << Describe(bytewise);
}

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

void DescribeText(std::ostream& out, std::string_view text) {
  constexpr size_t kMaxShown = 64;
  out << '"';
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out << text[i];
    } else {
      static constexpr char kDigits[] = "0123456789abcdef";
      out << "\\x" << kDigits[c >> 4] << kDigits[c & 0xF];
    }
  }
  out << '"';
  if (text.size() > kMaxShown) out << "...(" << text.size() << " bytes)";
}

void DescribeProperties(std::ostream& out, const Properties& properties) {
  if (properties.empty()) return;
  out << " props{";
  for (const Property& item : properties.items) {
    out << " 0x" << std::hex << static_cast<int>(item.id) << std::dec << '=';
    std::visit(Overloaded{[&](uint32_t value) { out << value; },
                          [&](std::string_view text) { DescribeText(out, text); },
                          [&](const StringPair& pair) {
                            DescribeText(out, pair.first);
                            out << ':';
                            DescribeText(out, pair.second);
                          }},
               item.value);
  }
  out << " }";
}

}  // namespace

// ---- Byte builders ----------------------------------------------------------------

ByteVector Hex(std::string_view hex) {
  ByteVector bytes;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\n' || c == '\t') continue;
    const int digit = HexDigit(c);
    if (digit < 0) {
      ADD_FAILURE() << "bad hex digit '" << c << "' in \"" << hex << '"';
      return bytes;
    }
    if (high < 0) {
      high = digit;
    } else {
      bytes.push_back(static_cast<uint8_t>(high << 4 | digit));
      high = -1;
    }
  }
  if (high >= 0) ADD_FAILURE() << "odd number of hex digits in \"" << hex << '"';
  return bytes;
}

ByteVector Text(std::string_view text) { return ByteVector(text.begin(), text.end()); }

ByteVector Str(std::string_view text) {
  // Built with push_back: GCC 12 reports a false -Warray-bounds for insert() here.
  ByteVector bytes;
  bytes.reserve(2 + text.size());
  bytes.push_back(static_cast<uint8_t>(text.size() >> 8));
  bytes.push_back(static_cast<uint8_t>(text.size()));
  for (char c : text) bytes.push_back(static_cast<uint8_t>(c));
  return bytes;
}

ByteVector Cat(std::initializer_list<ByteVector> parts) {
  ByteVector bytes;
  for (const ByteVector& part : parts) bytes.insert(bytes.end(), part.begin(), part.end());
  return bytes;
}

ByteVector VarInt(uint32_t value) {
  ByteVector bytes;
  do {
    uint8_t byte = value % 128;
    value /= 128;
    if (value > 0) byte |= 0x80;
    bytes.push_back(byte);
  } while (value > 0);
  return bytes;
}

ByteVector WithFixedHeader(uint8_t first_byte, const ByteVector& body) {
  return Cat({{first_byte}, VarInt(static_cast<uint32_t>(body.size())), body});
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string text;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 48) return text + " ...(" + std::to_string(bytes.size()) + " bytes)";
    if (i > 0) text += ' ';
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 0xF];
  }
  return text;
}

std::string_view AsChars(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

ByteVector MinimalConnect(ProtocolVersion version) {
  switch (version) {
    case ProtocolVersion::kV31:
      // "MQIsdp", level 3, flags 02 (clean session), keep alive 60, client id "c".
      return Hex("10 0F 00 06 4D 51 49 73 64 70 03 02 00 3C 00 01 63");
    case ProtocolVersion::kV5:
      // "MQTT", level 5, flags 02 (clean start), keep alive 60, no properties, "c".
      return Hex("10 0E 00 04 4D 51 54 54 05 02 00 3C 00 00 01 63");
    default:
      // "MQTT", level 4, flags 02 (clean session), keep alive 60, client id "c".
      return Hex("10 0D 00 04 4D 51 54 54 04 02 00 3C 00 01 63");
  }
}

Will MakeWill(uint8_t qos, bool retain, std::string_view topic, std::string_view payload) {
  Will will;
  will.qos = qos;
  will.retain = retain;
  will.topic = topic;
  will.payload = payload;
  return will;
}

// ---- Decoder driving ---------------------------------------------------------------

DecoderOptions ClientToServer(uint32_t max_packet_size) {
  return {.direction = Direction::kClientToServer, .max_packet_size = max_packet_size};
}

DecoderOptions ServerToClient(uint32_t max_packet_size) {
  return {.direction = Direction::kServerToClient, .max_packet_size = max_packet_size};
}

DecodeOutcome DecodeAll(std::span<const uint8_t> bytes, DecoderOptions options,
                        ProtocolVersion version, size_t chunk_size) {
  Decoder decoder(options);
  if (version != ProtocolVersion::kUnknown) decoder.set_version(version);
  DecodeOutcome outcome;
  if (chunk_size == 0) chunk_size = 1;
  size_t offset = 0;
  bool ok = true;
  do {
    const size_t size = std::min(chunk_size, bytes.size() - offset);
    decoder.Feed(bytes.subspan(offset, size));
    offset += size;
    ok = Drain(decoder, bytes.size() / 2 + 1, outcome);
  } while (ok && offset < bytes.size());
  outcome.buffered = decoder.buffered();
  outcome.version = decoder.version();
  if (!ok && outcome.error != DecodeError::kNone) {
    const DecodeResult again = decoder.Next();
    const ByteVector pingreq = Hex("C0 00");
    decoder.Feed(pingreq);
    const DecodeResult after_more = decoder.Next();
    const auto* again_error = std::get_if<DecodeError>(&again);
    const auto* after_more_error = std::get_if<DecodeError>(&after_more);
    outcome.error_is_sticky = again_error != nullptr && *again_error == outcome.error &&
                              after_more_error != nullptr && *after_more_error == outcome.error;
  }
  return outcome;
}

DecodeOutcome DecodeBothWays(std::span<const uint8_t> bytes, DecoderOptions options,
                             ProtocolVersion version) {
  DecodeOutcome whole = DecodeAll(bytes, options, version, kWhole);
  const DecodeOutcome bytewise = DecodeAll(bytes, options, version, 1);
  EXPECT_TRUE(SameOutcome(whole, bytewise)) << "input: " << ToHex(bytes);
  return whole;
}

::testing::AssertionResult Refuses(std::span<const uint8_t> bytes, DecoderOptions options,
                                   ProtocolVersion version, DecodeError error, ReasonCode reason) {
  for (const size_t chunk_size : {kWhole, size_t{1}}) {
    const DecodeOutcome outcome = DecodeAll(bytes, options, version, chunk_size);
    const char* how = chunk_size == kWhole ? "fed whole" : "fed one byte at a time";
    if (outcome.error != error) {
      return ::testing::AssertionFailure() << how << ", " << ToHex(bytes) << "\n  expected error "
                                           << Name(error) << "\n  got " << Describe(outcome);
    }
    if (!outcome.error_is_sticky) {
      return ::testing::AssertionFailure()
             << how << ": error " << Name(error) << " was not returned again by Next()";
    }
  }
  if (ReasonCodeFor(error) != reason) {
    return ::testing::AssertionFailure()
           << "ReasonCodeFor(" << Name(error) << ") is 0x" << std::hex
           << static_cast<int>(ReasonCodeFor(error)) << ", expected 0x" << static_cast<int>(reason);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult DecodesTo(std::span<const uint8_t> bytes, DecoderOptions options,
                                     ProtocolVersion version, const Packet& expected) {
  for (const size_t chunk_size : {kWhole, size_t{1}}) {
    const DecodeOutcome outcome = DecodeAll(bytes, options, version, chunk_size);
    const char* how = chunk_size == kWhole ? "fed whole" : "fed one byte at a time";
    const bool ok = outcome.error == DecodeError::kNone && outcome.frames.size() == 1 &&
                    outcome.buffered == 0 && outcome.frames[0].type == TypeOf(expected) &&
                    std::ranges::equal(outcome.frames[0].raw, bytes) &&
                    outcome.frames[0].packet == expected;
    if (!ok) {
      return ::testing::AssertionFailure()
             << how << ", " << ToHex(bytes) << "\n  expected one frame: " << Describe(expected)
             << "\n  got " << Describe(outcome);
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult RoundTrips(const Packet& packet, ProtocolVersion version,
                                      Direction direction) {
  std::vector<uint8_t> bytes;
  const EncodeError error = Encode(packet, version, bytes);
  if (error != EncodeError::kNone) {
    return ::testing::AssertionFailure()
           << "Encode(" << Describe(packet) << ", " << Name(version) << ") failed: " << Name(error);
  }
  const auto* connect = std::get_if<Connect>(&packet);
  const bool fresh = connect != nullptr && direction == Direction::kClientToServer;
  const DecoderOptions options{.direction = direction};
  ::testing::AssertionResult result =
      DecodesTo(bytes, options, fresh ? ProtocolVersion::kUnknown : version, packet);
  if (!result) return result << "\n  (" << Name(version) << ")";
  if (fresh) {
    const DecodeOutcome outcome = DecodeAll(bytes, options, ProtocolVersion::kUnknown, kWhole);
    if (outcome.version != connect->version) {
      return ::testing::AssertionFailure()
             << "after CONNECT the decoder reports " << Name(outcome.version) << ", expected "
             << Name(connect->version);
    }
  }
  return ::testing::AssertionSuccess();
}

ByteVector EncodeOrFail(const Packet& packet, ProtocolVersion version) {
  std::vector<uint8_t> bytes;
  const EncodeError error = Encode(packet, version, bytes);
  EXPECT_EQ(error, EncodeError::kNone) << Name(error) << " encoding " << Describe(packet);
  return bytes;
}

// ---- Diagnostics -------------------------------------------------------------------

std::string Describe(const Packet& packet) {
  std::ostringstream out;
  out << PacketTypeName(TypeOf(packet)) << '{';
  std::visit(Overloaded{[&](const Connect& p) {
                          out << "version=" << Name(p.version) << (p.bridge ? " bridge" : "")
                              << " clean=" << p.clean_start << " keep_alive=" << p.keep_alive
                              << " client_id=";
                          DescribeText(out, p.client_id);
                          if (p.will) {
                            out << " will{qos=" << int{p.will->qos} << " retain=" << p.will->retain
                                << " topic=";
                            DescribeText(out, p.will->topic);
                            out << " payload=";
                            DescribeText(out, p.will->payload);
                            DescribeProperties(out, p.will->properties);
                            out << '}';
                          }
                          if (p.username) DescribeText(out << " username=", *p.username);
                          if (p.password) DescribeText(out << " password=", *p.password);
                          DescribeProperties(out, p.properties);
                        },
                        [&](const Connack& p) {
                          out << "session_present=" << p.session_present
                              << " reason=" << int{p.reason_code};
                          DescribeProperties(out, p.properties);
                        },
                        [&](const Publish& p) {
                          out << "dup=" << p.dup << " qos=" << int{p.qos} << " retain=" << p.retain
                              << " id=" << p.packet_id << " topic=";
                          DescribeText(out, p.topic);
                          DescribeProperties(out, p.properties);
                          DescribeText(out << " payload=", p.payload);
                        },
                        [&](const Subscribe& p) {
                          out << "id=" << p.packet_id;
                          DescribeProperties(out, p.properties);
                          for (const Subscription& s : p.subscriptions) {
                            DescribeText(out << ' ', s.filter);
                            out << "/qos" << int{s.qos} << (s.no_local ? "/nl" : "")
                                << (s.retain_as_published ? "/rap" : "") << "/rh"
                                << int{s.retain_handling};
                          }
                        },
                        [&](const Unsubscribe& p) {
                          out << "id=" << p.packet_id;
                          DescribeProperties(out, p.properties);
                          for (std::string_view filter : p.filters)
                            DescribeText(out << ' ', filter);
                        },
                        [&](const auto& p) {
                          using T = std::decay_t<decltype(p)>;
                          if constexpr (requires { p.packet_id; })
                            out << "id=" << p.packet_id << ' ';
                          if constexpr (requires { p.reason_codes; }) {
                            out << "reasons=[";
                            for (uint8_t code : p.reason_codes) out << ' ' << int{code};
                            out << " ]";
                          } else if constexpr (requires { p.reason_code; }) {
                            out << "reason=" << int{p.reason_code};
                          }
                          if constexpr (requires { p.properties; })
                            DescribeProperties(out, p.properties);
                          (void)sizeof(T);
                        }},
             packet);
  out << '}';
  return out.str();
}

std::string Describe(const DecodeOutcome& outcome) {
  std::ostringstream out;
  out << outcome.frames.size() << " frame(s)";
  for (const DecodedFrame& frame : outcome.frames) {
    out << "\n    " << Describe(frame.packet) << " raw=[" << ToHex(frame.raw) << ']';
  }
  out << "\n    then " << Name(outcome.error) << ", " << outcome.buffered << " byte(s) buffered";
  return out.str();
}

std::string_view Name(DecodeError error) { return DecodeErrorName(error); }
std::string_view Name(EncodeError error) { return EncodeErrorName(error); }

std::string Name(ProtocolVersion version) {
  switch (version) {
    case ProtocolVersion::kUnknown:
      return "unknown";
    case ProtocolVersion::kV31:
      return "3.1";
    case ProtocolVersion::kV311:
      return "3.1.1";
    case ProtocolVersion::kV5:
      return "5.0";
  }
  return "level " + std::to_string(static_cast<int>(version));
}

}  // namespace moat::mqtt::test
