#include "server/tls_contexts.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <spdlog/spdlog.h>

#include <boost/asio/ssl/context.hpp>

namespace pgrev::server {

namespace ssl = boost::asio::ssl;
using config::ClientTlsMode;
using config::UpstreamTlsMode;

namespace {

// OpenSSL's reason for the last failure ("no such file", "key values mismatch", ...).
std::string openssl_reason(const boost::system::error_code& ec) {
    // Asio's message is OpenSSL's reason string with the library in parentheses.
    ERR_clear_error();
    return ec.message();
}

[[noreturn]] void fail(const char* key, const std::string& file, const std::string& reason) {
    throw TlsLoadError(std::string(key) + " (" + file + "): " + reason);
}

std::shared_ptr<ssl::context> new_context(ssl::context::method method) {
    auto context = std::make_shared<ssl::context>(method);
    // TLS 1.2 is the minimum the issue and every managed PostgreSQL ask for.
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    return context;
}

void use_certificate(ssl::context& context, const char* cert_key, const std::string& cert_file,
                     const char* key_key, const std::string& key_file) {
    boost::system::error_code ec;
    context.use_certificate_chain_file(cert_file, ec);
    if (ec) fail(cert_key, cert_file, openssl_reason(ec));
    context.use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) fail(key_key, key_file, openssl_reason(ec));
    if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
        ERR_clear_error();
        fail(key_key, key_file, "the key does not belong to the certificate in " + cert_file);
    }
    // OpenSSL loads a certificate outside its validity; every peer that checks it will refuse
    // it, so say so now rather than at each handshake.
    if (X509* cert = SSL_CTX_get0_certificate(context.native_handle()); cert != nullptr) {
        if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
            spdlog::warn("{} ({}): the certificate has expired; peers that verify it refuse it",
                         cert_key, cert_file);
        } else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
            spdlog::warn(
                "{} ({}): the certificate is not valid yet; peers that verify it refuse it",
                cert_key, cert_file);
        }
    }
}

void trust(ssl::context& context, const char* key, const std::string& ca_file) {
    boost::system::error_code ec;
    context.load_verify_file(ca_file, ec);
    if (ec) fail(key, ca_file, openssl_reason(ec));
}

// ALPN: a client that offers "postgresql" (libpq 17 and later) gets it; one that offers
// something else is not refused on the SSLRequest path, where ALPN is optional.
int select_postgresql(SSL*, const unsigned char** out, unsigned char* out_length,
                      const unsigned char* offered, unsigned int offered_length, void*) {
    static const unsigned char kPostgresql[] = "\x0apostgresql";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, kPostgresql, sizeof kPostgresql - 1, offered,
                              offered_length) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<ssl::context> client_facing(const config::ClientTls& tls) {
    if (tls.sslmode == ClientTlsMode::Disable) return nullptr;
    auto context = new_context(ssl::context::tls_server);
    use_certificate(*context, "tls.client.cert_file", tls.cert_file, "tls.client.key_file",
                    tls.key_file);
    SSL_CTX_set_alpn_select_cb(context->native_handle(), select_postgresql, nullptr);
    if (!tls.ca_file.empty()) {
        trust(*context, "tls.client.ca_file", tls.ca_file);
        // The CA names tell a client which of its certificates to send.
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca_file.c_str());
        if (names == nullptr) fail("tls.client.ca_file", tls.ca_file, "no certificate in the file");
        SSL_CTX_set_client_CA_list(context->native_handle(), names);
        context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    return context;
}

std::shared_ptr<ssl::context> upstream_facing(const config::UpstreamTls& tls) {
    if (tls.sslmode == UpstreamTlsMode::Disable) return nullptr;
    auto context = new_context(ssl::context::tls_client);
    if (!tls.cert_file.empty()) {
        use_certificate(*context, "tls.upstream.cert_file", tls.cert_file, "tls.upstream.key_file",
                        tls.key_file);
    }
    // libpq's meanings: verify-ca and verify-full check the chain; require does too when a
    // root certificate is given; allow and prefer never do.
    bool check_chain = tls.sslmode == UpstreamTlsMode::VerifyCa ||
                       tls.sslmode == UpstreamTlsMode::VerifyFull ||
                       (tls.sslmode == UpstreamTlsMode::Require && !tls.ca_file.empty());
    if (check_chain) {
        trust(*context, "tls.upstream.ca_file", tls.ca_file);
        context->set_verify_mode(ssl::verify_peer);
    } else {
        context->set_verify_mode(ssl::verify_none);
    }
    return context;
}

}  // namespace

TlsContexts load_tls_contexts(const config::Tls& tls) {
    return TlsContexts{client_facing(tls.client), upstream_facing(tls.upstream)};
}

TlsStore::TlsStore(const config::Tls& tls)
    : tls_(tls), current_(std::make_shared<TlsContexts>(load_tls_contexts(tls))) {}

std::shared_ptr<const TlsContexts> TlsStore::current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

std::string TlsStore::reload() {
    std::shared_ptr<const TlsContexts> fresh;
    try {
        fresh = std::make_shared<TlsContexts>(load_tls_contexts(tls_));
    } catch (const TlsLoadError& e) {
        return e.what();
    }
    std::lock_guard lock(mutex_);
    current_ = std::move(fresh);
    return {};
}

}  // namespace pgrev::server
