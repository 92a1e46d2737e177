#include "proxy/session/admission.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>

#include "proxy/auth/auth_services.h"
#include "proxy/mqtt/encoder.h"
#include "proxy/net/catching.h"
#include "proxy/session/session_report.h"
#include "proxy/tls/peer_identity.h"
#include "proxy/topic_quota.h"
#include "proxy/upstream.h"

namespace moat::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using mqtt::ConnectReturnCode;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;
using policy::AuthFailure;

namespace {

struct RefusalCodes {
  ReasonCode v5;
  ConnectReturnCode v311;
};

RefusalCodes CodesFor(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kBadCredentials:
    case AuthFailure::kCertificateUserMismatch:
    case AuthFailure::kBadToken:
      return {ReasonCode::kBadUserNameOrPassword, ConnectReturnCode::kBadUserNameOrPassword};
    case AuthFailure::kClientIdRejected:
      return {ReasonCode::kClientIdentifierNotValid, ConnectReturnCode::kIdentifierRejected};
    case AuthFailure::kUnsupportedAuthMethod:
      return {ReasonCode::kBadAuthenticationMethod, ConnectReturnCode::kNotAuthorized};
    case AuthFailure::kBanned:
      return {ReasonCode::kBanned, ConnectReturnCode::kNotAuthorized};
    case AuthFailure::kBusy:
      return {ReasonCode::kServerBusy, ConnectReturnCode::kServerUnavailable};
    case AuthFailure::kAnonymousRefused:
    case AuthFailure::kCertificateRequired:
    case AuthFailure::kNone:
      break;
  }
  return {ReasonCode::kNotAuthorized, ConnectReturnCode::kNotAuthorized};
}

// A refused Will: 0x90 for a topic over limits.max_topic_*, 0x97 for a payload over
// max_payload, 0x99 for one not of a rule's `payload:` format (CONNACK codes for just
// that [MQTT-3.2.2.2]), else 0x87.
ReasonCode WillRefusalCode(policy::DenyReason reason) {
  switch (reason) {
    case policy::DenyReason::kTopicLength:
    case policy::DenyReason::kTopicLevels:
      return ReasonCode::kTopicNameInvalid;
    case policy::DenyReason::kPayloadLimit:
      return ReasonCode::kQuotaExceeded;
    case policy::DenyReason::kPayloadFormat:
      return ReasonCode::kPayloadFormatInvalid;
    default:
      return ReasonCode::kNotAuthorized;
  }
}

// What an MQTT 5 CONNECT must tell the broker as its Maximum Packet Size so that the broker
// never sends what moat refuses from it (limits.max_packet_size): the broker then drops
// and counts an oversized message [MQTT-3.1.2-25] instead of queueing it for a subscriber
// that moat would disconnect on every reconnect. nullopt: the client's own value (or 3.1.1,
// which has none) already fits.
std::optional<uint32_t> BrokerPacketLimit(const mqtt::Connect& connect, uint32_t moat_limit) {
  if (connect.version != ProtocolVersion::kV5) return std::nullopt;
  const std::optional<uint32_t> asked =
      connect.properties.Integer(mqtt::PropertyId::kMaximumPacketSize);
  if (asked && *asked <= moat_limit) return std::nullopt;
  return moat_limit;
}

// Failures that count towards a ban: guessing, not misconfiguration or load.
bool CountsTowardsBan(AuthFailure failure) {
  return failure == AuthFailure::kBadCredentials || failure == AuthFailure::kAnonymousRefused ||
         failure == AuthFailure::kCertificateUserMismatch || failure == AuthFailure::kBadToken;
}

}  // namespace

Admission::Admission(net::ByteStream& client, mqtt::Decoder& client_decoder,
                     policy::ClientIdentity& identity, const AdmissionServices& services,
                     SessionReport& report, SteadyTime deadline,
                     const proxy_protocol::ProxiedAddresses* endpoints)
    : client_(client),
      client_decoder_(client_decoder),
      identity_(identity),
      endpoints_(endpoints),
      services_(services),
      report_(report),
      deadline_(deadline) {}

asio::awaitable<AdmissionResult> Admission::Run() {
  services_.preauth.Join(*this);
  std::optional<AdmissionResult> result;
  try {
    result.emplace(co_await Admit());
  } catch (const boost::system::system_error& e) {
    result.emplace(Refusal{aborted_   ? EndReason::kShutdown
                           : evicted_ ? EndReason::kPreauthMemory
                                      : EndReason::kIoError,
                           e.code().message()});
  }
  services_.preauth.Leave(*this);
  if (std::holds_alternative<Refusal>(*result) && client_id_claimed_) {
    services_.auth.client_ids.Release(identity_.client_id);
  }
  co_return std::move(*result);
}

void Admission::Evict() {
  evicted_ = true;
  report_.ConnectionRefused(metrics::ConnectionRefusal::kPreauthMemory);
  client_.Close();
}

void Admission::RecordMisbehaviour() {
  policy::BanList* bans = services_.auth.bans.get();
  if (bans == nullptr) return;
  if (bans->RecordFailure(policy::BanList::AddressKey(identity_.address),
                          policy::BanList::Clock::now())) {
    report_.Audit({.event = "ban", .reason = "address"});
  }
}

bool Admission::ClaimClientId(const mqtt::Connect& connect) {
  if (services_.config.auth.shared_client_ids || connect.client_id.empty()) return true;
  // The broker keeps the session once the client has gone: it is the owner's to resume.
  const bool persistent =
      !connect.clean_start ||
      connect.properties.Integer(mqtt::PropertyId::kSessionExpiryInterval).value_or(0) > 0;
  const std::string identity = ClientIds::IdentityKey(identity_.username, identity_.cert_identity);
  if (!services_.auth.client_ids.Claim(connect.client_id, identity, persistent)) return false;
  client_id_claimed_ = identity != ClientIds::kAnonymous;
  return true;
}

void Admission::Abort() {
  aborted_ = true;
  client_.Close();
  if (broker_) broker_->Close();
}

asio::awaitable<AdmissionResult> Admission::Admit() {
  auto [received] = co_await ReceiveConnect();
  if (auto* refusal = std::get_if<Refusal>(&received)) co_return std::move(*refusal);
  const mqtt::Frame& frame = std::get<mqtt::Frame>(received);
  const auto& connect = std::get<mqtt::Connect>(frame.packet);
  version_ = connect.version;
  identity_.client_id = std::string(connect.client_id);
  const auto max_keep_alive = static_cast<uint16_t>(services_.config.limits.max_keepalive.count());
  const KeepAlive keep_alive(
      std::chrono::seconds(Enforcer::CappedKeepAlive(connect.keep_alive, max_keep_alive)),
      services_.clock.Now());

  if (const AuthFailure failure = co_await Authenticate(connect); failure != AuthFailure::kNone) {
    co_return co_await RefuseLogin(failure);
  }
  if (services_.clock.Now() >= deadline_) {
    // The deadline covers proving who one is, hashing queue included.
    report_.Connect(metrics::ConnectResult::kTimeout);
    RecordMisbehaviour();
    co_return Refusal{EndReason::kConnectTimeout, "during authentication"};
  }
  if (const policy::Decision decision = AuthorizeConnect(connect); !decision.allowed()) {
    report_.NotAuthorized(decision);
    co_await Answer(WillRefusalCode(decision.reason), ConnectReturnCode::kNotAuthorized);
    co_return Refusal{EndReason::kRefused, "not_authorized"};
  }
  if (!ClaimClientId(connect)) {
    // At the broker it would end the owner's session and take over what is queued for it.
    report_.Connect(metrics::ConnectResult::kNotAuthorized);
    report_.Audit({.event = "refused_connect", .reason = "client_id_taken"});
    co_await Answer(ReasonCode::kClientIdentifierNotValid, ConnectReturnCode::kIdentifierRejected);
    co_return Refusal{EndReason::kRefused, "client_id_taken"};
  }
  if (!co_await ConnectUpstream(frame)) {
    // By default the client sees what a dead broker would show it, a closed connection,
    // which every client library retries; CONNACK 3 / 0x88 is final to many of them.
    if (services_.config.upstream.on_unavailable == config::UpstreamUnavailable::kConnack) {
      co_await Answer(ReasonCode::kServerUnavailable, ConnectReturnCode::kServerUnavailable);
    }
    co_return Refusal{EndReason::kUpstreamUnavailable, upstream_error_};
  }
  report_.Connect(metrics::ConnectResult::kAccepted);
  report_.Packet(mqtt::Direction::kClientToServer, mqtt::PacketType::kConnect, frame.raw.size());
  report_.Admitted(HowAdmitted(), services_.clock.Now());
  Enforcer enforcer(identity_, connect, services_.config.policy.on_denied_publish);
  enforcer.set_max_keep_alive(max_keep_alive);
  enforcer.set_quotas(services_.config.limits.session);
  co_return AdmittedLink{.broker = std::move(broker_),
                         .enforcer = std::move(enforcer),
                         .version = version_,
                         .keep_alive = keep_alive,
                         .credential_fingerprint = std::move(credential_fingerprint_),
                         .token_expires_at = token_expires_at_,
                         .client_id_claimed = client_id_claimed_};
}

asio::awaitable<Admission::FirstPacket> Admission::ReceiveConnect() {
  // Relative to the admission's clock, which need not be the timer's.
  asio::steady_timer deadline(co_await asio::this_coro::executor,
                              deadline_ - services_.clock.Now());
  boost::system::error_code error;
  auto result = co_await (net::Catching(ReadFirstPacket(), error) ||
                          deadline.async_wait(asio::use_awaitable));
  if (result.index() == 1) {
    report_.Connect(metrics::ConnectResult::kTimeout);
    RecordMisbehaviour();
    co_return FirstPacket{Refusal{EndReason::kConnectTimeout, ""}};
  }
  if (error) throw boost::system::system_error(error);
  co_return std::move(std::get<0>(result));
}

asio::awaitable<Admission::FirstPacket> Admission::ReadFirstPacket() {
  for (;;) {
    auto result = client_decoder_.Next();
    if (auto* frame = std::get_if<mqtt::Frame>(&result)) co_return FirstPacket{std::move(*frame)};
    if (const auto* error = std::get_if<mqtt::DecodeError>(&result)) {
      report_.Malformed(mqtt::Direction::kClientToServer, *error);
      report_.Connect(metrics::ConnectResult::kMalformed);
      RecordMisbehaviour();
      // A CONNECT for a protocol level moat does not speak gets the 3.1.1 answer
      // [MQTT-3.1.2-2]; nothing else is answered before a valid CONNECT.
      if (*error == mqtt::DecodeError::kUnsupportedProtocolVersion ||
          *error == mqtt::DecodeError::kInvalidProtocolName) {
        version_ = ProtocolVersion::kV311;
        co_await Answer(ReasonCode::kUnsupportedProtocolVersion,
                        ConnectReturnCode::kUnacceptableProtocolVersion);
      }
      // Refused from its fixed header, before its body was buffered; an MQTT 5 client
      // learns why (limits.max_connect_packet_size), older ones have no code for it.
      if (*error == mqtt::DecodeError::kPacketTooLarge &&
          mqtt::PeekConnectVersion(client_decoder_.unread()) == ProtocolVersion::kV5) {
        version_ = ProtocolVersion::kV5;
        co_await Answer(ReasonCode::kPacketTooLarge, ConnectReturnCode::kServerUnavailable);
      }
      co_return FirstPacket{
          Refusal{EndReason::kMalformedFromClient, std::string(mqtt::DecodeErrorName(*error))}};
    }
    if (co_await client_.ReadInto(client_decoder_) == 0) {
      co_return FirstPacket{Refusal{EndReason::kClientClosed, ""}};
    }
    services_.preauth.Charge(*this, client_decoder_.capacity());
  }
}

asio::awaitable<AuthFailure> Admission::Authenticate(const mqtt::Connect& connect) {
  const config::Auth& config = services_.config.auth;
  AuthServices& auth = services_.auth;
  policy::AuthRequest request;
  request.mqtt5 = connect.version == ProtocolVersion::kV5;
  request.mqtt31 = connect.version == ProtocolVersion::kV31;
  request.clean_start = connect.clean_start;
  request.client_id = connect.client_id;
  request.username = connect.username;
  request.has_password = connect.password.has_value();
  if (config.require == policy::AuthRequirement::kPasswordOrToken && connect.password) {
    request.password_is_token = policy::LooksLikeToken(*connect.password);
  }
  request.has_auth_method =
      connect.properties.String(mqtt::PropertyId::kAuthenticationMethod).has_value();
  if (config.certificate_identity != config::CertificateIdentity::kNone) {
    request.certificate_identity =
        tls::CertificateIdentity(client_.PeerCertificate(), config.certificate_identity);
  }
  const policy::AuthPlan plan = services_.authenticator.Plan(request);
  identity_.username = plan.identity;
  identity_.cert_identity = request.certificate_identity.value_or("");
  auth_method_ = plan.method;
  if (plan.failure != AuthFailure::kNone) co_return plan.failure;
  // Banned through the admin API: by user or client id, from anywhere.
  if (auth.manual_bans->UserBanned(plan.identity, std::time(nullptr)) ||
      auth.manual_bans->ClientIdBanned(connect.client_id, std::time(nullptr))) {
    co_return AuthFailure::kBanned;
  }

  // Banned as tried from this address only: a stranger's guesses never lock the owner
  // out from where the owner is.
  if (auth.bans && !plan.identity.empty() &&
      auth.bans->IsBanned(policy::BanList::UserAtAddressKey(plan.identity, identity_.address),
                          policy::BanList::Clock::now())) {
    co_return AuthFailure::kBanned;
  }
  if (plan.verify_password) {
    const PasswordCheck check = co_await auth.credentials->Verify(
        plan.identity, std::string(connect.password.value_or("")));
    if (check == PasswordCheck::kBusy) co_return AuthFailure::kBusy;
    if (check != PasswordCheck::kOk) co_return AuthFailure::kBadCredentials;
    credential_fingerprint_ = Credentials::Fingerprint(*auth.credentials->file(), plan.identity);
  }
  if (plan.verify_token) {
    const AuthFailure failure = co_await CheckToken(connect, plan);
    if (failure != AuthFailure::kNone) co_return failure;
  }
  co_return services_.authenticator.CheckClientId(request, identity_.username);
}

asio::awaitable<AuthFailure> Admission::CheckToken(const mqtt::Connect& connect,
                                                   const policy::AuthPlan& plan) {
  AuthServices& auth = services_.auth;
  const config::Jwt& jwt = *services_.config.auth.jwt;
  TokenResult result = co_await auth.tokens->Verify(std::string(connect.password.value_or("")));
  if (result.busy) co_return AuthFailure::kBusy;
  policy::TokenCheck& check = result.check;
  if (check.refusal == policy::TokenRefusal::kNone) {
    const std::string& named = check.token.identity;
    // With a certificate, both must name the same client; with match_username, so must
    // the CONNECT user name.
    if (plan.method == policy::AuthMethod::kCertificateAndToken && named != plan.identity) {
      check.refusal = policy::TokenRefusal::kUsernameMismatch;
      check.detail = "the token names another identity than the certificate";
    } else if (jwt.match_username && connect.username != std::optional<std::string_view>(named)) {
      check.refusal = policy::TokenRefusal::kUsernameMismatch;
      check.detail = "the CONNECT user name is not the token's identity";
    }
  }
  if (check.refusal != policy::TokenRefusal::kNone) {
    report_.TokenRefused(check.refusal, check.detail);
    co_return AuthFailure::kBadToken;
  }
  identity_.username = std::move(check.token.identity);
  identity_.groups = std::move(check.token.groups);
  identity_.memo = {};
  token_expires_at_ = check.token.expires_at;
  // The bans by name, now that the token has given one.
  if (auth.manual_bans->UserBanned(identity_.username, std::time(nullptr))) {
    co_return AuthFailure::kBanned;
  }
  if (auth.bans &&
      auth.bans->IsBanned(policy::BanList::UserAtAddressKey(identity_.username, identity_.address),
                          policy::BanList::Clock::now())) {
    co_return AuthFailure::kBanned;
  }
  co_return AuthFailure::kNone;
}

asio::awaitable<Refusal> Admission::RefuseLogin(AuthFailure failure) {
  report_.AuthFailure(failure);
  uint32_t user_failures = 0;
  policy::BanList* bans = services_.auth.bans.get();
  if (bans != nullptr && CountsTowardsBan(failure)) {
    using policy::BanList;
    const auto now = BanList::Clock::now();
    if (bans->RecordFailure(BanList::AddressKey(identity_.address), now)) {
      report_.Audit({.event = "ban", .reason = "address"});
    }
    if (!identity_.username.empty()) {
      if (bans->RecordFailure(BanList::UserAtAddressKey(identity_.username, identity_.address),
                              now)) {
        report_.Audit({.event = "ban", .reason = "user_at_address"});
      }
      user_failures = bans->CountFailure(BanList::UserKey(identity_.username), now);
    }
  }
  // A slow "no" makes guessing expensive; a timer, so no thread waits for it. It doubles
  // with every ban's worth of failures for the user from anywhere, up to 32 times, so
  // guessing one password from many addresses slows down while the owner, who does not
  // fail, is never held up. A full hashing queue is answered at once: the client should
  // go elsewhere, not wait.
  auto delay = services_.config.auth.failure_delay;
  if (bans != nullptr && user_failures > 0) {
    delay *= 1u << std::min<uint32_t>(user_failures / bans->failures_per_ban(), 5);
  }
  if (failure != AuthFailure::kBusy && delay.count() > 0) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
  }
  const RefusalCodes codes = CodesFor(failure);
  co_await Answer(codes.v5, codes.v311);
  co_return Refusal{EndReason::kRefused, std::string(policy::AuthFailureName(failure))};
}

policy::Decision Admission::AuthorizeConnect(const mqtt::Connect& connect) {
  const policy::Authorizer& authorizer = *services_.authorizer;
  policy::Decision decision = authorizer.AuthorizeConnect(identity_);
  if (!decision.allowed() || !connect.will) return decision;
  const mqtt::Will& will = *connect.will;
  const std::string topic(will.topic);
  // The Will is a PUBLISH to come: the same limits, checked now, when the client can
  // still be told.
  if (const auto quota = TopicQuotaExceeded(will.topic, services_.config.limits.session);
      quota != policy::DenyReason::kNone) {
    const Denial denial = Denial::Quota(policy::Action::kWill, quota, topic);
    report_.Denials({&denial, 1});
    return QuotaDecision(quota);
  }
  decision = authorizer.MayPublish(identity_, will.topic, will.qos, will.retain);
  if (!decision.allowed() || decision.audit) {
    const Denial denial = Denial::Of(policy::Action::kWill, decision, topic);
    report_.Denials({&denial, 1});
  }
  if (!decision.allowed()) return decision;
  // A payload over max_payload, then one not of the rules' `payload:` format, as the
  // data path checks a PUBLISH: each reported, and refused unless an audit-mode rule
  // grants it.
  std::optional<Denial> payload[2];
  if (will.payload.size() > decision.max_payload) payload[0] = Denial::PayloadOf(decision, topic);
  if (decision.payload_format != policy::PayloadFormat::kAny &&
      !policy::PayloadMatches(decision.payload_format, will.payload)) {
    payload[1] = Denial::FormatOf(decision, topic);
  }
  for (std::optional<Denial>& denial : payload) {
    if (!denial) continue;
    denial->action = policy::Action::kWill;
    report_.Denials({&*denial, 1});
    if (denial->audit) continue;
    policy::Decision refused = QuotaDecision(denial->reason);
    refused.rule = denial->rule;
    refused.rule_label = denial->rule_label;
    return refused;
  }
  return decision;
}

asio::awaitable<bool> Admission::ConnectUpstream(const mqtt::Frame& frame) {
  // The hold counts against the login deadline, like everything before the CONNACK.
  asio::steady_timer deadline(co_await asio::this_coro::executor,
                              deadline_ - services_.clock.Now());
  boost::system::error_code failure;
  auto result = co_await (net::Catching(HoldForBroker(frame), failure) ||
                          deadline.async_wait(asio::use_awaitable));
  if (result.index() == 0 && !failure) failure = std::get<0>(result);
  if (result.index() == 1) failure = asio::error::timed_out;
  if (aborted_) throw boost::system::system_error(asio::error::operation_aborted);
  if (!failure) co_return true;
  broker_.reset();
  report_.UpstreamUnavailable(failure);
  upstream_error_ = failure.message();
  co_return false;
}

asio::awaitable<boost::system::error_code> Admission::HoldForBroker(const mqtt::Frame& frame) {
  // Between attempts while no server is up: the background probes bring one back, and
  // this notices it within a pause.
  constexpr std::chrono::milliseconds kRetryPause{100};
  const SteadyTime hold_until = services_.clock.Now() + services_.config.upstream.unavailable_wait;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    const boost::system::error_code error = co_await TryBroker(frame);
    if (!error || aborted_) co_return error;
    const SteadyTime now = services_.clock.Now();
    if (now >= hold_until) co_return error;
    pause.expires_after(std::min<SteadyTime::duration>(kRetryPause, hold_until - now));
    co_await pause.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<boost::system::error_code> Admission::TryBroker(const mqtt::Frame& frame) {
  const SteadyTime started = services_.clock.Now();
  boost::system::error_code error;
  try {
    broker_ = co_await services_.upstream.Connect(UpstreamRequest{.client_id = identity_.client_id,
                                                                  .identity = &identity_,
                                                                  .client = &client_,
                                                                  .endpoints = endpoints_});
    co_await ForwardConnect(frame);
    if (!co_await services_.upstream.AwaitAnswer(*broker_)) error = asio::error::timed_out;
  } catch (const boost::system::system_error& e) {
    error = e.code();
  }
  if (error) {
    if (broker_) broker_->Close();
    broker_.reset();
    co_return error;
  }
  report_.counters().Observe<metrics::Metric::kUpstreamConnectSeconds>(
      std::chrono::duration<double>(services_.clock.Now() - started).count());
  co_return error;
}

asio::awaitable<void> Admission::ForwardConnect(const mqtt::Frame& frame) {
  const config::Upstream& upstream = services_.config.upstream;
  const auto& connect = std::get<mqtt::Connect>(frame.packet);
  const std::optional<uint32_t> packet_limit =
      BrokerPacketLimit(connect, services_.config.limits.max_packet_size);
  if (upstream.credentials == config::UpstreamCredentials::kPassthrough && !packet_limit) {
    const asio::const_buffer raw(frame.raw.data(), frame.raw.size());
    co_await broker_->WriteAll({&raw, 1});
    co_return;
  }
  mqtt::Connect rewritten = connect;
  if (packet_limit) {
    rewritten.properties.Remove(mqtt::PropertyId::kMaximumPacketSize);
    rewritten.properties.AddInteger(mqtt::PropertyId::kMaximumPacketSize, *packet_limit);
  }
  if (upstream.credentials != config::UpstreamCredentials::kPassthrough) {
    // The broker trusts moat: it gets no credentials, or moat's own service account.
    rewritten.username.reset();
    rewritten.password.reset();
  }
  if (upstream.credentials == config::UpstreamCredentials::kReplace) {
    rewritten.username = upstream.username;
    if (!services_.upstream_password.empty()) {
      rewritten.password = services_.upstream_password;
    }
  }
  std::vector<uint8_t> bytes;
  if (mqtt::Encode(rewritten, rewritten.version, bytes) != mqtt::EncodeError::kNone) {
    throw boost::system::system_error(asio::error::invalid_argument);
  }
  const asio::const_buffer buffer(bytes.data(), bytes.size());
  co_await broker_->WriteAll({&buffer, 1});
}

AdmittedClient Admission::HowAdmitted() const {
  AdmittedClient client{.auth = auth_method_, .tls = client_.Tls(), .version = version_};
  // Whether or not the certificate names the client, it tells which key was used.
  if (X509* certificate = client_.PeerCertificate()) {
    client.cert_fingerprint = tls::CertificateFingerprint(certificate);
  }
  return client;
}

asio::awaitable<void> Admission::Answer(ReasonCode v5_reason, ConnectReturnCode v311_code) {
  const uint8_t code = version_ == ProtocolVersion::kV5 ? static_cast<uint8_t>(v5_reason)
                                                        : static_cast<uint8_t>(v311_code);
  std::vector<uint8_t> bytes;
  if (mqtt::Encode(mqtt::Connack{false, code, {}}, version_, bytes) != mqtt::EncodeError::kNone) {
    co_return;
  }
  const asio::const_buffer buffer(bytes.data(), bytes.size());
  // The refusal stands whether or not the client is still there to read it.
  boost::system::error_code ignored;
  co_await net::Catching(client_.WriteAll({&buffer, 1}), ignored);
}

}  // namespace moat::proxy
