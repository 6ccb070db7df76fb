// File names in the configuration (tls.*): internal to config/, no YAML here.
#pragma once

#include <filesystem>
#include <string>

namespace pgrev::config::detail {

// `name` as an absolute, normalised path; a relative name is taken from `base_dir` (the
// configuration file's directory), so pgrev finds its files whatever directory it starts in.
std::string resolve_file_name(const std::filesystem::path& base_dir, const std::string& name);

// Why pgrev could not read the file at `path` ("No such file or directory", "is a
// directory"), or "" when it can. Only opens it: what is inside is checked by whoever loads it.
std::string unreadable_reason(const std::string& path);

}  // namespace pgrev::config::detail
