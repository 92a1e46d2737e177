#include "proxy/session/session.h"

#include <boost/asio/post.hpp>

#include "proxy/auth/auth_services.h"
#include "proxy/auth/credentials.h"
#include "proxy/session/admission.h"
#include "proxy/tls/certificate_recheck.h"

namespace moat::proxy {

namespace asio = boost::asio;

Session::Session(OpenedClient client, const SessionEnvironment& env,
                 std::shared_ptr<const void> env_owner)
    : env_owner_(std::move(env_owner)),
      client_(std::move(client.stream)),
      identity_(std::move(client.identity)),
      endpoints_(std::move(client.endpoints)),
      ticket_(std::move(client.ticket)),
      env_(env),
      report_(env.counters, env.listener, identity_) {}

Session::~Session() {
  if (client_id_claimed_) env_.auth.client_ids.Release(identity_.client_id);
}

asio::awaitable<void> Session::Start(SteadyTime accepted) {
  const config::Config& config = env_.config;
  // Until it has logged in, a client is held to the smaller CONNECT limit.
  mqtt::Decoder client_decoder(
      {mqtt::Direction::kClientToServer, config.limits.max_connect_packet_size});
  const AdmissionServices services{config,
                                   env_.relay.authorizer,
                                   env_.upstream,
                                   env_.auth,
                                   env_.relay.clock,
                                   env_.preauth,
                                   *env_.live.authenticator,
                                   env_.live.upstream_password};
  Admission admission(*client_, client_decoder, identity_, services, report_,
                      accepted + config.limits.connect_timeout, &endpoints_);
  admission_ = &admission;
  AdmissionResult result = co_await admission.Run();
  admission_ = nullptr;

  if (auto* refusal = std::get_if<Refusal>(&result)) {
    if (DropsClientLink(refusal->reason)) {
      client_->Close();
    } else {
      client_->ShutdownNow();
    }
    co_return Finish(refusal->reason, refusal->detail);
  }
  AdmittedLink& link = std::get<AdmittedLink>(result);
  broker_ = std::move(link.broker);
  client_id_claimed_ = link.client_id_claimed;
  if (draining_) {
    // Shut down while the CONNECT was on its way: nothing to relay any more.
    broker_->Close();
    client_->Close();
    co_return Finish(EndReason::kShutdown, "");
  }
  credential_fingerprint_ = std::move(link.credential_fingerprint);
  client_decoder.set_max_packet_size(config.limits.max_packet_size);
  relay_.emplace(*client_, std::move(client_decoder), *broker_, std::move(link.enforcer),
                 link.version, link.keep_alive, env_.relay, report_,
                 static_cast<RelayOwner&>(*this), env_.executor);
  SetRates();
  relay_->Start();
  if (link.token_expires_at) EndAtTokenExpiry(*link.token_expires_at);
}

void Session::EndAtTokenExpiry(int64_t expires_at) {
  token_expiry_.emplace(env_.executor,
                        std::chrono::system_clock::time_point(std::chrono::seconds(expires_at)));
  // A destroyed session cancels the timer; the handler then touches nothing.
  token_expiry_->async_wait([this](const boost::system::error_code& error) {
    if (error || !relay_) return;
    // MQTT 5 names this end: connected longer than allowed (0xA0). A client that
    // reconnects must bring a new token.
    relay_->Stop(EndReason::kTokenExpired, mqtt::ReasonCode::kMaximumConnectTime);
  });
}

void Session::RelayEnded(EndReason reason, std::string_view detail) { Finish(reason, detail); }

void Session::Finish(EndReason reason, std::string_view detail) {
  report_.Ended(reason, detail, env_.relay.clock.Now());
  // Posted: the caller may still be on this session's stack.
  asio::post(env_.executor, [owner = &env_.owner, self = this] { owner->SessionFinished(self); });
}

void Session::RequestDrain() {
  draining_ = true;
  if (relay_) {
    relay_->Stop(EndReason::kShutdown, mqtt::ReasonCode::kServerShuttingDown);
  } else {
    Abort();
  }
}

void Session::Abort() {
  if (relay_) {
    relay_->Abort();
  } else if (admission_ != nullptr) {
    admission_->Abort();
  }
}

void Session::EndByAdmin() {
  if (relay_) {
    relay_->Stop(EndReason::kAdmin, mqtt::ReasonCode::kAdministrativeAction);
  } else {
    Abort();  // still logging in: banned, it would be refused at its next step anyway
  }
}

void Session::PolicyChanged(const policy::Authorizer& previous, bool revoke,
                            config::DeniedPublish on_denied_publish) {
  if (!relay_) return;
  // Only a certificate names the client for good: a password user's removal is the
  // password file's business (RevokeIfChanged).
  if (revoke && !identity_.cert_identity.empty() && previous.NamesIdentity(identity_) &&
      !env_.relay.authorizer->NamesIdentity(identity_)) {
    relay_->Stop(EndReason::kRevoked, mqtt::ReasonCode::kNotAuthorized,
                 "certificate identity removed from the policy");
    return;
  }
  SetRates();
  relay_->PolicyChanged(on_denied_publish);
}

void Session::SetRates() {
  const policy::RateOverrides overrides = env_.relay.authorizer->RatesFor(identity_);
  relay_->SetRates(ResolveRates(env_.config.limits.rates, overrides));
}

void Session::RevokeIfChanged(const policy::PasswordFile& file) {
  if (!credential_fingerprint_ || !relay_) return;
  if (Credentials::Fingerprint(file, identity_.username) == credential_fingerprint_) return;
  relay_->Stop(EndReason::kRevoked, mqtt::ReasonCode::kNotAuthorized,
               "password file entry changed");
}

void Session::RevokeIfCertificateRefused(const tls::CertificateRecheck& check) {
  if (!relay_) return;
  X509* certificate = client_->PeerCertificate();
  if (certificate == nullptr) return;
  const std::optional<std::string> refusal = check.Refusal(certificate, client_->PeerChain());
  if (!refusal) return;
  relay_->Stop(EndReason::kRevoked, mqtt::ReasonCode::kNotAuthorized,
               "client certificate: " + *refusal);
}

}  // namespace moat::proxy
