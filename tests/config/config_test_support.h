// Helpers shared by the configuration tests: loading text, checking error messages, files.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"

namespace pgrev::config::testing {

// The message of the ConfigError that loading `yaml` throws ("" if it loads).
inline std::string error_of(const std::string& yaml) {
    try {
        load_config_string(yaml, "pgrev.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

inline void check_error(const std::string& yaml, const std::string& prefix,
                        const std::string& part) {
    const std::string message = error_of(yaml);
    INFO("yaml: ", yaml);
    INFO("message: ", message);
    CHECK(message.rfind(prefix, 0) == 0);
    CHECK(message.find(part) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
}

inline Config load(const std::string& yaml) {
    return load_config_string(yaml, "pgrev.yaml");
}

// A file under the temp directory, removed when the test ends.
struct TempFile {
    std::filesystem::path path_;

    explicit TempFile(const std::string& text)
        : path_(std::filesystem::temp_directory_path() /
                ("pgrev_config_test_" + std::to_string(::getpid()) + ".yaml")) {
        std::ofstream(path_) << text;
    }
    ~TempFile() { std::filesystem::remove(path_); }
};

// A temp directory holding stand-ins for certificate files (the loader only checks that it
// can open them), removed when the test ends.
struct CertDir {
    std::filesystem::path dir_;

    CertDir()
        : dir_(std::filesystem::temp_directory_path() /
               ("pgrev_config_test_certs_" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(dir_ / "sub");
        for (const char* name :
             {"server.crt", "server.key", "ca.crt", "sub/client.crt", "sub/client.key"}) {
            std::ofstream(dir_ / name) << "-----BEGIN STAND-IN-----\n";
        }
    }
    ~CertDir() { std::filesystem::remove_all(dir_); }

    std::string operator/(const std::string& name) const { return (dir_ / name).string(); }
};

// Sets the current directory for the rest of a test, restored after.
struct InDirectory {
    std::filesystem::path saved_ = std::filesystem::current_path();
    explicit InDirectory(const std::filesystem::path& dir) { std::filesystem::current_path(dir); }
    ~InDirectory() { std::filesystem::current_path(saved_); }
};

}  // namespace pgrev::config::testing
