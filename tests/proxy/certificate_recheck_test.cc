// tls::CertificateRecheck: a live session's certificate against a reloaded listener
// context. A CA, two client certificates and CRLs are made here with OpenSSL, written to
// a temporary folder and loaded the way a listener loads them.
#include "proxy/tls/certificate_recheck.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace moat::tls {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256"), EVP_PKEY_free); }

void SetName(X509_NAME* name, const std::string& cn) {
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

CertPtr Issue(const std::string& cn, long serial, EVP_PKEY* key, X509* issuer,
              EVP_PKEY* issuer_key) {
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key);
  SetName(X509_get_subject_name(cert.get()), cn);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer)
                                                     : X509_get_subject_name(cert.get()));
  if (issuer == nullptr) {
    X509_EXTENSION* ca =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(cert.get(), ca, -1);
    X509_EXTENSION_free(ca);
  }
  X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return cert;
}

class CertificateRecheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("moat-recheck-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ca_ = Issue("recheck-ca", 1, ca_key_.get(), nullptr, nullptr);
    good_ = Issue("good", 10, leaf_key_.get(), ca_.get(), ca_key_.get());
    bad_ = Issue("bad", 11, leaf_key_.get(), ca_.get(), ca_key_.get());
    Write("ca.crt", [&](FILE* f) { PEM_write_X509(f, ca_.get()); });
    Write("ca.key", [&](FILE* f) {
      PEM_write_PrivateKey(f, ca_key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  template <typename F>
  std::string Write(const std::string& name, F write) {
    const std::string path = (dir_ / name).string();
    FILE* f = std::fopen(path.c_str(), "w");
    write(f);
    std::fclose(f);
    return path;
  }

  // A CRL of `ca_` revoking `serials`, its nextUpdate `next_update` seconds from now.
  std::string Crl(const std::vector<long>& serials, long next_update = 86400) {
    std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), X509_CRL_free);
    X509_CRL_set_version(crl.get(), 1);
    X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_.get()));
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> last(X509_gmtime_adj(nullptr, -60),
                                                               ASN1_TIME_free);
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next(
        X509_gmtime_adj(nullptr, next_update), ASN1_TIME_free);
    X509_CRL_set1_lastUpdate(crl.get(), last.get());
    X509_CRL_set1_nextUpdate(crl.get(), next.get());
    for (long serial : serials) {
      X509_REVOKED* entry = X509_REVOKED_new();
      std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> number(ASN1_INTEGER_new(),
                                                                         ASN1_INTEGER_free);
      ASN1_INTEGER_set(number.get(), serial);
      X509_REVOKED_set_serialNumber(entry, number.get());
      X509_REVOKED_set_revocationDate(entry, last.get());
      X509_CRL_add0_revoked(crl.get(), entry);
    }
    X509_CRL_sort(crl.get());
    X509_CRL_sign(crl.get(), ca_key_.get(), EVP_sha256());
    return Write("ca-" + std::to_string(++crls_) + ".crl",
                 [&](FILE* f) { PEM_write_X509_CRL(f, crl.get()); });
  }

  // The recheck of a listener whose client CA is `client_ca` and CRLs `crl`.
  std::shared_ptr<const CertificateRecheck> Recheck(const std::string& crl,
                                                    bool accept_stale = false,
                                                    std::string client_ca = "") {
    config::ServerTls tls;
    tls.cert = (dir_ / "ca.crt").string();  // any certificate will do as the server's
    tls.key = (dir_ / "ca.key").string();
    tls.client_ca = client_ca.empty() ? tls.cert : client_ca;
    tls.crl_files = {crl};
    tls.accept_stale_crl = accept_stale;
    auto context = MakeServerContext(tls);
    EXPECT_TRUE(context.ok()) << context.status();
    return CertificateRecheck::For(*context, std::time(nullptr));
  }

  std::filesystem::path dir_;
  KeyPtr ca_key_ = NewKey();
  KeyPtr leaf_key_ = NewKey();
  CertPtr ca_{nullptr, X509_free};
  CertPtr good_{nullptr, X509_free};
  CertPtr bad_{nullptr, X509_free};
  int crls_ = 0;
};

TEST_F(CertificateRecheckTest, ARevokedCertificateIsRefusedAndOnlyIt) {
  const auto recheck = Recheck(Crl({11}));
  ASSERT_NE(recheck, nullptr);
  EXPECT_TRUE(recheck->PassesScreen(good_.get(), nullptr));
  EXPECT_EQ(recheck->Refusal(good_.get(), nullptr), std::nullopt);
  EXPECT_FALSE(recheck->PassesScreen(bad_.get(), nullptr));
  EXPECT_EQ(recheck->Refusal(bad_.get(), nullptr), "certificate revoked");
}

TEST_F(CertificateRecheckTest, ACrlThatRevokesNothingPassesEveryoneWithoutVerifying) {
  const auto recheck = Recheck(Crl({}));
  EXPECT_TRUE(recheck->PassesScreen(good_.get(), nullptr));
  EXPECT_TRUE(recheck->PassesScreen(bad_.get(), nullptr));
}

TEST_F(CertificateRecheckTest, AStaleCrlRefusesOrNotAsOnStaleCrlSays) {
  const std::string stale = Crl({11}, -10);
  const auto refuse = Recheck(stale);
  EXPECT_FALSE(refuse->PassesScreen(good_.get(), nullptr));
  EXPECT_EQ(refuse->Refusal(good_.get(), nullptr), "CRL has expired");
  const auto accept = Recheck(stale, /*accept_stale=*/true);
  EXPECT_EQ(accept->Refusal(good_.get(), nullptr), std::nullopt);
  EXPECT_EQ(accept->Refusal(bad_.get(), nullptr), "certificate revoked");
}

TEST_F(CertificateRecheckTest, ACertificateWhoseCaLeftTheCaFileIsRefused) {
  const KeyPtr other_key = NewKey();
  const CertPtr other = Issue("other-ca", 2, other_key.get(), nullptr, nullptr);
  const std::string other_ca = Write("other.crt", [&](FILE* f) { PEM_write_X509(f, other.get()); });
  // The CRL file is still the old CA's; the CA file names another CA only.
  const auto recheck = Recheck(Crl({}), false, other_ca);
  EXPECT_FALSE(recheck->PassesScreen(good_.get(), nullptr));
  EXPECT_EQ(recheck->Refusal(good_.get(), nullptr), "unable to get local issuer certificate");
}

TEST_F(CertificateRecheckTest, NoneForAContextThatVerifiesNoClients) {
  EXPECT_EQ(CertificateRecheck::For(nullptr, std::time(nullptr)), nullptr);
  config::ServerTls tls;
  tls.cert = (dir_ / "ca.crt").string();
  tls.key = (dir_ / "ca.key").string();
  auto context = MakeServerContext(tls);
  ASSERT_TRUE(context.ok());
  EXPECT_EQ(CertificateRecheck::For(*context, std::time(nullptr)), nullptr);
}

}  // namespace
}  // namespace moat::tls
