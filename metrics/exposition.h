// Serialises metric families as the Prometheus text format 0.0.4 (prometheus-cpp's
// TextSerializer) or as OpenMetrics 1.0.0 text, and picks one from an Accept header.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "prometheus/metric_family.h"

namespace moat::metrics {

enum class ExpositionFormat { kPrometheusText, kOpenMetrics };

// OpenMetrics when the Accept header ranks application/openmetrics-text at least as high
// as text/plain (and above q=0); the 0.0.4 text format otherwise, including when Accept
// is missing or unparsable. Prometheus itself asks for OpenMetrics first.
ExpositionFormat NegotiateFormat(std::string_view accept);

// "text/plain; version=0.0.4; charset=utf-8" or
// "application/openmetrics-text; version=1.0.0; charset=utf-8".
std::string_view ContentType(ExpositionFormat format);

std::string Serialize(const std::vector<prometheus::MetricFamily>& families,
                      ExpositionFormat format);

// OpenMetrics text: counter families are named without _total (their samples keep it),
// buckets come before _count and _sum, and the exposition ends with "# EOF".
std::string SerializeOpenMetrics(const std::vector<prometheus::MetricFamily>& families);

}  // namespace moat::metrics
