// A link to one server of the upstream pool, as admission and the relay see it: the
// stream UpstreamConnector opened, counted among that server's open links for as long
// as it lives (least_connections, moat_upstream_server_connections), and able to wait
// for the broker's first answer without consuming it: what arrives is kept and handed
// to the relay's first read, so the relay still sees the CONNACK as the broker sent it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "proxy/net/byte_stream.h"

namespace moat::proxy {

class UpstreamHealth;

class UpstreamLink final : public net::ByteStream {
 public:
  UpstreamLink(std::unique_ptr<net::ByteStream> stream, UpstreamHealth& health, size_t server,
               boost::asio::any_io_executor executor);
  ~UpstreamLink() override;

  size_t server() const { return server_; }
  // Whether the broker sent anything (or closed the link) within `timeout`; what it sent
  // is kept for the next read.
  boost::asio::awaitable<bool> AwaitAnswer(std::chrono::milliseconds timeout);

  boost::asio::awaitable<size_t> ReadInto(mqtt::Decoder& decoder) override;
  boost::asio::awaitable<void> WriteAll(
      std::span<const boost::asio::const_buffer> buffers) override;
  net::IoResult TryRead(mqtt::Decoder& decoder) override;
  net::IoResult TryWrite(std::span<const boost::asio::const_buffer> buffers) override;
  void AwaitReady(net::Want want, mqtt::Decoder& decoder, net::ReadyListener& listener,
                  int tag) override;
  void CancelWaits() override { stream_->CancelWaits(); }
  void ShutdownNow() override { stream_->ShutdownNow(); }
  void Close() override { stream_->Close(); }
  X509* PeerCertificate() const override { return stream_->PeerCertificate(); }
  stack_st_X509* PeerChain() const override { return stream_->PeerChain(); }
  net::TlsParameters Tls() const override { return stream_->Tls(); }

 private:
  bool HasEarly() const { return !early_.empty() || early_end_; }
  // Moves what AwaitAnswer() kept into `decoder`: bytes, or the end it met.
  net::IoResult TakeEarly(mqtt::Decoder& decoder);

  std::unique_ptr<net::ByteStream> stream_;
  UpstreamHealth& health_;
  const size_t server_;
  boost::asio::any_io_executor executor_;
  std::vector<uint8_t> early_;  // read by AwaitAnswer(), not yet handed on
  bool early_end_ = false;      // AwaitAnswer() met the end of the stream, or an error
  boost::system::error_code early_error_;
};

}  // namespace moat::proxy
