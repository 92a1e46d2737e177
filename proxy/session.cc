#include "proxy/session.h"

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/auth/auth_services.h"
#include "proxy/log.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/net/catching.h"
#include "proxy/tls/peer_identity.h"
#include "proxy/upstream.h"

namespace moat::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

namespace {

mqtt::DecoderOptions ClientDecoderOptions(const config::Config& config) {
  return {mqtt::Direction::kClientToServer, config.limits.max_packet_size};
}

mqtt::DecoderOptions BrokerDecoderOptions(const config::Config& config) {
  return {mqtt::Direction::kServerToClient, config.limits.max_packet_size};
}

}  // namespace

std::string_view EndReasonName(EndReason reason) {
  switch (reason) {
    case EndReason::kClientDisconnected:
      return "client_disconnected";
    case EndReason::kClientClosed:
      return "client_closed";
    case EndReason::kBrokerClosed:
      return "broker_closed";
    case EndReason::kConnectTimeout:
      return "connect_timeout";
    case EndReason::kKeepAliveTimeout:
      return "keep_alive_timeout";
    case EndReason::kMalformedFromClient:
      return "malformed_from_client";
    case EndReason::kMalformedFromBroker:
      return "malformed_from_broker";
    case EndReason::kUpstreamUnavailable:
      return "upstream_unavailable";
    case EndReason::kRefused:
      return "refused";
    case EndReason::kRevoked:
      return "revoked";
    case EndReason::kShutdown:
      return "shutdown";
    case EndReason::kIoError:
      return "io_error";
  }
  return "unknown";
}

Session::Session(std::unique_ptr<net::ByteStream> client, policy::ClientIdentity identity,
                 const SessionEnvironment& env, const asio::any_io_executor& executor)
    : client_(std::move(client)),
      identity_(std::move(identity)),
      env_(env),
      client_decoder_(ClientDecoderOptions(env.config)),
      broker_decoder_(BrokerDecoderOptions(env.config)),
      watchdog_timer_(executor) {
  env_.counters.GaugeAdd<metrics::Metric::kConnectionsActive>(env_.listener, 1);
}

Session::~Session() {
  env_.counters.GaugeAdd<metrics::Metric::kConnectionsActive>(env_.listener, -1);
}

void Session::CountConnect(metrics::ConnectResult result) {
  env_.counters.Add<metrics::Metric::kConnectTotal>(result);
}

void Session::CountMalformed(mqtt::Direction direction, mqtt::DecodeError error) {
  env_.counters.Add<metrics::Metric::kMalformedPacketsTotal>(direction, error);
}

void Session::End(EndReason reason) {
  if (ended_) return;  // the first reason is the real one
  ended_ = true;
  end_reason_ = reason;
}

asio::awaitable<void> Session::Start() {
  bool admitted = false;
  try {
    if (auto connect = co_await ReceiveConnect()) {
      admitted = co_await Admit(*connect);
      if (admitted && draining_) {
        End(EndReason::kShutdown);
        if (version_ == ProtocolVersion::kV5) {
          co_await SendToClient(
              mqtt::Disconnect{static_cast<uint8_t>(ReasonCode::kServerShuttingDown), {}});
        }
        admitted = false;
      }
    }
  } catch (const boost::system::system_error& e) {
    End(aborted_ ? EndReason::kShutdown : EndReason::kIoError);
    error_ = e.code().message();
    admitted = false;
  }
  if (admitted) {
    StartRelay();
  } else {
    Finish();
  }
}

asio::awaitable<std::optional<mqtt::Frame>> Session::ReadFirstPacket() {
  for (;;) {
    auto result = client_decoder_.Next();
    if (auto* frame = std::get_if<mqtt::Frame>(&result)) co_return std::move(*frame);
    if (const auto* error = std::get_if<mqtt::DecodeError>(&result)) {
      CountMalformed(mqtt::Direction::kClientToServer, *error);
      CountConnect(metrics::ConnectResult::kMalformed);
      Audit(
          {.event = "malformed", .reason = mqtt::DecodeErrorName(*error), .detail = "from client"});
      End(EndReason::kMalformedFromClient);
      // A CONNECT for a protocol level moat does not speak gets the 3.1.1 answer
      // [MQTT-3.1.2-2]; nothing else is answered before a valid CONNECT.
      if (*error == mqtt::DecodeError::kUnsupportedProtocolVersion ||
          *error == mqtt::DecodeError::kInvalidProtocolName) {
        version_ = ProtocolVersion::kV311;
        co_await SendToClient(mqtt::Connack{
            false,
            static_cast<uint8_t>(mqtt::ConnectReturnCode::kUnacceptableProtocolVersion),
            {}});
      }
      co_return std::nullopt;
    }
    if (co_await client_->ReadInto(client_decoder_) == 0) {
      End(EndReason::kClientClosed);
      co_return std::nullopt;
    }
  }
}

asio::awaitable<std::optional<mqtt::Frame>> Session::ReceiveConnect() {
  asio::steady_timer deadline(co_await asio::this_coro::executor,
                              env_.config.limits.connect_timeout);
  boost::system::error_code error;
  auto result = co_await (net::Catching(ReadFirstPacket(), error) ||
                          deadline.async_wait(asio::use_awaitable));
  if (result.index() == 1) {
    CountConnect(metrics::ConnectResult::kTimeout);
    End(EndReason::kConnectTimeout);
    co_return std::nullopt;
  }
  if (error) throw boost::system::system_error(error);
  co_return std::move(std::get<0>(result));
}

namespace {

struct RefusalCodes {
  ReasonCode v5;
  mqtt::ConnectReturnCode v311;
};

RefusalCodes CodesFor(policy::AuthFailure failure) {
  using F = policy::AuthFailure;
  using R = mqtt::ConnectReturnCode;
  switch (failure) {
    case F::kBadCredentials:
    case F::kCertificateUserMismatch:
      return {ReasonCode::kBadUserNameOrPassword, R::kBadUserNameOrPassword};
    case F::kClientIdRejected:
      return {ReasonCode::kClientIdentifierNotValid, R::kIdentifierRejected};
    case F::kUnsupportedAuthMethod:
      return {ReasonCode::kBadAuthenticationMethod, R::kNotAuthorized};
    case F::kBanned:
      return {ReasonCode::kBanned, R::kNotAuthorized};
    case F::kBusy:
      return {ReasonCode::kServerBusy, R::kServerUnavailable};
    case F::kAnonymousRefused:
    case F::kCertificateRequired:
    case F::kNone:
      break;
  }
  return {ReasonCode::kNotAuthorized, R::kNotAuthorized};
}

// Failures that count towards a ban: guessing, not misconfiguration or load.
bool CountsTowardsBan(policy::AuthFailure failure) {
  return failure == policy::AuthFailure::kBadCredentials ||
         failure == policy::AuthFailure::kAnonymousRefused ||
         failure == policy::AuthFailure::kCertificateUserMismatch;
}

metrics::UpstreamErrorReason UpstreamErrorReasonFor(const boost::system::error_code& ec) {
  if (ec == asio::error::connection_refused) return metrics::UpstreamErrorReason::kRefused;
  if (ec == asio::error::timed_out) return metrics::UpstreamErrorReason::kTimeout;
  if (ec == asio::error::host_not_found || ec == asio::error::host_not_found_try_again) {
    return metrics::UpstreamErrorReason::kDns;
  }
  if (ec.category() == asio::error::get_ssl_category()) return metrics::UpstreamErrorReason::kTls;
  return metrics::UpstreamErrorReason::kOther;
}

}  // namespace

void Session::CountAuthFailure(policy::AuthFailure failure) {
  using F = policy::AuthFailure;
  metrics::ConnectResult result = metrics::ConnectResult::kNotAuthorized;
  std::optional<metrics::DenyReason> reason;
  switch (failure) {
    case F::kBadCredentials:
    case F::kCertificateUserMismatch:
      result = metrics::ConnectResult::kBadCredentials;
      reason = metrics::DenyReason::kBadCredentials;
      break;
    case F::kAnonymousRefused:
    case F::kCertificateRequired:
      reason = metrics::DenyReason::kNotAuthenticated;
      break;
    case F::kBanned:
      result = metrics::ConnectResult::kBanned;
      reason = metrics::DenyReason::kBanned;
      break;
    case F::kBusy:
      result = metrics::ConnectResult::kUpstreamUnavailable;
      break;
    case F::kClientIdRejected:
    case F::kUnsupportedAuthMethod:
      reason = metrics::DenyReason::kNotAuthenticated;
      break;
    case F::kNone:
      return;
  }
  CountConnect(result);
  if (reason) {
    env_.counters.Add<metrics::Metric::kDenialsTotal>(
        metrics::DenyAction::kConnect, *reason, metrics::DenyMode::kEnforce, metrics::kNoRuleLabel);
  }
}

asio::awaitable<policy::AuthFailure> Session::Authenticate(const mqtt::Connect& connect) {
  const config::Auth& config = env_.config.auth;
  AuthServices& auth = env_.auth;
  policy::AuthRequest request;
  request.mqtt5 = connect.version == ProtocolVersion::kV5;
  request.mqtt31 = connect.version == ProtocolVersion::kV31;
  request.clean_start = connect.clean_start;
  request.client_id = connect.client_id;
  request.username = connect.username;
  request.has_password = connect.password.has_value();
  request.has_auth_method =
      connect.properties.String(mqtt::PropertyId::kAuthenticationMethod).has_value();
  if (config.certificate_identity != config::CertificateIdentity::kNone) {
    request.certificate_identity =
        tls::CertificateIdentity(client_->PeerCertificate(), config.certificate_identity);
  }
  const policy::AuthPlan plan = auth.authenticator->Plan(request);
  identity_.username = plan.identity;
  identity_.cert_identity = request.certificate_identity.value_or("");
  if (plan.failure != policy::AuthFailure::kNone) co_return plan.failure;

  const auto now = policy::BanList::Clock::now();
  if (auth.bans && !plan.identity.empty() && auth.bans->IsBanned("user:" + plan.identity, now)) {
    co_return policy::AuthFailure::kBanned;
  }
  if (plan.verify_password) {
    const PasswordCheck check = co_await auth.credentials->Verify(
        plan.identity, std::string(connect.password.value_or("")));
    if (check == PasswordCheck::kBusy) co_return policy::AuthFailure::kBusy;
    if (check != PasswordCheck::kOk) co_return policy::AuthFailure::kBadCredentials;
    credential_fingerprint_ = Credentials::Fingerprint(*auth.credentials->file(), plan.identity);
  }
  co_return auth.authenticator->CheckClientId(request, plan.identity);
}

asio::awaitable<bool> Session::Admit(const mqtt::Frame& frame) {
  const auto& connect = std::get<mqtt::Connect>(frame.packet);
  version_ = connect.version;
  broker_decoder_.set_version(version_);
  keep_alive_ = std::chrono::seconds(connect.keep_alive);
  identity_.client_id = std::string(connect.client_id);
  ClientActive();

  const policy::AuthFailure failure = co_await Authenticate(connect);
  if (failure != policy::AuthFailure::kNone) {
    End(EndReason::kRefused);
    refusal_ = policy::AuthFailureName(failure);
    CountAuthFailure(failure);
    Audit({.event = "refused_connect", .reason = refusal_});
    if (env_.auth.bans && CountsTowardsBan(failure)) {
      const auto now = policy::BanList::Clock::now();
      if (env_.auth.bans->RecordFailure("ip:" + identity_.address, now)) {
        Audit({.event = "ban", .reason = "address"});
      }
      if (!identity_.username.empty() &&
          env_.auth.bans->RecordFailure("user:" + identity_.username, now)) {
        Audit({.event = "ban", .reason = "user"});
      }
    }
    // A slow "no" makes guessing expensive; a timer, so no thread waits for it.
    if (failure != policy::AuthFailure::kBusy && env_.config.auth.failure_delay.count() > 0) {
      asio::steady_timer delay(co_await asio::this_coro::executor, env_.config.auth.failure_delay);
      co_await delay.async_wait(asio::use_awaitable);
    }
    const RefusalCodes codes = CodesFor(failure);
    co_await RefuseConnect(codes.v5, codes.v311);
    co_return false;
  }
  const policy::Authorizer& authorizer = *env_.authorizer;
  policy::Decision decision = authorizer.AuthorizeConnect(identity_);
  // A Will the client may not publish would be published by the broker on its behalf
  // later: refuse the CONNECT now instead.
  if (decision.allowed() && connect.will) {
    decision = authorizer.MayPublish(identity_, connect.will->topic, connect.will->qos,
                                     connect.will->retain);
    if (!decision.allowed() || decision.audit) {
      RecordDenials({Denial::Of(DenialAction::kWill, decision, std::string(connect.will->topic))});
    }
  }
  if (!decision.allowed()) {
    End(EndReason::kRefused);
    refusal_ = "not_authorized";
    CountConnect(metrics::ConnectResult::kNotAuthorized);
    Audit({.event = "refused_connect", .reason = refusal_, .rule = decision.rule});
    co_await RefuseConnect(ReasonCode::kNotAuthorized, mqtt::ConnectReturnCode::kNotAuthorized);
    co_return false;
  }
  enforcer_.emplace(identity_, connect,
                    env_.config.policy.on_denied_publish == config::DeniedPublish::kDisconnect
                        ? DeniedPublishAction::kDisconnect
                        : DeniedPublishAction::kDrop);
  const auto connect_started = std::chrono::steady_clock::now();
  try {
    broker_ = co_await env_.upstream.Connect();
    env_.counters.Observe<metrics::Metric::kUpstreamConnectSeconds>(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - connect_started).count());
  } catch (const boost::system::system_error& e) {
    CountConnect(metrics::ConnectResult::kUpstreamUnavailable);
    Audit({.event = "refused_connect",
           .reason = "upstream_unavailable",
           .detail = e.code().message()});
    env_.counters.Add<metrics::Metric::kUpstreamErrorsTotal>(UpstreamErrorReasonFor(e.code()));
    End(EndReason::kUpstreamUnavailable);
    upstream_error_ = e.code().message();
  }
  if (!broker_) {
    // Never a silent close: the client learns the broker is unavailable.
    co_await RefuseConnect(ReasonCode::kServerUnavailable,
                           mqtt::ConnectReturnCode::kServerUnavailable);
    co_return false;
  }
  co_await ForwardConnect(frame);
  CountConnect(metrics::ConnectResult::kAccepted);
  env_.counters.Add<metrics::Metric::kPacketsTotal>(mqtt::Direction::kClientToServer,
                                                    mqtt::PacketType::kConnect);
  co_return true;
}

asio::awaitable<void> Session::ForwardConnect(const mqtt::Frame& frame) {
  const config::Upstream& upstream = env_.config.upstream;
  if (upstream.credentials == config::UpstreamCredentials::kPassthrough) {
    const asio::const_buffer raw(frame.raw.data(), frame.raw.size());
    co_await broker_->WriteAll({&raw, 1});
    co_return;
  }
  // The broker trusts moat: it gets no credentials, or moat's own service account.
  mqtt::Connect rewritten = std::get<mqtt::Connect>(frame.packet);
  rewritten.username.reset();
  rewritten.password.reset();
  if (upstream.credentials == config::UpstreamCredentials::kReplace) {
    rewritten.username = upstream.username;
    if (!env_.auth.upstream_password.empty()) rewritten.password = env_.auth.upstream_password;
  }
  std::vector<uint8_t> bytes;
  if (mqtt::Encode(rewritten, rewritten.version, bytes) != mqtt::EncodeError::kNone) {
    throw boost::system::system_error(asio::error::invalid_argument);
  }
  co_await WriteBytes(*broker_, bytes);
}

asio::awaitable<void> Session::SendToClient(const mqtt::Packet& packet) {
  std::vector<uint8_t> bytes;
  if (mqtt::Encode(packet, version_, bytes) != mqtt::EncodeError::kNone) co_return;
  co_await WriteBytes(*client_, bytes);
}

asio::awaitable<void> Session::WriteBytes(net::ByteStream& stream,
                                          const std::vector<uint8_t>& bytes) {
  const asio::const_buffer buffer(bytes.data(), bytes.size());
  co_await stream.WriteAll({&buffer, 1});
}

asio::awaitable<void> Session::RefuseConnect(ReasonCode v5_reason,
                                             mqtt::ConnectReturnCode v311_code) {
  const uint8_t code = version_ == ProtocolVersion::kV5 ? static_cast<uint8_t>(v5_reason)
                                                        : static_cast<uint8_t>(v311_code);
  co_await SendToClient(mqtt::Connack{false, code, {}});
}

}  // namespace moat::proxy
