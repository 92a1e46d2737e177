// IsSparkplugPayload(): the one file that sees protobuf, so nothing else pays its
// headers' build time.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>

#include <cstdint>
#include <vector>

#include "policy/payload/payload_format.h"
#include "policy/payload/sparkplug_b.pb.h"

namespace moat::policy {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using SparkplugPayload = org::eclipse::tahu::protobuf::Payload;

// Nothing in `message` or the messages inside it is a field the .proto does not name.
// Depth is bounded by protobuf's recursion limit (100), which the parse already enforced.
bool OnlyKnownFields(const Message& message) {
  const Reflection* reflection = message.GetReflection();
  if (!reflection->GetUnknownFields(message).empty()) return false;
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      const int count = reflection->FieldSize(message, field);
      for (int i = 0; i < count; ++i) {
        if (!OnlyKnownFields(reflection->GetRepeatedMessage(message, field, i))) return false;
      }
    } else if (!OnlyKnownFields(reflection->GetMessage(message, field))) {
      return false;
    }
  }
  return true;
}

bool Valid(const SparkplugPayload& payload) {
  return payload.has_timestamp() && (!payload.has_seq() || payload.seq() <= 255) &&
         OnlyKnownFields(payload);
}

// Payloads up to this size are decoded into one message per thread, cleared and reused,
// so a steady stream allocates nothing; a larger one gets its own, so no thread keeps a
// huge message's memory.
constexpr size_t kReusedUpTo = 64 * 1024;

}  // namespace

bool IsSparkplugPayload(std::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return false;
  const int size = static_cast<int>(bytes.size());
  if (bytes.size() > kReusedUpTo) {
    SparkplugPayload payload;
    return payload.ParseFromArray(bytes.data(), size) && Valid(payload);
  }
  thread_local SparkplugPayload payload;
  // ParseFromArray clears first: nothing of the previous payload survives.
  return payload.ParseFromArray(bytes.data(), size) && Valid(payload);
}

}  // namespace moat::policy
