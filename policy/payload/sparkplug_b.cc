// IsSparkplugPayload(): the one file that sees protobuf, so nothing else pays its
// headers' build time.
#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/unknown_field_set.h>

#include <cstdint>

#include "policy/payload/payload_format.h"
#include "policy/payload/sparkplug_b.pb.h"

namespace moat::policy {
namespace {

using org::eclipse::tahu::protobuf::Payload;

// Nothing in a message, or in the messages inside it, is a field the .proto does not
// name (protobuf keeps those, extension ranges included, as unknown fields). Walked with
// the generated accessors: the same walk through reflection cost 3.5 us of a 1 KiB
// payload's 5 us. A message type added to sparkplug_b.proto must be walked here too.
// Depth is bounded by protobuf's recursion limit (100), which the parse enforced.
template <typename M>
bool Clean(const M& message) {
  return message.unknown_fields().empty();
}

// Every Known(), declared before AllKnown() looks them up (the messages' namespace is
// protobuf's, so argument-dependent lookup would not find them).
bool Known(const Payload::PropertySet& set);
bool Known(const Payload::PropertySetList& list);
bool Known(const Payload::PropertyValue& value);
bool Known(const Payload::DataSet::DataSetValue& value);
bool Known(const Payload::DataSet::Row& row);
bool Known(const Payload::DataSet& set);
bool Known(const Payload::Template::Parameter& parameter);
bool Known(const Payload::Template& value);
bool Known(const Payload::Metric& metric);

template <typename M>
bool AllKnown(const google::protobuf::RepeatedPtrField<M>& messages) {
  for (const M& message : messages) {
    if (!Known(message)) return false;
  }
  return true;
}

bool Known(const Payload::PropertySetList& list) {
  return Clean(list) && AllKnown(list.propertyset());
}

bool Known(const Payload::PropertyValue& value) {
  if (!Clean(value)) return false;
  switch (value.value_case()) {
    case Payload::PropertyValue::kPropertysetValue:
      return Known(value.propertyset_value());
    case Payload::PropertyValue::kPropertysetsValue:
      return Known(value.propertysets_value());
    case Payload::PropertyValue::kExtensionValue:
      return Clean(value.extension_value());
    default:
      return true;
  }
}

bool Known(const Payload::PropertySet& set) { return Clean(set) && AllKnown(set.values()); }

bool Known(const Payload::DataSet::DataSetValue& value) {
  return Clean(value) && (!value.has_extension_value() || Clean(value.extension_value()));
}

bool Known(const Payload::DataSet::Row& row) { return Clean(row) && AllKnown(row.elements()); }

bool Known(const Payload::DataSet& set) { return Clean(set) && AllKnown(set.rows()); }

bool Known(const Payload::Template::Parameter& parameter) {
  return Clean(parameter) &&
         (!parameter.has_extension_value() || Clean(parameter.extension_value()));
}

bool Known(const Payload::Template& value) {
  return Clean(value) && AllKnown(value.metrics()) && AllKnown(value.parameters());
}

bool Known(const Payload::Metric& metric) {
  if (!Clean(metric)) return false;
  if (metric.has_metadata() && !Clean(metric.metadata())) return false;
  if (metric.has_properties() && !Known(metric.properties())) return false;
  switch (metric.value_case()) {
    case Payload::Metric::kDatasetValue:
      return Known(metric.dataset_value());
    case Payload::Metric::kTemplateValue:
      return Known(metric.template_value());
    case Payload::Metric::kExtensionValue:
      return Clean(metric.extension_value());
    default:
      return true;
  }
}

bool Valid(const Payload& payload) {
  return payload.has_timestamp() && (!payload.has_seq() || payload.seq() <= 255) &&
         Clean(payload) && AllKnown(payload.metrics());
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
    Payload payload;
    return payload.ParseFromArray(bytes.data(), size) && Valid(payload);
  }
  thread_local Payload payload;
  // ParseFromArray clears first: nothing of the previous payload survives.
  return payload.ParseFromArray(bytes.data(), size) && Valid(payload);
}

}  // namespace moat::policy
