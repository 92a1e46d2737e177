#include "proxy/upstream_pool.h"

#include <boost/asio/this_coro.hpp>

#include "proxy/upstream_link.h"
#include "proxy/upstream_select.h"

namespace moat::proxy {

namespace asio = boost::asio;

UpstreamPool::UpstreamPool(const config::Upstream& upstream, UpstreamHealth& health)
    : upstream_(upstream), health_(health), source_addresses_(upstream.source_addresses) {
  for (size_t i = 0; i < health_.size(); ++i) names_.push_back(health_.Name(i));
}

std::optional<size_t> UpstreamPool::Pick(std::string_view client_id,
                                         std::span<const bool> up) const {
  switch (upstream_.balance) {
    case config::UpstreamBalance::kClientId:
      // An empty id (the broker assigns one) has no node of its own to come back to.
      if (!client_id.empty()) return PickByKey(client_id, names_, up);
      break;
    case config::UpstreamBalance::kLeastConnections: {
      std::vector<int64_t> links(up.size());
      for (size_t i = 0; i < links.size(); ++i) links[i] = health_.Links(i);
      return PickLeastConnections(turn_.fetch_add(1, std::memory_order_relaxed), links, up);
    }
    case config::UpstreamBalance::kRoundRobin:
      break;
  }
  return PickRoundRobin(turn_.fetch_add(1, std::memory_order_relaxed), up);
}

asio::awaitable<std::unique_ptr<net::ByteStream>> UpstreamPool::Connect(
    const UpstreamRequest& request) const {
  const size_t count = health_.size();
  // Candidates: up, and not yet tried by this client.
  std::unique_ptr<bool[]> candidates(new bool[count]);
  for (size_t i = 0; i < count; ++i) candidates[i] = health_.IsUp(i);
  boost::system::error_code last_error;
  for (;;) {
    const std::optional<size_t> server =
        Pick(request.client_id, std::span<const bool>(candidates.get(), count));
    if (!server) break;
    candidates[*server] = false;
    std::unique_ptr<net::ByteStream> stream;
    try {
      const UpstreamConnector connector(health_.Settings(*server), health_.TlsContext(*server),
                                        health_.tcp_keepalive(), &source_addresses_);
      stream = co_await connector.Connect(request);
    } catch (const boost::system::system_error& e) {
      last_error = e.code();
    }
    if (stream) {
      const asio::any_io_executor executor = co_await asio::this_coro::executor;
      co_return std::make_unique<UpstreamLink>(std::move(stream), health_, *server, executor);
    }
    // Given up by the client (its login deadline, a shutdown), not by the server.
    if (last_error == asio::error::operation_aborted) throw boost::system::system_error(last_error);
    health_.Failed(*server, last_error);
  }
  throw boost::system::system_error(last_error ? last_error : health_.LastError());
}

asio::awaitable<bool> UpstreamPool::AwaitAnswer(net::ByteStream& link) const {
  auto* pooled = dynamic_cast<UpstreamLink*>(&link);
  if (pooled == nullptr) co_return true;
  const bool answered = co_await pooled->AwaitAnswer(upstream_.connect_timeout);
  if (!answered) health_.Failed(pooled->server(), asio::error::timed_out);
  co_return answered;
}

}  // namespace moat::proxy
