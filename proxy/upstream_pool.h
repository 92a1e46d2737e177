// Upstream over the configured servers (upstream.servers, or upstream.address as a list
// of one): each new client's link goes to a server that is up, chosen by
// upstream.balance (proxy/upstream_select.h); a server that fails a client is marked down
// (proxy/upstream_health.h) and the client tries the next choice at once. One pool is
// shared by every worker thread.
#pragma once

#include <atomic>
#include <memory>

#include "proxy/config/config.h"
#include "proxy/source_addresses.h"
#include "proxy/upstream.h"
#include "proxy/upstream_health.h"

namespace moat::proxy {

class UpstreamPool final : public Upstream {
 public:
  UpstreamPool(const config::Upstream& upstream, UpstreamHealth& health);

  // Throws the last server's error when every server up failed, or the latest failure
  // of any when none is up (without trying one: that is the probes' job).
  boost::asio::awaitable<std::unique_ptr<net::ByteStream>> Connect(
      const UpstreamRequest& request) const override;
  // Waits up to upstream.connect_timeout for the broker's answer to the CONNECT just
  // written to `link`; a silent server is marked down like one that refused.
  boost::asio::awaitable<bool> AwaitAnswer(net::ByteStream& link) const override;

 private:
  std::optional<size_t> Pick(std::string_view client_id, std::span<const bool> up) const;

  const config::Upstream& upstream_;
  UpstreamHealth& health_;
  std::vector<std::string_view> names_;  // health_'s, for rendezvous hashing
  mutable std::atomic<uint64_t> turn_{0};
  // upstream.source_addresses, in turn over every link the pool opens.
  const SourceAddresses source_addresses_;
};

}  // namespace moat::proxy
