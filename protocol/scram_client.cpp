#include "protocol/scram_client.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <vector>

namespace pgrev::protocol {

namespace {

using Key = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

constexpr std::size_t kRawNonceLength = 18;  // libpq's SCRAM_RAW_NONCE_LEN
// A server chooses the iteration count, and each iteration is an HMAC pgrev computes before it
// can answer: a hostile or misconfigured server could stall a worker for minutes with a huge
// count. PostgreSQL's default is 4096 (scram_iterations); 10 million takes a few seconds.
constexpr std::uint64_t kMaxIterations = 10'000'000;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Wipes a key or a buffer when it goes out of scope, whichever way the function leaves.
struct Wipe {
    void* data;
    std::size_t size;
    ~Wipe() { OPENSSL_cleanse(data, size); }
};

// What PostgreSQL does to a password before hashing it is SASLprep (RFC 4013, pg_saslprep):
// libpq and the server use an ASCII password as it is, and for a non-ASCII one the SASLprep
// result, or the raw bytes when SASLprep fails (invalid UTF-8, prohibited characters).
// SASLprep needs Unicode tables (NFKC, unassigned code points, bidi) that pgrev does not carry,
// so pgrev uses every password as it is. That is exact for ASCII passwords, for passwords that
// SASLprep leaves unchanged (UTF-8 text already in NFKC without special spaces, soft hyphens or
// other mapped-to-nothing characters) and for those it rejects. A password SASLprep would
// change (say "I\u00ADX" or a decomposed accent) fails to authenticate through this path: the
// server answers "password authentication failed", never a wrong success.
const std::string& normalise_password(const std::string& password) {
    return password;
}

std::string_view field_value(std::string_view field, char name, const char* what) {
    if (field.size() < 2 || field[0] != name || field[1] != '=') {
        throw ScramError(std::string("malformed SCRAM message (expected attribute \"") + name +
                         "\" in " + what + ")");
    }
    return field.substr(2);
}

std::vector<std::string_view> split_fields(std::string_view message) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (true) {
        std::size_t comma = message.find(',', start);
        fields.push_back(message.substr(start, comma - start));
        if (comma == std::string_view::npos) return fields;
        start = comma + 1;
    }
}

// RFC 5802: printable ASCII except ','.
bool valid_nonce(std::string_view nonce) {
    if (nonce.empty()) return false;
    for (char c : nonce) {
        if (c < 0x21 || c > 0x7e || c == ',') return false;
    }
    return true;
}

std::uint64_t parse_iterations(std::string_view text) {
    // Digits only (from_chars alone would accept a leading '-' as an error but stop early on
    // "12x"); ten digits already exceed the bound, so no overflow is possible.
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != std::string_view::npos) {
        throw ScramError("invalid SCRAM iteration count from the server: \"" +
                         std::string(text.substr(0, 20)) + "\"");
    }
    std::uint64_t n = 0;
    std::from_chars(text.data(), text.data() + text.size(), n);
    if (n < 1 || n > kMaxIterations) {
        throw ScramError("SCRAM iteration count from the server out of range (1.." +
                         std::to_string(kMaxIterations) + "): " + std::to_string(n));
    }
    return n;
}

Key hmac(const unsigned char* key, std::size_t key_size, std::string_view data) {
    Key out{};
    unsigned int size = 0;
    if (!HMAC(EVP_sha256(), key, static_cast<int>(key_size),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
              &size) ||
        size != out.size()) {
        throw ScramError("HMAC-SHA-256 failed");
    }
    return out;
}

std::string_view as_text(const Key& key) {
    return {reinterpret_cast<const char*>(key.data()), key.size()};
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
    };
    for (; i + 3 <= bytes.size(); i += 3) {
        std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        for (int shift = 18; shift >= 0; shift -= 6)
            out.push_back(kAlphabet[(v >> shift) & 63]);
    }
    std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        std::uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

std::string base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) throw ScramError("invalid base64 (length not a multiple of 4)");
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < text.size() - padding; ++i) {
        std::size_t digit = kAlphabet.find(text[i]);
        if (digit == std::string_view::npos) throw ScramError("invalid base64 character");
        v = v << 6 | static_cast<std::uint32_t>(digit);
        if (i % 4 == 3) {
            out.push_back(static_cast<char>(v >> 16));
            out.push_back(static_cast<char>(v >> 8));
            out.push_back(static_cast<char>(v));
            v = 0;
        }
    }
    // The bits that padding leaves over must be zero, or two texts would decode the same.
    if (padding == 1) {
        if (v & 3) throw ScramError("invalid base64 padding");
        out.push_back(static_cast<char>(v >> 10));
        out.push_back(static_cast<char>(v >> 2));
    } else if (padding == 2) {
        if (v & 15) throw ScramError("invalid base64 padding");
        out.push_back(static_cast<char>(v >> 4));
    }
    return out;
}

ScramClient::ScramClient(std::string password, std::string channel_binding)
    : password_(std::move(password)), channel_binding_(std::move(channel_binding)) {}

ScramClient::~ScramClient() {
    OPENSSL_cleanse(password_.data(), password_.size());
    OPENSSL_cleanse(server_signature_.data(), server_signature_.size());
}

const char* ScramClient::mechanism() const {
    return channel_binding_.empty() ? "SCRAM-SHA-256" : "SCRAM-SHA-256-PLUS";
}

void ScramClient::set_nonce_for_testing(std::string nonce) {
    nonce_ = std::move(nonce);
}

void ScramClient::set_user_for_testing(std::string user) {
    user_ = std::move(user);
}

std::string ScramClient::client_first_message() {
    if (state_ != State::Start) throw ScramError("SCRAM client-first-message sent twice");
    if (nonce_.empty()) {
        std::array<unsigned char, kRawNonceLength> raw{};
        if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
            throw ScramError("could not generate a SCRAM nonce");
        }
        nonce_ = base64_encode({reinterpret_cast<const char*>(raw.data()), raw.size()});
    }
    // RFC 5802 saslname: ',' and '=' are escaped.
    std::string user;
    for (char c : user_) {
        if (c == ',')
            user += "=2C";
        else if (c == '=')
            user += "=3D";
        else
            user += c;
    }
    client_first_bare_ = "n=" + user + ",r=" + nonce_;
    state_ = State::SentFirst;
    std::string gs2_header = channel_binding_.empty() ? "n,," : "p=tls-server-end-point,,";
    return gs2_header + client_first_bare_;
}

std::string ScramClient::client_final_message(std::string_view server_first) {
    if (state_ != State::SentFirst) throw ScramError("SCRAM server-first-message out of order");
    state_ = State::SentFinal;  // whatever happens next, the exchange cannot be retried

    // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
    //                        ["," extensions]
    // libpq accepts exactly r, s, i; so does pgrev. A mandatory extension ("m=") is one the
    // client does not know, which RFC 5802 says must fail the exchange.
    if (server_first.starts_with("m=")) {
        throw ScramError("SCRAM server-first-message asks for an unsupported extension (m=)");
    }
    auto fields = split_fields(server_first);
    if (fields.size() != 3) {
        throw ScramError("malformed SCRAM message (server-first-message has " +
                         std::to_string(fields.size()) + " attributes, expected r, s and i)");
    }
    std::string_view nonce = field_value(fields[0], 'r', "server-first-message");
    std::string_view salt_text = field_value(fields[1], 's', "server-first-message");
    std::string_view iterations_text = field_value(fields[2], 'i', "server-first-message");

    if (!valid_nonce(nonce) || !nonce.starts_with(nonce_) || nonce.size() == nonce_.size()) {
        throw ScramError(
            "invalid SCRAM response (the server's nonce does not extend the client's)");
    }
    std::string salt = base64_decode(salt_text);
    if (salt.empty()) throw ScramError("SCRAM server-first-message has an empty salt");
    std::uint64_t iterations = parse_iterations(iterations_text);

    std::string gs2_header = channel_binding_.empty() ? "n,," : "p=tls-server-end-point,,";
    std::string final_without_proof =
        "c=" + base64_encode(gs2_header + channel_binding_) + ",r=" + std::string(nonce);
    std::string auth_message =
        client_first_bare_ + "," + std::string(server_first) + "," + final_without_proof;

    // SaltedPassword := Hi(Normalize(password), salt, i)
    Key salted{};
    Wipe wipe_salted{salted.data(), salted.size()};
    const std::string& normalised = normalise_password(password_);
    if (PKCS5_PBKDF2_HMAC(normalised.data(), static_cast<int>(normalised.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()),
                          static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                          static_cast<int>(salted.size()), salted.data()) != 1) {
        throw ScramError("PBKDF2-HMAC-SHA-256 failed");
    }
    // The password is not needed again: wipe it now, not when the session ends.
    OPENSSL_cleanse(password_.data(), password_.size());
    password_.clear();

    Key client_key = hmac(salted.data(), salted.size(), "Client Key");
    Wipe wipe_client_key{client_key.data(), client_key.size()};
    Key stored_key{};
    Wipe wipe_stored_key{stored_key.data(), stored_key.size()};
    SHA256(client_key.data(), client_key.size(), stored_key.data());
    Key client_signature = hmac(stored_key.data(), stored_key.size(), auth_message);
    Wipe wipe_client_signature{client_signature.data(), client_signature.size()};
    Key proof{};
    for (std::size_t k = 0; k < proof.size(); ++k)
        proof[k] = client_key[k] ^ client_signature[k];

    Key server_key = hmac(salted.data(), salted.size(), "Server Key");
    Wipe wipe_server_key{server_key.data(), server_key.size()};
    server_signature_ = hmac(server_key.data(), server_key.size(), auth_message);

    return final_without_proof + ",p=" + base64_encode(as_text(proof));
}

void ScramClient::verify_server_final(std::string_view server_final) {
    if (state_ != State::SentFinal) throw ScramError("SCRAM server-final-message out of order");
    state_ = State::Done;
    if (server_final.starts_with("e=")) {
        // The server's words go into a log line and an error: printable ASCII only, bounded.
        std::string reason(server_final.substr(2, 200));
        for (char& c : reason) {
            if (c < 0x20 || c > 0x7e) c = '?';
        }
        throw ScramError("the server rejected the SCRAM exchange: " + reason);
    }
    auto fields = split_fields(server_final);
    if (fields.size() != 1) {
        throw ScramError("malformed SCRAM message (garbage at end of server-final-message)");
    }
    std::string signature = base64_decode(field_value(fields[0], 'v', "server-final-message"));
    // Not secret, but compared in constant time anyway: it is the server's proof of the key.
    if (signature.size() != server_signature_.size() ||
        CRYPTO_memcmp(signature.data(), server_signature_.data(), signature.size()) != 0) {
        throw ScramError("incorrect server signature in SCRAM server-final-message");
    }
}

std::string tls_server_end_point(std::string_view certificate_der) {
    const auto* p = reinterpret_cast<const unsigned char*>(certificate_der.data());
    const unsigned char* end = p + certificate_der.size();
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        d2i_X509(nullptr, &p, static_cast<long>(certificate_der.size())), &X509_free);
    if (!cert || p != end) throw ScramError("the server's certificate is not valid DER");
    int digest_nid = NID_undef;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert.get()), &digest_nid, nullptr) ||
        digest_nid == NID_undef) {
        // Ed25519 and RSA-PSS have no single digest; RFC 5929 does not say what to hash with,
        // and PostgreSQL refuses channel binding for such certificates too.
        throw ScramError(
            "could not determine the hash of the server certificate's signature "
            "algorithm for channel binding");
    }
    // RFC 5929 section 4.1: MD5 and SHA-1 are replaced by SHA-256.
    if (digest_nid == NID_md5 || digest_nid == NID_sha1) digest_nid = NID_sha256;
    const EVP_MD* md = EVP_get_digestbynid(digest_nid);
    if (!md) throw ScramError("unknown hash for the server certificate's signature algorithm");
    std::array<unsigned char, EVP_MAX_MD_SIZE> hash{};
    unsigned int size = 0;
    // Hash the DER as the server sent it: that is what PostgreSQL hashes (X509_digest of its
    // own certificate re-encodes it, the same bytes for any valid DER).
    if (EVP_Digest(certificate_der.data(), certificate_der.size(), hash.data(), &size, md,
                   nullptr) != 1) {
        throw ScramError("could not hash the server certificate");
    }
    return std::string(reinterpret_cast<const char*>(hash.data()), size);
}

}  // namespace pgrev::protocol
