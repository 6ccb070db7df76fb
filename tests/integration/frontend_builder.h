// Frontend messages built by hand for the raw protocol tests: what libpq never sends
// (Execute with a row limit, Flush, Close, FunctionCall) or sends only in one shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgrev::it::fe {

std::string parse(const std::string& statement, const std::string& sql,
                  const std::vector<std::uint32_t>& param_types = {});
// Text-format parameters (nullopt is NULL), text-format results.
std::string bind(const std::string& portal, const std::string& statement,
                 const std::vector<std::optional<std::string>>& params = {});
std::string describe(char kind, const std::string& name);  // kind 'S' or 'P'
std::string execute(const std::string& portal, std::uint32_t max_rows = 0);
std::string close(char kind, const std::string& name);
std::string sync();
std::string flush();
std::string query(const std::string& sql);
// FunctionCall with binary int4 arguments and a binary result.
std::string function_call(std::uint32_t function_oid, const std::vector<std::int32_t>& args);

}  // namespace pgrev::it::fe
