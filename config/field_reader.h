// Reading values out of the YAML tree, with errors "FILE:LINE: KEY: what": what every section
// of the configuration shares. Internal to config/, the only part of pgrev that sees YAML.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "config/text.h"

namespace pgrev::config::detail {

using Keys = std::initializer_list<std::string_view>;

// A value in the file with what an error about it needs: where it is and what it is called.
struct Field {
    YAML::Node value;
    std::string path;  // "limits.max_clients", "audit.tables[2].delete"
    int line = 1;      // 1-based
};

std::string join(Keys keys);
// A value as an error message shows it: "a map", "nothing", or the text in quotes, cut short.
std::string describe(const YAML::Node& node);

class FieldReader {
  public:
    // `source`: the file's name in messages; `base_dir`: where relative file names point from.
    FieldReader(std::string source, std::filesystem::path base_dir)
        : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

    [[noreturn]] void fail(int line, const std::string& path, const std::string& what) const;
    [[noreturn]] void fail(const Field& f, const std::string& what) const;

    // yaml-cpp marks a missing value ("key:" alone) on the following line; the key's line is
    // where the operator has to look, so such nodes take `fallback`.
    static int line_of(const YAML::Node& node, int fallback);

    // Calls visit(key, field) per entry after checking that every key is allowed and appears
    // once. A section left empty ("limits:" with everything commented out) means defaults.
    template <typename Visit>
    void walk_map(const Field& map, Keys allowed, Visit visit) const {
        if (map.value.IsNull()) return;
        if (!map.value.IsMap()) {
            fail(map, "expected a map with keys " + join(allowed) + ", got " + describe(map.value));
        }
        std::map<std::string, int> seen;  // key -> line
        for (const auto& entry : map.value) {
            const int key_line = line_of(entry.first, map.line);
            if (!entry.first.IsScalar()) fail(key_line, map.path, "a key must be a plain word");
            const std::string key = entry.first.Scalar();
            const std::string path = map.path.empty() ? key : map.path + "." + key;
            bool known = false;
            std::string suggestion;
            for (std::string_view a : allowed) {
                known = known || a == key;
                if (suggestion.empty() && edit_distance(lower_ascii(key), a) <= 2) {
                    suggestion = "did you mean " + std::string(a) + "? ";
                }
            }
            if (!known) {
                fail(key_line, path,
                     "unknown key; " + suggestion + "allowed " +
                         (map.path.empty() ? "top-level keys" : "keys under " + map.path) + ": " +
                         join(allowed));
            }
            if (auto [it, fresh] = seen.emplace(key, key_line); !fresh) {
                fail(key_line, path,
                     "appears twice (first on line " + std::to_string(it->second) + ")");
            }
            visit(key, Field{entry.second, path, line_of(entry.second, key_line)});
        }
    }

    std::string scalar(const Field& f, const std::string& expected) const;
    std::uint64_t count(const Field& f, std::uint64_t min, std::uint64_t max) const;
    bool boolean(const Field& f) const;
    std::size_t byte_size(const Field& f, std::uint64_t min, std::uint64_t max) const;
    std::chrono::milliseconds duration(const Field& f, bool zero_means_never) const;
    // The absolute name of the file `f` names, after checking that pgrev can open it: a
    // missing key file is a mistake to report at start, not at the first client's handshake.
    std::string readable_file(const Field& f) const;

  private:
    std::string source_;
    std::filesystem::path base_dir_;
};

}  // namespace pgrev::config::detail
