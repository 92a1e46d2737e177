// moat's command line (shared/CONTRACT.md): run (--config), --check-config, passwd,
// policy explain, policy test, --version, and metrics-table (the README's metric list).
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/version.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "metrics/http_server.h"
#include "metrics/metric_table.h"
#include "policy/acl/explain.h"
#include "policy/acl/policy_cases.h"
#include "policy/acl/yaml_policy.h"
#include "policy/authorizer.h"
#include "policy/credentials/passwd_command.h"
#include "proxy/admin/admin_runtime.h"
#include "proxy/admin/ctl_command.h"
#include "proxy/audit_log.h"
#include "proxy/auth/auth_services.h"
#include "proxy/check_config.h"
#include "proxy/config/config.h"
#include "proxy/explain_token.h"
#include "proxy/log.h"
#include "proxy/make_authorizer.h"
#include "proxy/observability.h"
#include "proxy/policy_fingerprint.h"
#include "proxy/readiness.h"
#include "proxy/server.h"
#include "proxy/session/client_rate.h"
#include "proxy/tls/openssl_allocator.h"

namespace {

namespace asio = boost::asio;
using moat::proxy::LogError;
using moat::proxy::LogInfo;

constexpr int kExitOk = 0;
constexpr int kExitInvalid = 1;

int Usage() {
  std::fputs(
      "usage: moat --config FILE          run the proxy in the foreground\n"
      "       moat --check-config FILE    validate the configuration and exit\n"
      "       moat passwd [-D] FILE USER  add, update (password from stdin) or delete USER\n"
      "       moat policy explain --config FILE (--user U | --token FILE) [--client-id C]\n"
      "                           [--cert-cn N] [--ip A] (publish|subscribe) TOPIC\n"
      "       moat policy test --config FILE CASES.yaml\n"
      "       moat ctl --config FILE sessions|kick CLIENT_ID|ban TARGET [--for D]|unban "
      "TARGET|bans\n"
      "       moat --version\n"
      "       moat metrics-table          print the metric list as a markdown table\n",
      stderr);
  return kExitInvalid;
}

int PrintVersion() {
  std::printf("moat %s\nOpenSSL %s (built with %s)\nBoost %d.%d.%d\n", MOAT_VERSION,
              OpenSSL_version(OPENSSL_VERSION), OPENSSL_VERSION_TEXT, BOOST_VERSION / 100000,
              BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
  return kExitOk;
}

void RecordPolicyLoaded(moat::metrics::MetricsRegistry& metrics, uint64_t version,
                        const moat::config::Config& config) {
  metrics.Set<moat::metrics::Metric::kPolicyVersion>(static_cast<int64_t>(version));
  // Read again after the load rather than by the loaders: a file replaced in between is
  // hashed as it now is, and the next reload puts both right.
  metrics.SetPolicyHash(moat::proxy::PolicyFingerprint(config));
  metrics.Set<moat::metrics::Metric::kPolicyLoadedTimestampSeconds>(
      static_cast<int64_t>(std::time(nullptr)));
}

struct ConfiguredPolicy {
  moat::config::Config config;
  std::shared_ptr<const moat::policy::Authorizer> authorizer;
};

// The config at `path` and the policy it names, as the proxy would load them; nullopt
// with every problem printed to stderr.
std::optional<ConfiguredPolicy> LoadConfiguredPolicy(const std::string& path) {
  auto config = moat::config::LoadConfig(path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return std::nullopt;
  }
  auto authorizer = moat::proxy::MakeAuthorizer(*config, 1);
  if (!authorizer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(authorizer.status().message()).c_str());
    return std::nullopt;
  }
  return ConfiguredPolicy{*std::move(config), *std::move(authorizer)};
}

int PolicyExplain(const std::vector<std::string_view>& args) {
  // moat policy explain --config FILE (--user U | --token FILE) [--client-id C]
  //                     [--cert-cn N] [--ip A] (publish|subscribe) TOPIC
  std::string config_path;
  std::string token_file;
  moat::policy::ExplainRequest request;
  std::vector<std::string_view> words;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const bool has_value = i + 1 < args.size();
    if (arg == "--config" && has_value) {
      config_path = std::string(args[++i]);
    } else if (arg == "--user" && has_value) {
      request.client.username = std::string(args[++i]);
    } else if (arg == "--client-id" && has_value) {
      request.client.client_id = std::string(args[++i]);
    } else if (arg == "--cert-cn" && has_value) {
      request.client.cert_identity = std::string(args[++i]);
    } else if (arg == "--ip" && has_value) {
      request.client.address = std::string(args[++i]);
    } else if (arg == "--token" && has_value) {
      token_file = std::string(args[++i]);
    } else {
      words.push_back(arg);
    }
  }
  const auto action = words.size() == 2 ? moat::policy::ParseExplainAction(words[0]) : std::nullopt;
  if (config_path.empty() || !action || (!token_file.empty() && !request.client.username.empty())) {
    std::fputs(
        "usage: moat policy explain --config FILE (--user U | --token FILE) [--client-id C] "
        "[--cert-cn N] [--ip A] (publish|subscribe) TOPIC\n",
        stderr);
    return kExitInvalid;
  }
  request.action = *action;
  request.topic = std::string(words[1]);
  const std::optional<ConfiguredPolicy> policy = LoadConfiguredPolicy(config_path);
  if (!policy) return kExitInvalid;
  if (!token_file.empty()) {
    const int token_verdict =
        moat::proxy::ExplainToken(policy->config, token_file, request.client, std::cout, std::cerr);
    if (token_verdict != moat::policy::kExplainAllow) return token_verdict;
  }
  const int verdict =
      moat::policy::RunPolicyExplain(*policy->authorizer, request, std::cout, std::cerr);
  if (verdict == moat::policy::kExplainBadInput) return verdict;
  // What holds the client to a pace, whatever the topic: shown only when something does.
  const std::string rates = moat::proxy::DescribeRates(
      moat::proxy::ResolveRates(policy->config.limits.rates,
                                policy->authorizer->RatesFor(request.client)),
      *policy->authorizer);
  if (!rates.empty()) std::cout << rates << "\n";
  return verdict;
}

int PolicyTest(const std::vector<std::string_view>& args) {
  // moat policy test --config FILE CASES.yaml
  if (args.size() != 3 || args[0] != "--config") {
    std::fputs("usage: moat policy test --config FILE CASES.yaml\n", stderr);
    return kExitInvalid;
  }
  const std::optional<ConfiguredPolicy> policy = LoadConfiguredPolicy(std::string(args[1]));
  if (!policy) return kExitInvalid;
  moat::policy::GroupMembers groups;
  if (!policy->config.policy.file.empty()) {
    auto native = moat::policy::LoadYamlPolicy(policy->config.policy.file);
    if (!native.ok()) {
      std::fprintf(stderr, "%s\n", std::string(native.status().message()).c_str());
      return kExitInvalid;
    }
    groups = std::move(native->groups);
  }
  const std::string cases_file(args[2]);
  auto cases = moat::policy::LoadPolicyCases(cases_file);
  if (!cases.ok()) {
    std::fprintf(stderr, "%s\n", std::string(cases.status().message()).c_str());
    return kExitInvalid;
  }
  return moat::policy::RunPolicyCases(*policy->authorizer, *cases, groups, cases_file, std::cout);
}

// The audit file (or stderr) and, with audit.syslog, its copy for the syslog socket.
absl::StatusOr<std::unique_ptr<moat::proxy::AuditLog>> OpenAuditLog(
    const moat::config::Audit& config) {
  std::unique_ptr<moat::proxy::SyslogSink> syslog;
  if (config.syslog) {
    auto sink = moat::proxy::SyslogSink::Open(config.syslog_socket, config.syslog_facility);
    if (!sink.ok()) return sink.status();
    syslog = std::move(sink).value();
  }
  return moat::proxy::AuditLog::Open(config.file, config.rate_per_second, config.burst,
                                     std::move(syslog));
}

int Run(const std::string& path) {
  auto loaded = moat::config::LoadConfig(path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return kExitInvalid;
  }
  // As at start: what cannot change while moat runs (metrics, admin) keeps reading it.
  const std::shared_ptr<const moat::config::Config> config =
      std::make_shared<const moat::config::Config>(*std::move(loaded));
  for (const std::string& warning : config->warnings) moat::proxy::LogWarning(warning);
  auto authorizer = moat::proxy::MakeAuthorizer(*config, 1);
  if (!authorizer.ok()) {
    LogError(std::string(authorizer.status().message()));
    return kExitInvalid;
  }
  auto auth = moat::proxy::AuthServices::Create(*config);
  if (!auth.ok()) {
    LogError(std::string(auth.status().message()));
    return kExitInvalid;
  }
  auto audit = OpenAuditLog(config->audit);
  if (!audit.ok()) {
    LogError(std::string(audit.status().message()));
    return kExitInvalid;
  }
  moat::proxy::AuditLog::Set(audit->get());
  auto registry = moat::proxy::MakeRegistry(*config);
  if (!registry.ok()) {
    LogError(std::string(registry.status().message()));
    return kExitInvalid;
  }
  moat::metrics::MetricsRegistry& metrics = **registry;
  (*audit)->CountDropsIn(&metrics);
  moat::proxy::Server server(config, *authorizer, **auth, metrics);
  if (auto status = server.Init(); !status.ok()) {
    LogError(std::string(status.message()));
    return kExitInvalid;
  }
  moat::proxy::RecordCertificateExpiry(*config, metrics);
  moat::proxy::RecordCrlNextUpdate(*config, metrics);
  RecordPolicyLoaded(metrics, server.policy_version(), *config);
  std::unique_ptr<moat::proxy::UpstreamReadiness> readiness;
  std::unique_ptr<moat::metrics::MetricsServer> metrics_server;
  if (config->metrics.bind) {
    readiness = std::make_unique<moat::proxy::UpstreamReadiness>(
        config->upstream, moat::proxy::DefaultReadinessOptions(config->upstream));
    readiness->Start();
    auto authorization = moat::proxy::MetricsAuthorization(config->metrics);
    if (!authorization.ok()) {
      LogError(std::string(authorization.status().message()));
      return kExitInvalid;
    }
    moat::metrics::MetricsServerLimits limits;
    limits.authorization = *authorization;
    limits.tls = server.metrics_tls();
    limits.tls_handshake_timeout = config->limits.tls_handshake_timeout;
    auto started = moat::metrics::MetricsServer::Start(
        config->metrics.bind->host, config->metrics.bind->port, metrics,
        [&readiness = *readiness] { return readiness.Report(); }, limits);
    if (!started.ok()) {
      LogError("metrics.bind: " + std::string(started.status().message()));
      return kExitInvalid;
    }
    metrics_server = *std::move(started);
    server.SetMetricsServer(metrics_server.get());
  }
  std::unique_ptr<moat::proxy::admin::AdminRuntime> admin;
  if (config->admin.bind) {
    auto started = moat::proxy::admin::AdminRuntime::Start(*config, server, **auth, metrics);
    if (!started.ok()) {
      LogError(std::string(started.status().message()));
      return kExitInvalid;
    }
    admin = *std::move(started);
  }
  server.Start();
  LogInfo(std::string("moat ") + MOAT_VERSION + " running with " + path);

  asio::io_context control(1);
  auto reload = [&](std::string_view why) {
    if (auto reopened = (*audit)->Reopen(); !reopened.ok()) {
      LogError(std::string(reopened.message()));
    }
    absl::Status status;
    auto reread = moat::config::LoadConfig(path);
    // Opened first, so an audit file that cannot be opened refuses the whole reload.
    absl::StatusOr<std::unique_ptr<moat::proxy::AuditLog>> reread_audit =
        reread.ok() ? OpenAuditLog(reread->audit) : reread.status();
    absl::StatusOr<moat::proxy::admin::AdminRuntime::Files> admin_files;
    if (admin) admin_files = admin->ReadFiles();
    if (!reread_audit.ok()) {
      status = reread_audit.status();
    } else if (admin && !admin_files.ok()) {
      status = admin_files.status();
    } else {
      for (const std::string& warning : reread->warnings) moat::proxy::LogWarning(warning);
      status = server.Reload(std::make_shared<const moat::config::Config>(*std::move(reread)));
      if (status.ok()) {
        (*audit)->Adopt(**reread_audit);
        if (admin) admin->Install(*std::move(admin_files));
      }
    }
    const std::string message(status.message());
    (*audit)->Write(
        {.event = "reload", .reason = status.ok() ? "success" : "failure", .detail = message});
    if (status.ok()) {
      metrics.Add<moat::metrics::Metric::kReloadsTotal>(moat::metrics::ReloadResult::kSuccess);
      RecordPolicyLoaded(metrics, server.policy_version(), *server.config());
      moat::proxy::RecordCertificateExpiry(*server.config(), metrics);
      moat::proxy::RecordCrlNextUpdate(*server.config(), metrics);
      LogInfo(std::string(why) + ": reloaded");
    } else {
      metrics.Add<moat::metrics::Metric::kReloadsTotal>(moat::metrics::ReloadResult::kFailure);
      LogError(std::string(why) +
               ": reload refused, the running config and files stay in force:\n" +
               std::string(status.message()));
    }
  };
  asio::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
          reload("SIGHUP");
          signals.async_wait(on_signal);
          return;
        }
        LogInfo("shutting down: draining sessions");
        server.Stop();
      };
  signals.async_wait(on_signal);

  // Slow-moving gauges, and the file watch: once every two seconds is plenty for both.
  asio::steady_timer tick(control);
  std::string fingerprint = moat::proxy::WatchedFilesFingerprint(*config);
  std::function<void(const boost::system::error_code&)> on_tick =
      [&](const boost::system::error_code& ec) {
        if (ec) return;
        if ((*auth)->bans) {
          metrics.Set<moat::metrics::Metric::kBansActive>(
              static_cast<int64_t>((*auth)->bans->ActiveBans(moat::policy::BanList::Clock::now())));
        }
        metrics.Set<moat::metrics::Metric::kAdminBansActive>(
            static_cast<int64_t>((*auth)->manual_bans->List(std::time(nullptr)).size()));
        if (server.config()->watch_files) {
          std::string now = moat::proxy::WatchedFilesFingerprint(*server.config());
          if (now != fingerprint) {
            fingerprint = std::move(now);
            reload("file change");
          }
        }
        tick.expires_after(std::chrono::seconds(2));
        tick.async_wait(on_tick);
      };
  on_tick({});
  std::thread control_thread([&] { control.run(); });
  server.Wait();
  control.stop();
  control_thread.join();
  if (admin) admin->Stop();
  if (metrics_server) metrics_server->Stop();
  if (readiness) readiness->Stop();
  moat::proxy::AuditLog::Set(nullptr);
  (*audit)->CountDropsIn(nullptr);  // the registry goes first
  LogInfo("stopped");
  return kExitOk;
}

}  // namespace

// A proxy holds two descriptors per client; the default soft limit of 1024 would cap
// it at about 500 clients, so take what the hard limit allows, as HAProxy does.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int main(int argc, char** argv) {
  // Before anything else can make OpenSSL allocate.
  if (!moat::tls::InstallOpenSslAllocator()) {
    std::fprintf(stderr, "moat: OpenSSL allocated memory before main(); its allocator stays\n");
  }
  // OpenSSL writes to sockets itself; a peer that vanished must be an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") return PrintVersion();
  if (args.size() == 2 && args[0] == "--config") return Run(std::string(args[1]));
  if (!args.empty() && args[0] == "passwd") {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    return moat::policy::RunPasswdCommand(rest, STDIN_FILENO, isatty(STDIN_FILENO) == 1);
  }
  if (args.size() == 1 && args[0] == "metrics-table") {
    // The README's metric list is this output; tests/integration/test_readme.py checks it.
    std::fputs(moat::metrics::RenderMetricTableMarkdown().c_str(), stdout);
    return kExitOk;
  }
  if (args.size() >= 2 && args[0] == "policy" && args[1] == "test") {
    return PolicyTest({args.begin() + 2, args.end()});
  }
  if (args.size() >= 2 && args[0] == "policy" && args[1] == "explain") {
    return PolicyExplain({args.begin() + 2, args.end()});
  }
  if (!args.empty() && args[0] == "ctl")
    return moat::proxy::admin::RunCtl({args.begin() + 1, args.end()});
  if (args.size() == 2 && args[0] == "--check-config") {
    return moat::proxy::CheckConfig(std::string(args[1])) ? kExitOk : kExitInvalid;
  }
  return Usage();
}
