#include "load_options.h"

#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "load_wire.h"

namespace mqtt_load {

namespace {

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

void Check(const Options& o) {
  if (o.qos != 0 && o.qos != 1) Die("--qos must be 0 or 1");
  if (o.payload < 16) Die("--payload must be at least 16 (it carries a timestamp)");
  if (o.sparkplug && o.payload < 64) Die("--payload must be at least 64 with --sparkplug");
  if (o.publishers < 1 || o.window < o.publishers || o.inflight < 1 || o.batch < 1) {
    Die("--publishers, --window, --inflight and --batch must be positive");
  }
  if (o.clients < 1 || o.joiners < 0 || o.rate <= 0) {
    Die("--clients and --rate must be positive, --joiners not negative");
  }
  if (o.trickle < 0 || o.stall < 0 || o.garbage < 0 || o.flood < 0 || o.trickle_bytes < 1 ||
      o.trickle_interval <= 0) {
    Die("attack sizes must not be negative, --trickle-bytes and --trickle-interval positive");
  }
  if (o.trickle_announce < 32 || o.trickle_announce > 268435455) {
    Die("--trickle-announce must be a remaining length from 32 to 268435455");
  }
  if (o.flood_packet != "malformed" && o.flood_packet != "anonymous" && o.flood_packet != "none") {
    Die("--flood-packet must be malformed, anonymous or none");
  }
}

}  // namespace

Options Parse(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    Die("usage: mqtt_load throughput|latency|idle|handshakes|honest|attack [--options]");
  }
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--tls") {
      o.tls = true;
      continue;
    }
    if (key == "--sparkplug") {
      o.sparkplug = true;
      continue;
    }
    if (i + 1 >= argc) Die(key + " needs a value");
    const std::string value = argv[++i];
    auto integer = [&](auto& field) {
      field = static_cast<std::remove_reference_t<decltype(field)>>(std::stol(value));
    };
    auto real = [&](double& field) { field = std::stod(value); };
    try {
      // clang-format off
      if (key == "--host") o.host = value;
      else if (key == "--port") integer(o.port);
      else if (key == "--cafile") o.cafile = value;
      else if (key == "--bind") o.bind = SplitCommas(value);
      else if (key == "--qos") integer(o.qos);
      else if (key == "--publishers") integer(o.publishers);
      else if (key == "--seconds") real(o.seconds);
      else if (key == "--warmup") real(o.warmup);
      else if (key == "--payload") integer(o.payload);
      else if (key == "--rate") real(o.rate);
      else if (key == "--connections") integer(o.connections);
      else if (key == "--hold-seconds") real(o.hold_seconds);
      else if (key == "--settle-seconds") real(o.settle_seconds);
      else if (key == "--concurrency") integer(o.concurrency);
      else if (key == "--window") integer(o.window);
      else if (key == "--inflight") integer(o.inflight);
      else if (key == "--batch") integer(o.batch);
      else if (key == "--clients") integer(o.clients);
      else if (key == "--username") o.username = value;
      else if (key == "--password") o.password = value;
      else if (key == "--joiners") integer(o.joiners);
      else if (key == "--setup-timeout") real(o.setup_timeout);
      else if (key == "--drain-seconds") real(o.drain_seconds);
      else if (key == "--trickle") integer(o.trickle);
      else if (key == "--trickle-bytes") integer(o.trickle_bytes);
      else if (key == "--trickle-interval") real(o.trickle_interval);
      else if (key == "--trickle-announce") integer(o.trickle_announce);
      else if (key == "--stall") integer(o.stall);
      else if (key == "--garbage") integer(o.garbage);
      else if (key == "--flood") integer(o.flood);
      else if (key == "--flood-packet") o.flood_packet = value;
      // clang-format on
      else if (key == "--watch") {
        const auto eq = value.find('=');
        if (eq == std::string::npos) Die("--watch wants NAME=PID");
        o.watches.push_back({value.substr(0, eq), std::stoi(value.substr(eq + 1))});
      } else {
        Die("unknown option " + key);
      }
    } catch (const std::logic_error&) {
      Die("bad value for " + key + ": " + value);
    }
  }
  Check(o);
  return o;
}

}  // namespace mqtt_load
