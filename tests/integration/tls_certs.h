// The certificates of a TLS test run, made with the openssl command line in the run's temp dir
// (nothing is checked in, nothing expires during a run): a CA that signs the certificates of
// PostgreSQL and pgrev (SAN DNS:localhost and IP:127.0.0.1, so verify-full passes against both
// names), a second pgrev certificate for rotation on SIGHUP, a CA for client certificates with
// a good client certificate and a bad one (signed by another CA), and a CA that signed nothing
// here (the "wrong CA" of tls.upstream.ca_file), and certificates of the right CA that fail
// verification for another reason: one that names another host, one that has expired. Keys are EC
// P-256 (fast to make) and readable only by their owner: PostgreSQL's belongs to the account it
// runs as.
#pragma once

#include <optional>
#include <string>

#include "child_process.h"

namespace pgrev::it {

struct CertAndKey {
    std::string cert;  // PEM file
    std::string key;   // PEM file, mode 0600
};

struct TlsCertificates {
    std::string dir;
    std::string ca;        // signs server, pgrev, pgrev_rotated
    std::string wrong_ca;  // signs nothing the servers present
    CertAndKey server;     // PostgreSQL's (owned by the account PostgreSQL runs as)
    CertAndKey pgrev;
    CertAndKey pgrev_rotated;  // same CA and names, another serial
    CertAndKey wrong_name;     // same CA, but it names only other.example
    CertAndKey expired;        // same CA and names, valid in 2020 only
    std::string client_ca;     // for tls.client.ca_file
    CertAndKey good_client;    // signed by client_ca, CN = the role
    CertAndKey bad_client;     // CN = the role, but signed by wrong_ca
};

// Makes every file in `dir` (created if missing); `server_owner` becomes the owner of the
// server's key and certificate. Throws with openssl's output when a command fails.
TlsCertificates make_tls_certificates(const std::string& dir, const std::string& client_role,
                                      const std::optional<RunAs>& server_owner);

// The serial number of a PEM certificate as `openssl x509 -serial` prints it ("1A2B..."),
// and the same read from the certificate a TLS server presents on 127.0.0.1:port
// (openssl s_client -starttls postgres).
std::string certificate_serial(const std::string& cert_file);
std::string presented_serial(std::uint16_t port);

}  // namespace pgrev::it
