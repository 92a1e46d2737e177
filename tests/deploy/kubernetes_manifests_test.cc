// Renders deploy/kubernetes/overlays/{sidecar,gateway} with `kubectl kustomize` (offline,
// no cluster) and checks the objects against moat's own configuration and the
// "restricted" Pod Security profile:
//
//   kubectl kustomize OVERLAY --> objects --> Deployment "moat" --> moat container
//                                     |            probes, ports, mounts, securityContext
//                                     +--> ConfigMap moat.yaml --> listener/metrics ports,
//                                                  file paths, drain_timeout, --check-config
//
// Needs kubectl with kustomize v4+ (deploy/install-deps.sh); runs --check-config with
// $MOAT_BIN, else the moat of the same build folder.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kOverlays = fs::path(MOAT_SOURCE_DIR) / "deploy/kubernetes/overlays";

struct CommandResult {
  int status = -1;  // exit status, -1 if it did not exit normally
  std::string output;
};

// A sequence element as a plain Node (yaml-cpp's iterator value does not assign).
YAML::Node AsNode(const YAML::Node& node) { return node; }

// Runs `command` through the shell; stdout only (redirect stderr yourself).
CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.status = WEXITSTATUS(status);
  return result;
}

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The port of "host:port" / "[v6]:port".
int PortOf(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  return colon == std::string::npos ? -1 : std::atoi(host_port.c_str() + colon + 1);
}

std::string HostOf(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  return colon == std::string::npos ? host_port : host_port.substr(0, colon);
}

// "5s", "500ms", "2m" -> seconds (rounded up); -1 when unreadable.
double Seconds(const std::string& duration) {
  char* end = nullptr;
  const double value = std::strtod(duration.c_str(), &end);
  const std::string unit = end ? end : "";
  if (unit == "ms") return value / 1000;
  if (unit == "s") return value;
  if (unit == "m") return value * 60;
  return -1;
}

bool IsTrue(const YAML::Node& node) { return node && node.as<std::string>() == "true"; }

// `selector` (matchLabels) is non-empty and every label of it is in `labels`.
bool Selects(const YAML::Node& match_labels, const YAML::Node& labels) {
  if (!match_labels || !match_labels.IsMap() || match_labels.size() == 0) return false;
  for (const auto& entry : match_labels) {
    const auto key = entry.first.as<std::string>();
    if (!labels[key] || labels[key].as<std::string>() != entry.second.as<std::string>()) {
      return false;
    }
  }
  return true;
}

class Overlay : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const fs::path stderr_file =
        fs::path(testing::TempDir()) / ("kustomize-" + GetParam() + std::to_string(::getpid()));
    const CommandResult rendered =
        RunCommand("kubectl kustomize " + ShellQuote(kOverlays / GetParam()) + " 2>" +
                   ShellQuote(stderr_file));
    kustomize_stderr_ = ReadFile(stderr_file);
    fs::remove(stderr_file);
    ASSERT_EQ(rendered.status, 0) << "kubectl kustomize failed (needs kustomize v4+):\n"
                                  << kustomize_stderr_
                                  << RunCommand("kubectl version --client 2>&1").output;
    for (const YAML::Node& doc : YAML::LoadAll(rendered.output)) {
      if (doc && doc.IsMap()) objects_.push_back(doc);
    }
    ASSERT_FALSE(objects_.empty());

    const YAML::Node* deployment = Find("Deployment", "moat");
    ASSERT_NE(deployment, nullptr) << "no Deployment moat";
    deployment_ = *deployment;
    pod_ = deployment_["spec"]["template"];
    for (const auto& container : pod_["spec"]["containers"]) {
      if (container["name"].as<std::string>() == "moat") moat_ = AsNode(container);
    }
    ASSERT_TRUE(moat_) << "no container named moat";

    // The moat container's --config FILE, and the ConfigMap mounted where it points.
    const YAML::Node args = moat_["args"];
    ASSERT_TRUE(args && args.size() == 2 && args[0].as<std::string>() == "--config")
        << "moat's args must be [--config, FILE]";
    config_path_ = args[1].as<std::string>();
    const std::optional<YAML::Node> config_volume = VolumeAt(fs::path(config_path_).parent_path());
    ASSERT_TRUE(config_volume && (*config_volume)["configMap"])
        << config_path_ << " is not in a mounted ConfigMap";
    const YAML::Node* config_map =
        Find("ConfigMap", (*config_volume)["configMap"]["name"].as<std::string>());
    ASSERT_NE(config_map, nullptr) << "the mounted ConfigMap is not rendered";
    const YAML::Node text = (*config_map)["data"][fs::path(config_path_).filename().string()];
    ASSERT_TRUE(text) << "the ConfigMap has no " << fs::path(config_path_).filename();
    config_text_ = text.as<std::string>();
    config_ = YAML::Load(config_text_);
    for (const auto& entry : (*config_map)["data"]) {
      config_files_[entry.first.as<std::string>()] = entry.second.as<std::string>();
    }
  }

  const YAML::Node* Find(const std::string& kind, const std::string& name) const {
    for (const YAML::Node& object : objects_) {
      if (object["kind"].as<std::string>() == kind &&
          object["metadata"]["name"].as<std::string>() == name) {
        return &object;
      }
    }
    return nullptr;
  }

  std::vector<YAML::Node> OfKind(const std::string& kind) const {
    std::vector<YAML::Node> found;
    for (const YAML::Node& object : objects_) {
      if (object["kind"].as<std::string>() == kind) found.push_back(object);
    }
    return found;
  }

  // The Pod volume mounted into the moat container exactly at `mount_path`.
  std::optional<YAML::Node> VolumeAt(const fs::path& mount_path) const {
    for (const auto& mount : moat_["volumeMounts"]) {
      if (fs::path(mount["mountPath"].as<std::string>()) != mount_path) continue;
      for (const auto& volume : pod_["spec"]["volumes"]) {
        if (volume["name"].as<std::string>() == mount["name"].as<std::string>()) {
          return AsNode(volume);
        }
      }
    }
    return std::nullopt;
  }

  // The number a probe's or Service's port (name or number) stands for in `container`.
  static int ContainerPort(const YAML::Node& container, const YAML::Node& port) {
    for (const auto& declared : container["ports"]) {
      if (declared["name"] && declared["name"].as<std::string>() == port.as<std::string>()) {
        return declared["containerPort"].as<int>();
      }
    }
    return port.as<std::string>().find_first_not_of("0123456789") == std::string::npos
               ? port.as<int>()
               : -1;
  }

  // Asserts that `file` (from moat.yaml) is a key of the Secret mounted at its folder.
  void ExpectFromSecret(const std::string& file, const std::string& secret_name) const {
    const std::optional<YAML::Node> volume = VolumeAt(fs::path(file).parent_path());
    ASSERT_TRUE(volume && (*volume)["secret"]) << file << " is not in a mounted Secret";
    EXPECT_EQ((*volume)["secret"]["secretName"].as<std::string>(), secret_name) << file;
    bool listed = false;
    for (const auto& item : (*volume)["secret"]["items"]) {
      listed |= item["path"].as<std::string>() == fs::path(file).filename().string();
    }
    EXPECT_TRUE(listed || !(*volume)["secret"]["items"]) << file << " is not an item";
  }

  int MetricsPort() const { return PortOf(config_["metrics"]["bind"].as<std::string>()); }

  std::string kustomize_stderr_;
  std::vector<YAML::Node> objects_;
  YAML::Node deployment_;
  YAML::Node pod_;  // the Pod template
  YAML::Node moat_;
  std::string config_path_;
  std::string config_text_;
  std::map<std::string, std::string> config_files_;  // every file of the config's ConfigMap
  YAML::Node config_;
};

TEST_P(Overlay, RendersWithoutWarnings) {
  EXPECT_EQ(kustomize_stderr_, "") << "deprecated kustomize fields?";
}

TEST_P(Overlay, PodSecurityIsRestricted) {
  const YAML::Node spec = pod_["spec"];
  EXPECT_TRUE(IsTrue(spec["securityContext"]["runAsNonRoot"]));
  EXPECT_EQ(spec["securityContext"]["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
  EXPECT_NE(spec["securityContext"]["runAsUser"].as<int>(), 0);
  ASSERT_TRUE(spec["automountServiceAccountToken"]) << "set it to false explicitly";
  EXPECT_EQ(spec["automountServiceAccountToken"].as<std::string>(), "false");
  for (const char* host : {"hostNetwork", "hostPID", "hostIPC"}) EXPECT_FALSE(IsTrue(spec[host]));
  for (const auto& volume : spec["volumes"]) EXPECT_FALSE(volume["hostPath"]) << volume["name"];
  for (const auto& container : spec["containers"]) {
    const std::string name = container["name"].as<std::string>();
    const YAML::Node context = container["securityContext"];
    ASSERT_TRUE(context) << name;
    EXPECT_EQ(context["allowPrivilegeEscalation"].as<std::string>(), "false") << name;
    EXPECT_TRUE(IsTrue(context["readOnlyRootFilesystem"])) << name;
    EXPECT_FALSE(IsTrue(context["privileged"])) << name;
    EXPECT_FALSE(context["runAsUser"] && context["runAsUser"].as<int>() == 0) << name;
    EXPECT_FALSE(context["capabilities"]["add"]) << name;
    const auto drop = context["capabilities"]["drop"].as<std::vector<std::string>>();
    EXPECT_NE(std::find(drop.begin(), drop.end(), "ALL"), drop.end()) << name;
  }
}

TEST_P(Overlay, ProbesAskHealthzAndReadyzOnTheMetricsPort) {
  ASSERT_GT(MetricsPort(), 0) << "moat.yaml needs metrics.bind for the probes";
  EXPECT_EQ(HostOf(config_["metrics"]["bind"].as<std::string>()), "0.0.0.0")
      << "the kubelet probes the Pod IP, not loopback";
  const std::map<std::string, std::string> expected = {
      {"livenessProbe", "/healthz"}, {"readinessProbe", "/readyz"}, {"startupProbe", "/healthz"}};
  for (const auto& [probe, path] : expected) {
    const YAML::Node get = moat_[probe]["httpGet"];
    ASSERT_TRUE(get) << probe;
    EXPECT_EQ(get["path"].as<std::string>(), path) << probe;
    EXPECT_EQ(ContainerPort(moat_, get["port"]), MetricsPort()) << probe;
  }
}

TEST_P(Overlay, PortsMatchTheConfig) {
  ASSERT_EQ(config_["listeners"].size(), 1u);
  const int mqtts = PortOf(config_["listeners"][0]["bind"].as<std::string>());
  EXPECT_EQ(ContainerPort(moat_, YAML::Node("mqtts")), mqtts);
  EXPECT_EQ(ContainerPort(moat_, YAML::Node("metrics")), MetricsPort());

  const YAML::Node annotations = pod_["metadata"]["annotations"];
  EXPECT_EQ(annotations["prometheus.io/scrape"].as<std::string>(), "true");
  EXPECT_EQ(annotations["prometheus.io/path"].as<std::string>(), "/metrics");
  EXPECT_EQ(annotations["prometheus.io/port"].as<int>(), MetricsPort());

  // Each Service selects the Pod and targets a port the moat container declares; the
  // client-facing one serves mqtts, and /metrics is never on it.
  bool mqtts_served = false;
  for (const YAML::Node& service : OfKind("Service")) {
    const std::string name = service["metadata"]["name"].as<std::string>();
    EXPECT_TRUE(Selects(service["spec"]["selector"], pod_["metadata"]["labels"])) << name;
    std::set<int> targets;
    for (const auto& port : service["spec"]["ports"]) {
      targets.insert(ContainerPort(moat_, port["targetPort"]));
    }
    EXPECT_FALSE(targets.count(-1)) << name << " targets an undeclared port";
    if (targets.count(mqtts)) {
      mqtts_served = true;
      EXPECT_FALSE(targets.count(MetricsPort())) << name << " exposes metrics with MQTT";
    }
  }
  EXPECT_TRUE(mqtts_served);

  // The ServiceMonitor scrapes a Service port named like its endpoint, on the metrics port.
  const std::vector<YAML::Node> monitors = OfKind("ServiceMonitor");
  ASSERT_EQ(monitors.size(), 1u);
  const YAML::Node endpoint = monitors[0]["spec"]["endpoints"][0];
  EXPECT_EQ(endpoint["path"].as<std::string>(), "/metrics");
  int scraped = 0;
  for (const YAML::Node& service : OfKind("Service")) {
    if (!Selects(monitors[0]["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])) {
      continue;
    }
    for (const auto& port : service["spec"]["ports"]) {
      if (port["name"].as<std::string>() != endpoint["port"].as<std::string>()) continue;
      EXPECT_EQ(ContainerPort(moat_, port["targetPort"]), MetricsPort());
      ++scraped;
    }
  }
  EXPECT_EQ(scraped, 1) << "the ServiceMonitor must match exactly one metrics Service port";
}

TEST_P(Overlay, ConfigAndSecretsAreMountedAsWholeFolders) {
  // A subPath mount never sees Kubernetes' ..data symlink swap, so moat could not reload.
  for (const auto& mount : moat_["volumeMounts"]) {
    EXPECT_FALSE(mount["subPath"]) << mount["name"];
    EXPECT_TRUE(IsTrue(mount["readOnly"])) << mount["name"];
  }
  EXPECT_TRUE(fs::path(config_path_).is_absolute());
  ExpectFromSecret(config_["auth"]["password_file"].as<std::string>(), "moat-passwd");
  ExpectFromSecret(config_["listeners"][0]["tls"]["cert"].as<std::string>(), "moat-tls");
  ExpectFromSecret(config_["listeners"][0]["tls"]["key"].as<std::string>(), "moat-tls");
  EXPECT_FALSE(IsTrue(config_["auth"]["allow_anonymous"]));
  // Without it moat would keep the old password file and certificate until restarted.
  EXPECT_TRUE(IsTrue(config_["watch_files"])) << "moat.yaml must set watch_files: true";
}

TEST_P(Overlay, GracePeriodOutlastsTheDrain) {
  const double drain = config_["limits"]["drain_timeout"]
                           ? Seconds(config_["limits"]["drain_timeout"].as<std::string>())
                           : 5;
  ASSERT_GT(drain, 0);
  EXPECT_GE(pod_["spec"]["terminationGracePeriodSeconds"].as<double>(), drain + 5);
}

TEST_P(Overlay, NetworkPolicyAdmitsOnlyMqttsFromAnywhere) {
  const std::vector<YAML::Node> policies = OfKind("NetworkPolicy");
  ASSERT_EQ(policies.size(), 1u);
  const YAML::Node spec = policies[0]["spec"];
  EXPECT_TRUE(Selects(spec["podSelector"]["matchLabels"], pod_["metadata"]["labels"]));
  const auto types = spec["policyTypes"].as<std::vector<std::string>>();
  EXPECT_NE(std::find(types.begin(), types.end(), "Egress"), types.end());
  const int mqtts = PortOf(config_["listeners"][0]["bind"].as<std::string>());
  for (const auto& rule : spec["ingress"]) {
    for (const auto& port : rule["ports"]) {
      const int number = ContainerPort(moat_, port["port"]);
      if (!rule["from"]) {
        EXPECT_EQ(number, mqtts) << "only the MQTT port may be open to every source";
      } else {
        EXPECT_EQ(number, MetricsPort());
      }
    }
  }
}

TEST_P(Overlay, ConfigPassesCheckConfig) {
  const char* moat = std::getenv("MOAT_BIN");  // else the moat of this build folder
  if (moat == nullptr || *moat == '\0') moat = MOAT_DEFAULT_BIN;
  // Lay the Pod's /etc/moat out under a temporary folder: the rendered moat.yaml with
  // its absolute paths moved there, the ConfigMap's other files, an empty password file and a
  // throw-away certificate.
  const fs::path root =
      fs::path(testing::TempDir()) / ("k8s-" + GetParam() + "-" + std::to_string(::getpid()));
  fs::remove_all(root);
  std::string text = config_text_;
  for (size_t at = 0; (at = text.find("/etc/moat/", at)) != std::string::npos;) {
    text.insert(at, root.string());
    at += root.string().size() + 10;
  }
  const fs::path config = root.string() + config_path_;
  fs::create_directories(config.parent_path());
  // The other files of the ConfigMap (the ACL) beside it, as the Pod mounts them.
  for (const auto& [name, content] : config_files_)
    std::ofstream(config.parent_path() / name) << content;
  std::ofstream(config) << text;
  const auto password_file = config_["auth"]["password_file"].as<std::string>();
  fs::create_directories(fs::path(root.string() + password_file).parent_path());
  std::ofstream(root.string() + password_file).flush();
  const auto cert = root.string() + config_["listeners"][0]["tls"]["cert"].as<std::string>();
  const auto key = root.string() + config_["listeners"][0]["tls"]["key"].as<std::string>();
  fs::create_directories(fs::path(cert).parent_path());
  ASSERT_EQ(
      RunCommand("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                 "-subj /CN=localhost -keyout " +
                 ShellQuote(key) + " -out " + ShellQuote(cert) + " >/dev/null 2>&1")
          .status,
      0);
  const CommandResult check =
      RunCommand(ShellQuote(moat) + " --check-config " + ShellQuote(config.string()) + " 2>&1");
  EXPECT_EQ(check.status, 0) << check.output;
  fs::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(Kubernetes, Overlay, testing::Values("sidecar", "gateway"));

class SidecarOverlay : public Overlay {};

TEST_P(SidecarOverlay, BrokerListensOnLoopbackInMoatsPod) {
  const std::string upstream = config_["upstream"]["address"].as<std::string>();
  EXPECT_EQ(HostOf(upstream), "127.0.0.1");
  YAML::Node broker;
  for (const auto& container : pod_["spec"]["containers"]) {
    if (container["name"].as<std::string>() != "moat") broker = AsNode(container);
  }
  ASSERT_TRUE(broker) << "no broker container next to moat";
  EXPECT_FALSE(broker["ports"]) << "the broker must not declare ports";
  // Its mosquitto.conf (from the ConfigMap it mounts) listens on 127.0.0.1 only.
  std::string conf;
  for (const auto& mount : broker["volumeMounts"]) {
    for (const auto& volume : pod_["spec"]["volumes"]) {
      if (volume["name"].as<std::string>() != mount["name"].as<std::string>() ||
          !volume["configMap"]) {
        continue;
      }
      const YAML::Node* map = Find("ConfigMap", volume["configMap"]["name"].as<std::string>());
      ASSERT_NE(map, nullptr);
      if ((*map)["data"]["mosquitto.conf"])
        conf = (*map)["data"]["mosquitto.conf"].as<std::string>();
    }
  }
  ASSERT_FALSE(conf.empty()) << "no mosquitto.conf mounted into the broker";
  std::istringstream lines(conf);
  int listeners = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string keyword, port, address;
    words >> keyword >> port >> address;
    if (keyword != "listener") continue;
    ++listeners;
    EXPECT_EQ(address, "127.0.0.1") << line;
    EXPECT_EQ(std::atoi(port.c_str()), PortOf(upstream)) << line;
  }
  EXPECT_EQ(listeners, 1);
  EXPECT_EQ(deployment_["spec"]["replicas"].as<int>(), 1) << "two Pods are two brokers";
  EXPECT_TRUE(OfKind("HorizontalPodAutoscaler").empty());
  for (const YAML::Node& service : OfKind("Service")) {
    for (const auto& port : service["spec"]["ports"]) {
      EXPECT_NE(port["port"].as<int>(), PortOf(upstream)) << "a Service exposes the broker";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kubernetes, SidecarOverlay, testing::Values("sidecar"));

class GatewayOverlay : public Overlay {};

TEST_P(GatewayOverlay, ScalesWithAnHpaAndKeepsAPdb) {
  EXPECT_EQ(pod_["spec"]["containers"].size(), 1u) << "the gateway Pod runs moat alone";
  EXPECT_FALSE(deployment_["spec"]["replicas"]) << "the HorizontalPodAutoscaler owns replicas";
  const std::vector<YAML::Node> hpas = OfKind("HorizontalPodAutoscaler");
  ASSERT_EQ(hpas.size(), 1u);
  EXPECT_EQ(hpas[0]["apiVersion"].as<std::string>(), "autoscaling/v2");
  EXPECT_EQ(hpas[0]["spec"]["scaleTargetRef"]["kind"].as<std::string>(), "Deployment");
  EXPECT_EQ(hpas[0]["spec"]["scaleTargetRef"]["name"].as<std::string>(), "moat");
  EXPECT_GE(hpas[0]["spec"]["minReplicas"].as<int>(), 2);
  EXPECT_TRUE(moat_["resources"]["requests"]["cpu"]) << "CPU scaling needs a CPU request";
  const std::vector<YAML::Node> budgets = OfKind("PodDisruptionBudget");
  ASSERT_EQ(budgets.size(), 1u);
  EXPECT_EQ(budgets[0]["apiVersion"].as<std::string>(), "policy/v1");
  EXPECT_TRUE(Selects(budgets[0]["spec"]["selector"]["matchLabels"], pod_["metadata"]["labels"]));
}

TEST_P(GatewayOverlay, ReachesTheBrokerServiceAndNothingElse) {
  const std::string upstream = config_["upstream"]["address"].as<std::string>();
  EXPECT_NE(HostOf(upstream), "127.0.0.1");
  const YAML::Node egress = OfKind("NetworkPolicy")[0]["spec"]["egress"];
  ASSERT_TRUE(egress && egress.size() > 0);
  bool broker_allowed = false;
  for (const auto& rule : egress) {
    EXPECT_TRUE(rule["to"]) << "an egress rule without 'to' opens every destination";
    for (const auto& port : rule["ports"]) {
      broker_allowed |= port["port"].as<int>() == PortOf(upstream);
    }
  }
  EXPECT_TRUE(broker_allowed);
}

INSTANTIATE_TEST_SUITE_P(Kubernetes, GatewayOverlay, testing::Values("gateway"));

}  // namespace
