#include <doctest/doctest.h>

#include <string>

#include "protocol/scram_client.h"

using namespace pgrev::protocol;

namespace {

// RFC 7677 section 3: user "user", password "pencil".
constexpr const char* kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr const char* kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

std::string from_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// Self-signed P-256 certificates (CN=pgrev-scram-test), made once with
//   openssl req -x509 -new -key k.pem -sha256|-sha384|-sha1 -days 36500 -subj /CN=pgrev-scram-test
//   openssl req -x509 -new -key ed25519.pem ...        (Ed25519: no digest of its own)
// The expected hashes are `openssl x509 -outform der | openssl dgst -sha256` (-sha384).
constexpr std::string_view kCertEcdsaSha256 =
    "3082018d30820133a00302010202144db2f33a80bb1469a86301c5d52d7404704533b6300a06082a8648ce3d"
    "040302301b3119301706035504030c1070677265762d736372616d2d746573743020170d3236313230313132"
    "323834315a180f32313236313130373132323834315a301b3119301706035504030c1070677265762d736372"
    "616d2d746573743059301306072a8648ce3d020106082a8648ce3d0301070342000458d0263ddc2777c5f0f7"
    "bd93a472a3575581a18ae40fa2bd1d22c36733533424349213d2e0588cc1cb05cb053d0cc50ecb306813a3dd"
    "e5378ea17f4b97c5b47ea3533051301d0603551d0e041604149cedcfa68482c591f8ff48460b48a92cb972a2"
    "7a301f0603551d230418301680149cedcfa68482c591f8ff48460b48a92cb972a27a300f0603551d130101ff"
    "040530030101ff300a06082a8648ce3d040302034800304502200acf9c18ddea6851106c6a85a1bb7fbe71e9"
    "8867d1a13137eb1d5e6f85d94a91022100d25822e6e968c6c8fd2d1cf7de22b7df3a1509b4ffb345834b3ba8"
    "0df1855147";
constexpr std::string_view kCertEcdsaSha256Sha256 =
    "f8156b38b8e64e5a1dc040ae8c7ba0eba4c300c0de0032ec9de515f972a9a55b";

constexpr std::string_view kCertEcdsaSha384 =
    "3082018d30820133a00302010202141747aaa86728b0f1c2155e7b1321dd33920b268b300a06082a8648ce3d"
    "040303301b3119301706035504030c1070677265762d736372616d2d746573743020170d3236313230313132"
    "323834325a180f32313236313130373132323834325a301b3119301706035504030c1070677265762d736372"
    "616d2d746573743059301306072a8648ce3d020106082a8648ce3d0301070342000458d0263ddc2777c5f0f7"
    "bd93a472a3575581a18ae40fa2bd1d22c36733533424349213d2e0588cc1cb05cb053d0cc50ecb306813a3dd"
    "e5378ea17f4b97c5b47ea3533051301d0603551d0e041604149cedcfa68482c591f8ff48460b48a92cb972a2"
    "7a301f0603551d230418301680149cedcfa68482c591f8ff48460b48a92cb972a27a300f0603551d130101ff"
    "040530030101ff300a06082a8648ce3d04030303480030450220256515268c72e27dfe72cd4757963799a66c"
    "2ba7eb8ab6de2e2073551ee2c947022100c415fa5571d77761151c79e69c9c5266a0e1d44f4856e95ed4eebe"
    "89ab02f48e";
constexpr std::string_view kCertEcdsaSha384Sha384 =
    "e5842afea48f99a2cee49fffe97e687db45dbe6b74a91e882aa0ca58a1a8112162b0e047ff26a35ceba264cc"
    "4d1773f3";

constexpr std::string_view kCertEcdsaSha1 =
    "3082018c30820132a00302010202140ba2a315aa302418477b22d54ebce366bfc4fe39300906072a8648ce3d"
    "0401301b3119301706035504030c1070677265762d736372616d2d746573743020170d323631323031313232"
    "3834325a180f32313236313130373132323834325a301b3119301706035504030c1070677265762d73637261"
    "6d2d746573743059301306072a8648ce3d020106082a8648ce3d0301070342000458d0263ddc2777c5f0f7bd"
    "93a472a3575581a18ae40fa2bd1d22c36733533424349213d2e0588cc1cb05cb053d0cc50ecb306813a3dde5"
    "378ea17f4b97c5b47ea3533051301d0603551d0e041604149cedcfa68482c591f8ff48460b48a92cb972a27a"
    "301f0603551d230418301680149cedcfa68482c591f8ff48460b48a92cb972a27a300f0603551d130101ff04"
    "0530030101ff300906072a8648ce3d0401034900304602210094433a9899d489790603859e589dcb1a80dd8f"
    "a7b054b36ca69816e69e93b92702210094f299ecb394c9b36aa92e37f8d549312a53938b7ef1cedc496e644c"
    "9d796b8b";
constexpr std::string_view kCertEcdsaSha1Sha256 =
    "842cc4ccb49eb2f3666d87deb2dd9758d7dfd8ab556440c18898e8216a5802be";

constexpr std::string_view kCertEd25519 =
    "3082014c3081ffa0030201020214662593703381232ef7ac7498bd419173ce62197f300506032b6570301b31"
    "19301706035504030c1070677265762d736372616d2d746573743020170d3236313230313132323834365a18"
    "0f32313236313130373132323834365a301b3119301706035504030c1070677265762d736372616d2d746573"
    "74302a300506032b657003210037d1319f8ed27d8e19d64cb588215946d972c610845df35d4eae0c59b76509"
    "a5a3533051301d0603551d0e04160414519e463dc3365e6be3df382563d3514a063d1de6301f0603551d2304"
    "1830168014519e463dc3365e6be3df382563d3514a063d1de6300f0603551d130101ff040530030101ff3005"
    "06032b65700341005b717f3c10844969c9dd049c5077ceee419b53364c4737aeb4d5743cd1085641170e524e"
    "089391ef81551f38d523ef2ea56900885b2333127a0d048441067c0b";

// Sends the client's first message with the RFC's nonce.
void start(ScramClient& client) {
    client.set_nonce_for_testing(kClientNonce);
    (void)client.client_first_message();
}

}  // namespace

TEST_SUITE("protocol") {
    TEST_CASE("SCRAM-SHA-256: the RFC 7677 test vector, n=user") {
        ScramClient client("pencil", "");
        client.set_nonce_for_testing(kClientNonce);
        client.set_user_for_testing("user");
        CHECK(std::string(client.mechanism()) == "SCRAM-SHA-256");
        CHECK(client.client_first_message() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        CHECK(client.client_final_message(kServerFirst) ==
              "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
              "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        CHECK_NOTHROW(client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    }

    // Expected values for the empty user name libpq sends: computed once with Python's hashlib
    // (pbkdf2_hmac, sha256) and hmac, by a script that first reproduced the RFC vector above.
    TEST_CASE("SCRAM-SHA-256: with the empty user name libpq sends") {
        ScramClient client("pencil", "");
        client.set_nonce_for_testing(kClientNonce);
        CHECK(client.client_first_message() == "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
        CHECK(client.client_final_message(kServerFirst) ==
              "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
              "p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=");
        CHECK_NOTHROW(client.verify_server_final("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg="));
    }

    TEST_CASE("SCRAM-SHA-256-PLUS: gs2 header and c= carry tls-server-end-point data") {
        std::string binding = tls_server_end_point(from_hex(kCertEcdsaSha256));
        ScramClient client("pencil", binding);
        client.set_nonce_for_testing(kClientNonce);
        CHECK(std::string(client.mechanism()) == "SCRAM-SHA-256-PLUS");
        CHECK(client.client_first_message() == "p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO");
        std::string final = client.client_final_message(kServerFirst);
        // c= is base64("p=tls-server-end-point,," + SHA-256 of the certificate's DER).
        CHECK(final.starts_with("c=" + base64_encode("p=tls-server-end-point,," + binding) + ","));
        CHECK(final ==
              "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws+BVrOLjmTlodwECujHug66TDAMDeADLsneUV+XKppVs=,"
              "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
              "p=zRNsW6+3c2E1NbFqMkOP6CMRAIJpD7d1e8zWt5CYafU=");
        CHECK_NOTHROW(client.verify_server_final("v=DccrTO+Uov5+Oeqm/QHu7y1OeIGRctbBsQwaupiFAAY="));
    }

    TEST_CASE("SCRAM: a non-ASCII password is used as its UTF-8 bytes") {
        // "pässwörd" is already NFKC, so SASLprep leaves it as it is: PostgreSQL 15 stored the
        // same StoredKey for CREATE ROLE ... PASSWORD 'pässwörd' as Python computes from these
        // bytes (checked once); the proof below is Python's for the RFC's salt and nonces.
        ScramClient client("p\xc3\xa4ssw\xc3\xb6rd", "");
        start(client);
        CHECK(client.client_final_message(kServerFirst) ==
              "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
              "p=p45sT3IzJIZAhH3e3k7+nQUG8s3REE6aihsNfY6YJLo=");
    }

    TEST_CASE("SCRAM: a random nonce is 18 bytes in base64, different each time") {
        ScramClient a("pencil", ""), b("pencil", "");
        std::string first_a = a.client_first_message(), first_b = b.client_first_message();
        REQUIRE(first_a.starts_with("n,,n=,r="));
        CHECK(first_a.size() == 8 + 24);
        CHECK(base64_decode(first_a.substr(8)).size() == 18);
        CHECK(first_a != first_b);
    }

    TEST_CASE("SCRAM: a server nonce that does not extend the client's is refused") {
        auto refused = [](std::string server_first) {
            ScramClient client("pencil", "");
            start(client);
            CHECK_THROWS_AS(client.client_final_message(server_first), ScramError);
        };
        std::string rest = ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        refused("r=XOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" + rest);
        refused("r=rOprNGfwEbeRWgbNEkq" + rest);        // shorter
        refused("r=rOprNGfwEbeRWgbNEkqO" + rest);       // nothing added
        refused("r=rOprNGfwEbeRWgbNEkqO\x01x" + rest);  // not printable
    }

    TEST_CASE("SCRAM: a malformed server-first-message is refused") {
        auto refused = [](std::string server_first) {
            ScramClient client("pencil", "");
            start(client);
            CHECK_THROWS_AS(client.client_final_message(server_first), ScramError);
        };
        std::string r = "r=rOprNGfwEbeRWgbNEkqOxyz";
        refused("m=ext," + r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");  // mandatory extension
        refused(r + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=extra");     // garbage at the end
        refused(r + ",i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==");             // wrong order
        refused(r + ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096");              // salt not base64
        refused(r + ",s=W22ZaJ0SNY7so!sUEjb6gQ==,i=4096");
        refused(r + ",s=,i=4096");  // empty salt
        refused("");
    }

    TEST_CASE("SCRAM: the iteration count must be between 1 and 10 million") {
        auto with_iterations = [](std::string count) {
            ScramClient client("pencil", "");
            start(client);
            return client.client_final_message(
                "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=" + count);
        };
        CHECK_NOTHROW(with_iterations("1"));
        for (const char* bad :
             {"0", "10000001", "99999999999999999999", "-1", "+5", "12x", "", " 4"}) {
            CAPTURE(bad);
            CHECK_THROWS_AS(with_iterations(bad), ScramError);
        }
    }

    TEST_CASE("SCRAM: a wrong server signature or an e= error is refused") {
        auto final_refused = [](std::string server_final) {
            ScramClient client("pencil", "");
            start(client);
            (void)client.client_final_message(kServerFirst);
            CHECK_THROWS_AS(client.verify_server_final(server_final), ScramError);
        };
        // The n=user vector's signature does not match the n= exchange.
        final_refused("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        final_refused("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOc=");  // last bits differ
        final_refused("v=3HO6Qt1M4MKJrmlKaoOqLAI0");                      // too short
        final_refused("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=,x=1");
        final_refused("e=invalid-proof");
        ScramClient rejected("pencil", "");
        start(rejected);
        (void)rejected.client_final_message(kServerFirst);
        CHECK_THROWS_WITH_AS(rejected.verify_server_final("e=invalid-proof\n\x1b[2J"),
                             "the server rejected the SCRAM exchange: invalid-proof??[2J",
                             ScramError);
        final_refused("");
        // A right signature under another password's exchange is still wrong.
        ScramClient other("pencils", "");
        start(other);
        (void)other.client_final_message(kServerFirst);
        CHECK_THROWS_WITH_AS(
            other.verify_server_final("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg="),
            "incorrect server signature in SCRAM server-final-message", ScramError);
    }

    TEST_CASE("SCRAM: messages out of order are refused") {
        ScramClient client("pencil", "");
        CHECK_THROWS_AS(client.client_final_message(kServerFirst), ScramError);
        CHECK_THROWS_AS(client.verify_server_final("v=x"), ScramError);
        client.set_nonce_for_testing(kClientNonce);
        (void)client.client_first_message();
        CHECK_THROWS_AS(client.client_first_message(), ScramError);
        CHECK_THROWS_AS(client.client_final_message("r=bad"), ScramError);
        // A failed server-first ends the exchange: no second try with the same client.
        CHECK_THROWS_AS(client.client_final_message(kServerFirst), ScramError);
    }

    TEST_CASE("tls-server-end-point hashes the DER with the signature's hash, SHA-256 for SHA-1") {
        CHECK(to_hex(tls_server_end_point(from_hex(kCertEcdsaSha256))) == kCertEcdsaSha256Sha256);
        CHECK(to_hex(tls_server_end_point(from_hex(kCertEcdsaSha384))) == kCertEcdsaSha384Sha384);
        CHECK(to_hex(tls_server_end_point(from_hex(kCertEcdsaSha1))) == kCertEcdsaSha1Sha256);
    }

    TEST_CASE("tls-server-end-point refuses bad DER and a signature without a hash") {
        std::string der = from_hex(kCertEcdsaSha256);
        CHECK_THROWS_AS(tls_server_end_point(""), ScramError);
        CHECK_THROWS_AS(tls_server_end_point("not a certificate"), ScramError);
        CHECK_THROWS_AS(tls_server_end_point(der.substr(0, der.size() - 1)), ScramError);
        CHECK_THROWS_AS(tls_server_end_point(der + "x"), ScramError);  // trailing bytes
        CHECK_THROWS_AS(tls_server_end_point(from_hex(kCertEd25519)), ScramError);
    }

    TEST_CASE("base64 round trip and strict decoding") {
        for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
            CHECK(base64_decode(base64_encode(s)) == s);
        }
        CHECK(base64_encode("foobar") == "Zm9vYmFy");
        CHECK(base64_encode("fooba") == "Zm9vYmE=");
        CHECK(base64_encode("foob") == "Zm9vYg==");
        CHECK(base64_encode(std::string("\xff\xfe", 2)) == "//4=");
        for (const char* bad :
             {"Zm9", "Zm9vY===", "Zm9vYh==", "Zm9vYmF=", "Zm9v\nYmFy", "====", "Zm=v"}) {
            CAPTURE(bad);
            CHECK_THROWS_AS(base64_decode(bad), ScramError);
        }
    }
}
