#include "metrics/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "prometheus/text_serializer.h"

namespace moat::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

constexpr std::string_view kOpenMetricsType = "application/openmetrics-text";

// Debian's Abseil has its own absl::string_view, which does not convert from or to
// std::string_view.
absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }
std::string_view Std(absl::string_view text) { return {text.data(), text.size()}; }

std::string_view Trim(std::string_view text) { return Std(absl::StripAsciiWhitespace(Absl(text))); }

// The q value of one Accept element ("type/subtype;param=x;q=0.5"), 1 when absent.
double QualityOf(std::string_view element) {
  for (absl::string_view param : absl::StrSplit(Absl(element), ';')) {
    const std::string_view p = Trim(Std(param));
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      const std::string number(p.substr(2));
      char* end = nullptr;
      const double q = std::strtod(number.c_str(), &end);
      if (end == number.c_str() || !(q >= 0) || q > 1) return 0;
      return q;
    }
  }
  return 1;
}

void AppendDouble(double value, std::string& out) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    out.append(buffer, result.ptr);
  }
}

// OpenMetrics wants canonical bucket bounds: "1.0", not "1".
std::string BucketBound(double bound) {
  std::string text;
  AppendDouble(bound, text);
  if (text.find_first_of(".eInN") == std::string::npos) text += ".0";
  return text;
}

void AppendEscaped(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void AppendSample(std::string_view name, std::string_view suffix, const ClientMetric& metric,
                  const std::string* le, std::string_view value, std::string& out) {
  out += name;
  out += suffix;
  if (!metric.label.empty() || le != nullptr) {
    out += '{';
    bool first = true;
    for (const ClientMetric::Label& label : metric.label) {
      if (!first) out += ',';
      first = false;
      out += label.name;
      out += "=\"";
      AppendEscaped(label.value, out);
      out += '"';
    }
    if (le != nullptr) {
      if (!first) out += ',';
      out += "le=\"";
      out += *le;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

std::string Number(double value) {
  std::string text;
  AppendDouble(value, text);
  return text;
}

void AppendFamily(const MetricFamily& family, std::string& out) {
  std::string_view name = family.name;
  std::string_view type = "unknown";
  switch (family.type) {
    case prometheus::MetricType::Counter:
      type = "counter";
      if (absl::EndsWith(Absl(name), "_total")) {
        name.remove_suffix(6);
      }
      break;
    case prometheus::MetricType::Gauge:
      type = "gauge";
      break;
    case prometheus::MetricType::Histogram:
      type = "histogram";
      break;
    case prometheus::MetricType::Summary:
      type = "summary";
      break;
    default:
      break;
  }
  out += "# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  if (!family.help.empty()) {
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(family.help, out);
    out += '\n';
  }
  for (const ClientMetric& metric : family.metric) {
    switch (family.type) {
      case prometheus::MetricType::Counter:
        AppendSample(name, "_total", metric, nullptr, Number(metric.counter.value), out);
        break;
      case prometheus::MetricType::Gauge:
        AppendSample(name, "", metric, nullptr, Number(metric.gauge.value), out);
        break;
      case prometheus::MetricType::Histogram: {
        const ClientMetric::Histogram& histogram = metric.histogram;
        bool has_inf = false;
        for (const ClientMetric::Bucket& bucket : histogram.bucket) {
          const std::string le = BucketBound(bucket.upper_bound);
          has_inf = std::isinf(bucket.upper_bound);
          AppendSample(name, "_bucket", metric, &le, std::to_string(bucket.cumulative_count), out);
        }
        if (!has_inf) {
          const std::string le = "+Inf";
          AppendSample(name, "_bucket", metric, &le, std::to_string(histogram.sample_count), out);
        }
        AppendSample(name, "_count", metric, nullptr, std::to_string(histogram.sample_count), out);
        AppendSample(name, "_sum", metric, nullptr, Number(histogram.sample_sum), out);
        break;
      }
      default:
        AppendSample(name, "", metric, nullptr, Number(metric.untyped.value), out);
        break;
    }
  }
}

}  // namespace

ExpositionFormat NegotiateFormat(std::string_view accept) {
  double openmetrics_q = 0;
  double text_q = 0;
  for (absl::string_view element : absl::StrSplit(Absl(accept), ',')) {
    const std::string_view item = Std(element);
    const std::string media_type =
        absl::AsciiStrToLower(Absl(Trim(item.substr(0, item.find(';')))));
    const double q = QualityOf(item);
    if (media_type == kOpenMetricsType) {
      openmetrics_q = std::max(openmetrics_q, q);
    } else if (media_type == "text/plain" || media_type == "text/*" || media_type == "*/*") {
      text_q = std::max(text_q, q);
    }
  }
  return openmetrics_q > 0 && openmetrics_q >= text_q ? ExpositionFormat::kOpenMetrics
                                                      : ExpositionFormat::kPrometheusText;
}

std::string_view ContentType(ExpositionFormat format) {
  return format == ExpositionFormat::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

std::string SerializeOpenMetrics(const std::vector<MetricFamily>& families) {
  std::string out;
  out.reserve(32 * 1024);
  for (const MetricFamily& family : families) AppendFamily(family, out);
  out += "# EOF\n";
  return out;
}

std::string Serialize(const std::vector<MetricFamily>& families, ExpositionFormat format) {
  if (format == ExpositionFormat::kOpenMetrics) return SerializeOpenMetrics(families);
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace moat::metrics
