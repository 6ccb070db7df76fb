#include "tls_certs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace pgrev::it {

namespace {

const char* const kOpenssl = "/usr/bin/openssl";

// Our own configuration, so the host's openssl.cnf (its default extensions) changes nothing.
const char* const kOpensslConf =
    "[req]\n"
    "distinguished_name = dn\n"
    "[dn]\n"
    "[ca]\n"
    "basicConstraints = critical, CA:TRUE\n"
    "keyUsage = critical, keyCertSign, cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[server]\n"
    "basicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
    "subjectKeyIdentifier = hash\n"
    "authorityKeyIdentifier = keyid\n"
    "[wrong_name]\n"
    "basicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:other.example\n"
    "[client]\n"
    "basicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature\n"
    "extendedKeyUsage = clientAuth\n"
    "subjectKeyIdentifier = hash\n"
    "authorityKeyIdentifier = keyid\n";

// Runs openssl with `args` split at spaces (the files are in a temp dir of ours, whose names
// have none: Maker checks).
CommandResult openssl(const std::string& args) {
    std::vector<std::string> argv{kOpenssl};
    for (std::size_t at = 0; at < args.size();) {
        std::size_t next = args.find(' ', at);
        if (next == std::string::npos) next = args.size();
        if (next > at) argv.push_back(args.substr(at, next - at));
        at = next + 1;
    }
    CommandResult result = run_command(argv, {}, std::chrono::seconds(30));
    if (result.exit_status != 0) {
        throw std::runtime_error("openssl failed: openssl " + args + "\n" + result.describe());
    }
    return result;
}

// EC P-256 keys: a fraction of the time RSA keys take to make.
const std::string kNewKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

class Maker {
  public:
    explicit Maker(std::string dir) : dir_(std::move(dir)), conf_(dir_ + "/openssl.cnf") {
        if (dir_.find(' ') != std::string::npos) {
            throw std::invalid_argument("certificate dir with a space: " + dir_);
        }
        write_file(conf_, kOpensslConf);
    }

    std::string path(const std::string& name) const { return dir_ + "/" + name; }

    // A self-signed CA certificate; its key stays next to it for signing. Names here (like
    // every argument of openssl()) have no spaces.
    std::string ca(const std::string& name, const std::string& common_name) {
        openssl("req -config " + conf_ + " -x509 -new " + kNewKey + " -keyout " +
                path(name + ".key") + " -out " + path(name + ".crt") + " -days 3650 -subj /CN=" +
                common_name + " -extensions ca -set_serial " + std::to_string(++serial_));
        private_key(path(name + ".key"));
        return path(name + ".crt");
    }

    // A certificate signed by the CA `ca_name` with the extensions of `section` (server|client).
    CertAndKey leaf(const std::string& name, const std::string& common_name,
                    const std::string& ca_name, const std::string& section) {
        CertAndKey files = request(name, common_name);
        std::string csr = path(name + ".csr");
        openssl("x509 -req -in " + csr + " -CA " + path(ca_name + ".crt") + " -CAkey " +
                path(ca_name + ".key") + " -set_serial " + std::to_string(++serial_) +
                " -days 3650 -extfile " + conf_ + " -extensions " + section + " -out " +
                files.cert);
        std::filesystem::remove(csr);
        return files;
    }

    // A server certificate of the CA `ca_name` valid only in 2020: `openssl x509` cannot
    // backdate (before OpenSSL 3.4), `openssl ca` can, with a database of its own.
    CertAndKey expired_leaf(const std::string& name, const std::string& ca_name) {
        CertAndKey files = request(name, "localhost");
        std::string csr = path(name + ".csr");
        std::string db = path(name + "-ca");
        std::filesystem::create_directories(db);
        write_file(db + "/index.txt", "");
        write_file(db + "/serial", std::to_string(++serial_) + "\n");  // read as hex
        write_file(db + "/ca.cnf", "[ca]\ndefault_ca = backdating\n[backdating]\ndatabase = " + db +
                                       "/index.txt\nnew_certs_dir = " + db + "\nserial = " + db +
                                       "/serial\ndefault_md = sha256\npolicy = any\n"
                                       "unique_subject = no\n[any]\ncommonName = supplied\n");
        openssl("ca -batch -config " + db + "/ca.cnf -cert " + path(ca_name + ".crt") +
                " -keyfile " + path(ca_name + ".key") + " -in " + csr + " -out " + files.cert +
                " -notext -startdate 20200101000000Z -enddate 20201231000000Z -extfile " + conf_ +
                " -extensions server");
        std::filesystem::remove(csr);
        std::filesystem::remove_all(db);
        return files;
    }

  private:
    // A new key (mode 0600) and a certificate request for it in `name`.csr.
    CertAndKey request(const std::string& name, const std::string& common_name) {
        CertAndKey files{path(name + ".crt"), path(name + ".key")};
        openssl("req -config " + conf_ + " -new " + kNewKey + " -keyout " + files.key + " -out " +
                path(name + ".csr") + " -subj /CN=" + common_name);
        private_key(files.key);
        return files;
    }

    static void private_key(const std::string& key) {
        if (chmod(key.c_str(), 0600) != 0) throw std::runtime_error("chmod 0600 " + key);
    }

    std::string dir_;
    std::string conf_;
    int serial_ = 4096;  // distinct serials, so a rotated certificate is told apart
};

void give_to(const std::optional<RunAs>& owner, const std::string& path) {
    if (!owner) return;
    if (chown(path.c_str(), owner->uid, owner->gid) != 0) {
        throw std::runtime_error("chown " + path + " to " + owner->name + " failed");
    }
}

// What follows "serial=" in `openssl x509 -serial` output.
std::string serial_of(const std::string& output) {
    std::size_t at = output.find("serial=");
    if (at == std::string::npos) throw std::runtime_error("no serial in: " + output);
    std::size_t end = output.find('\n', at);
    return output.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
}

}  // namespace

TlsCertificates make_tls_certificates(const std::string& dir, const std::string& client_role,
                                      const std::optional<RunAs>& server_owner) {
    std::filesystem::create_directories(dir);
    Maker make(dir);
    TlsCertificates certs;
    certs.dir = dir;
    certs.ca = make.ca("ca", "pgrev-test-CA");
    certs.wrong_ca = make.ca("wrong-ca", "pgrev-test-CA-that-signed-nothing-here");
    certs.client_ca = make.ca("client-ca", "pgrev-test-client-CA");
    certs.server = make.leaf("server", "localhost", "ca", "server");
    certs.pgrev = make.leaf("pgrev", "localhost", "ca", "server");
    certs.pgrev_rotated = make.leaf("pgrev-rotated", "localhost", "ca", "server");
    certs.wrong_name = make.leaf("wrong-name", "other.example", "ca", "wrong_name");
    certs.expired = make.expired_leaf("expired", "ca");
    certs.good_client = make.leaf("good-client", client_role, "client-ca", "client");
    certs.bad_client = make.leaf("bad-client", client_role, "wrong-ca", "client");
    // PostgreSQL refuses a key that others can read and needs to own it (or root with 0640).
    give_to(server_owner, certs.server.key);
    give_to(server_owner, certs.server.cert);
    if (server_owner) give_to(server_owner, dir);
    return certs;
}

std::string certificate_serial(const std::string& cert_file) {
    return serial_of(openssl("x509 -in " + cert_file + " -noout -serial").out);
}

std::string presented_serial(std::uint16_t port) {
    // s_client prints the peer's certificate as PEM; stdin is /dev/null, so it ends after the
    // handshake. Its exit status is not used: the certificate printed is what counts.
    CommandResult shown =
        run_command({kOpenssl, "s_client", "-starttls", "postgres", "-connect",
                     "127.0.0.1:" + std::to_string(port), "-servername", "localhost"},
                    {}, std::chrono::seconds(10));
    const std::string begin = "-----BEGIN CERTIFICATE-----";
    const std::string end = "-----END CERTIFICATE-----";
    std::size_t from = shown.out.find(begin);
    std::size_t to = shown.out.find(end, from == std::string::npos ? 0 : from);
    if (from == std::string::npos || to == std::string::npos) {
        throw std::runtime_error("no certificate from 127.0.0.1:" + std::to_string(port) + "\n" +
                                 shown.describe());
    }
    char name[] = "/tmp/pgrev-peer-cert-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    close(fd);
    write_file(name, shown.out.substr(from, to + end.size() - from) + "\n");
    std::string serial;
    try {
        serial = certificate_serial(name);
    } catch (...) {
        std::filesystem::remove(name);
        throw;
    }
    std::filesystem::remove(name);
    return serial;
}

}  // namespace pgrev::it
