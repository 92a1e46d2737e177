// mqtt_load's command line: one flat set of options; each mode reads the ones it uses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "load_stats.h"

namespace mqtt_load {

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  bool tls = false;
  std::string cafile;
  std::vector<std::string> bind;  // source addresses, used in turn; empty: the kernel's pick
  int qos = 0;
  int publishers = 4;
  double seconds = 10;
  double warmup = 1;
  size_t payload = 64;
  bool sparkplug = false;  // --sparkplug: payloads are valid Sparkplug B (load_sparkplug.h)
  double rate = 2000;      // latency and honest: messages/s of all publishers together
  int connections = 9000;
  double hold_seconds = 2;
  double settle_seconds = 1;
  int concurrency = 0;  // 0: the mode's default
  int window = 2000;    // throughput: messages sent but not yet received, all publishers
  int inflight = 64;    // throughput QoS 1: un-PUBACKed PUBLISHes per publisher
  int batch = 64;       // throughput: PUBLISHes per write
  std::vector<Watch> watches;

  // honest: clients that each publish and subscribe, with credentials.
  int clients = 100;
  std::string username;
  std::string password;
  int joiners = 10;  // clients that connect during the measured window
  double setup_timeout = 30;
  double drain_seconds = 2;  // after the window: how long to wait for messages in flight

  // attack: the hostile mix, for --seconds.
  int trickle = 5000;                      // connections trickling one huge CONNECT each
  size_t trickle_bytes = 16384;            // sent every --trickle-interval seconds
  double trickle_interval = 1;             //
  uint32_t trickle_announce = 16777211;    // remaining length: a 16 MiB packet in all
  int stall = 1000;                        // connections that stall in the TLS handshake
  int garbage = 4;                         // loops sending garbage on fresh connections
  int flood = 16;                          // reconnect loops, as fast as they can
  std::string flood_packet = "malformed";  // malformed | anonymous | none
};

Options Parse(int argc, char** argv);

}  // namespace mqtt_load
