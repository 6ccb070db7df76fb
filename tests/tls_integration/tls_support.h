// Helpers of the TLS tests: the cluster they run against (ssl = on, the pg_hba.conf below),
// pgrev instances with a `tls:` section, and connection strings with sslmode and certificates.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "pq_conn.h"
#include "test_env.h"
#include "tls_certs.h"

namespace pgrev::it::tls_it {

// The cluster's pg_hba.conf: over TCP, TLS only (hostssl), but for database app_clear (see the
// comments in tls_support.cpp for what each line is for).
extern const char* const kTlsHba;
// The database the clear lines of kTlsHba admit; a copy of `app` (table reservation).
constexpr const char* kClearDatabase = "app_clear";
// The database where kTlsHba wants a client certificate of scramuser; also a copy of `app`.
constexpr const char* kCertDatabase = "app_cert";

TestEnvOptions tls_env_options();  // set by main() before any test runs

// TestEnv::get(), after making kClearDatabase and kCertDatabase on first use.
TestEnv& env();
const TlsCertificates& certs();
Deadline soon();  // 10 s

// What goes into a pgrev's `tls:` section.
struct PgrevTls {
    std::string client_mode = "prefer";
    std::string client_cert;  // default: certs().pgrev
    std::string client_key;
    std::string client_ca;  // tls.client.ca_file; empty: no client certificates
    std::string upstream_mode = "verify-full";
    std::string upstream_ca;    // default for verify-ca/verify-full: certs().ca
    std::string upstream_cert;  // tls.upstream.cert_file: presented to PostgreSQL
    std::string upstream_key;
};
std::string tls_yaml(const PgrevTls& tls);
std::unique_ptr<PgrevProcess> start_pgrev(const PgrevTls& tls);

// A connection string to 127.0.0.1:port with the role's password and `sslmode`; verify-ca and
// verify-full add sslrootcert=<the CA> and, through pgrev (`via_name`), host=localhost with
// hostaddr=127.0.0.1, so verify-full checks the DNS name while the direct connections check
// the IP address. `extra` ("key=value ...") comes last.
std::string conninfo(std::uint16_t port, const std::string& user, const std::string& db,
                     const std::string& sslmode, const std::string& extra = "");
std::string direct_conninfo(const std::string& user, const std::string& db,
                            const std::string& sslmode, const std::string& extra = "");

// libpq's error message (verbose: with SQLSTATE) of a connection that must fail.
std::string connect_error(const std::string& conninfo);
// The server backend's view of its own connection: "t" when it is TLS.
std::string backend_ssl(PgConn& conn);
bool client_ssl(PgConn& conn);  // PQsslInUse: the client's own leg

// Waits up to 10 s until `text` appears in pgrev's log.
bool log_shows(PgrevProcess& pgrev, const std::string& text);

}  // namespace pgrev::it::tls_it
