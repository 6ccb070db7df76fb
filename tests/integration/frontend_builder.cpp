#include "frontend_builder.h"

#include "raw_client.h"

namespace pgrev::it::fe {

namespace {

std::string be16(std::uint16_t value) {
    return std::string{static_cast<char>(value >> 8), static_cast<char>(value & 0xff)};
}

std::string message(char type, const std::string& body) {
    return type + be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

std::string cstring(const std::string& text) {
    return text + '\0';
}

}  // namespace

std::string parse(const std::string& statement, const std::string& sql,
                  const std::vector<std::uint32_t>& param_types) {
    std::string body = cstring(statement) + cstring(sql);
    body += be16(static_cast<std::uint16_t>(param_types.size()));
    for (std::uint32_t type : param_types)
        body += be32(type);
    return message('P', body);
}

std::string bind(const std::string& portal, const std::string& statement,
                 const std::vector<std::optional<std::string>>& params) {
    std::string body = cstring(portal) + cstring(statement);
    body += be16(0);  // all parameters in text
    body += be16(static_cast<std::uint16_t>(params.size()));
    for (const auto& param : params) {
        if (!param) {
            body += be32(0xffffffff);
        } else {
            body += be32(static_cast<std::uint32_t>(param->size())) + *param;
        }
    }
    body += be16(0);  // all results in text
    return message('B', body);
}

std::string describe(char kind, const std::string& name) {
    return message('D', std::string(1, kind) + cstring(name));
}

std::string execute(const std::string& portal, std::uint32_t max_rows) {
    return message('E', cstring(portal) + be32(max_rows));
}

std::string close(char kind, const std::string& name) {
    return message('C', std::string(1, kind) + cstring(name));
}

std::string sync() {
    return message('S', "");
}

std::string flush() {
    return message('H', "");
}

std::string query(const std::string& sql) {
    return message('Q', cstring(sql));
}

std::string function_call(std::uint32_t function_oid, const std::vector<std::int32_t>& args) {
    std::string body = be32(function_oid);
    body += be16(1) + be16(1);  // one format code: binary, for all arguments
    body += be16(static_cast<std::uint16_t>(args.size()));
    for (std::int32_t arg : args)
        body += be32(4) + be32(static_cast<std::uint32_t>(arg));
    body += be16(1);  // binary result
    return message('F', body);
}

}  // namespace pgrev::it::fe
