// mqtt_load honest: the well-behaved clients of run_hostile_benchmark.py.
//
// --clients N connections (TLS, --username/--password, source addresses from --bind in
// turn), each publishing to its own topic at --rate / N messages/s and subscribed to the
// next client's topic, so every message goes through the proxy twice and arrives once:
//
//   client i --PUBLISH honest/i--> proxy --> broker --> proxy --> client i-1
//
// It prints "READY <clients up>" on stdout once every client is connected and subscribed
// (or --setup-timeout passed): the benchmark starts the attack then. Publishing starts at
// once; after --warmup it measures for --seconds (messages received, send-to-arrival
// latency, the watched processes), then stops publishing and waits up to --drain-seconds
// for what is still in flight. A client whose connection ends on its own is dropped:
// counted and never reconnected. --joiners more clients connect (CONNECT, CONNACK,
// DISCONNECT) at even intervals during the window, to show whether newcomers still get in.
// Ends with one JSON line; it never dies because the proxy did.
#pragma once

#include "load_options.h"

namespace mqtt_load {

int RunHonest(const Options& options);

}  // namespace mqtt_load
