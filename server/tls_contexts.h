// The TLS settings of tls.* loaded into OpenSSL: a context for clients (pgrev as TLS server)
// and one for PostgreSQL (pgrev as TLS client).
//
// SIGHUP re-reads the files for new connections. A session takes the contexts current when it
// starts and keeps them for its whole life (OpenSSL keeps what a connection uses alive anyway;
// the shared_ptr keeps Asio's side of the context too).
#pragma once

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "config/config.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace pgrev::server {

struct TlsContexts {
    std::shared_ptr<boost::asio::ssl::context> for_clients;   // null: tls.client.sslmode disable
    std::shared_ptr<boost::asio::ssl::context> for_upstream;  // null: tls.upstream.sslmode disable
};

// A file of tls.* that OpenSSL does not accept; the message names the key, the file and
// OpenSSL's reason.
class TlsLoadError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class TlsStore {
  public:
    // Throws TlsLoadError.
    explicit TlsStore(const config::Tls& tls);

    std::shared_ptr<const TlsContexts> current() const;

    // Loads the files again; on failure keeps what was loaded before and returns the reason.
    // Returns an empty string when the new files are in use.
    std::string reload();

  private:
    const config::Tls& tls_;
    mutable std::mutex mutex_;
    std::shared_ptr<const TlsContexts> current_;
};

// The contexts for `tls`, read from its files now. Throws TlsLoadError.
TlsContexts load_tls_contexts(const config::Tls& tls);

}  // namespace pgrev::server
