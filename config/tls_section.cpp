#include "config/tls_section.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pgrev::config::detail {
namespace {

// The optional fields of one tls subsection, as found in the file.
struct TlsFields {
    std::optional<Field> sslmode, cert_file, key_file, ca_file;
};

// The rules that join keys (a mode that needs a certificate, a certificate without its key)
// are checked after a subsection is read, so the message names the key that is missing
// wherever in the subsection the others are.
class TlsSection {
  public:
    explicit TlsSection(const FieldReader& reader) : reader_(reader) {}

    void read(const Field& f, Tls& tls) const {
        reader_.walk_map(f, {"client", "upstream"}, [&](std::string_view key, const Field& v) {
            if (key == "client") client(v, tls.client);
            if (key == "upstream") upstream(v, tls.upstream);
        });
    }

  private:
    void client(const Field& f, ClientTls& out) const {
        static constexpr std::pair<std::string_view, ClientTlsMode> kModes[] = {
            {"disable", ClientTlsMode::Disable},
            {"allow", ClientTlsMode::Allow},
            {"prefer", ClientTlsMode::Prefer},
            {"require", ClientTlsMode::Require}};
        const TlsFields t = fields(f, {"sslmode", "cert_file", "key_file", "ca_file"});
        certificate_pair(t, "tls.client");
        if (t.sslmode) {
            const std::string text = lower_ascii(reader_.scalar(*t.sslmode, "an sslmode"));
            if (text == "verify-ca" || text == "verify-full") {
                reader_.fail(*t.sslmode, text +
                                             " is a mode of tls.upstream.sslmode; here one of "
                                             "disable, allow, prefer, require (to verify the "
                                             "certificates of clients, set tls.client.ca_file)");
            }
            out.sslmode = mode(*t.sslmode, text, kModes, "disable, allow, prefer, require");
        } else if (t.ca_file) {
            // Client certificates are asked for over TLS only: a clear client would skip the
            // check that the CA file is there for.
            out.sslmode = ClientTlsMode::Require;
        } else {
            out.sslmode = t.cert_file ? ClientTlsMode::Prefer : ClientTlsMode::Disable;
        }
        if (t.ca_file && !t.cert_file) {
            reader_.fail(*t.ca_file,
                         "client certificates are checked only over TLS: set "
                         "tls.client.cert_file and tls.client.key_file too");
        }
        // Without a certificate only "disable" can be in effect, and only when written.
        if (out.sslmode != ClientTlsMode::Disable && !t.cert_file) {
            reader_.fail(*t.sslmode, std::string(sslmode_name(out.sslmode)) +
                                         " needs tls.client.cert_file and tls.client.key_file "
                                         "(pgrev's certificate for its clients and its private "
                                         "key)");
        }
        if (t.ca_file && out.sslmode != ClientTlsMode::Require) {
            reader_.fail(*t.sslmode, std::string(sslmode_name(out.sslmode)) +
                                         " lets a client in without TLS, and so without the "
                                         "certificate tls.client.ca_file asks for: use require");
        }
        out.cert_file = file(t.cert_file);
        out.key_file = file(t.key_file);
        out.ca_file = file(t.ca_file);
    }

    void upstream(const Field& f, UpstreamTls& out) const {
        static constexpr std::pair<std::string_view, UpstreamTlsMode> kModes[] = {
            {"disable", UpstreamTlsMode::Disable},    {"allow", UpstreamTlsMode::Allow},
            {"prefer", UpstreamTlsMode::Prefer},      {"require", UpstreamTlsMode::Require},
            {"verify-ca", UpstreamTlsMode::VerifyCa}, {"verify-full", UpstreamTlsMode::VerifyFull}};
        const TlsFields t = fields(f, {"sslmode", "ca_file", "cert_file", "key_file"});
        certificate_pair(t, "tls.upstream");
        if (t.sslmode) {
            const std::string text = lower_ascii(reader_.scalar(*t.sslmode, "an sslmode"));
            out.sslmode = mode(*t.sslmode, text, kModes,
                               "disable, allow, prefer, require, verify-ca, verify-full");
        }
        const bool verifies =
            out.sslmode == UpstreamTlsMode::VerifyCa || out.sslmode == UpstreamTlsMode::VerifyFull;
        if (verifies && !t.ca_file) {
            reader_.fail(*t.sslmode, std::string(sslmode_name(out.sslmode)) +
                                         " needs tls.upstream.ca_file (the CA certificates that "
                                         "signed the server's certificate, e.g. the cloud "
                                         "provider's bundle)");
        }
        out.ca_file = file(t.ca_file);
        out.cert_file = file(t.cert_file);
        out.key_file = file(t.key_file);
    }

    TlsFields fields(const Field& f, Keys allowed) const {
        TlsFields out;
        reader_.walk_map(f, allowed, [&](std::string_view key, const Field& v) {
            if (key == "sslmode") out.sslmode = v;
            if (key == "cert_file") out.cert_file = v;
            if (key == "key_file") out.key_file = v;
            if (key == "ca_file") out.ca_file = v;
        });
        return out;
    }

    // A certificate is no use without its private key, and the reverse.
    void certificate_pair(const TlsFields& t, const std::string& section) const {
        if (t.cert_file && !t.key_file) {
            reader_.fail(*t.cert_file,
                         "needs " + section + ".key_file too (the certificate's private key)");
        }
        if (t.key_file && !t.cert_file) {
            reader_.fail(*t.key_file, "needs " + section +
                                          ".cert_file too (the certificate that goes with this "
                                          "key)");
        }
    }

    template <typename Mode, std::size_t N>
    Mode mode(const Field& f, const std::string& text,
              const std::pair<std::string_view, Mode> (&modes)[N], const char* allowed) const {
        for (auto [name, value] : modes) {
            if (text == name) return value;
        }
        reader_.fail(f, "expected one of " + std::string(allowed) + ", got " + describe(f.value));
    }

    // "" for a key left out; every file named is opened now, whatever the mode: the operator
    // named it, and a typo should not wait until the mode changes.
    std::string file(const std::optional<Field>& f) const {
        return f ? reader_.readable_file(*f) : "";
    }

    const FieldReader& reader_;
};

}  // namespace

void read_tls(const FieldReader& reader, const Field& f, Tls& out) {
    TlsSection(reader).read(f, out);
}

}  // namespace pgrev::config::detail
