#include "protocol/backend_messages.h"

#include "protocol/byte_reader.h"
#include "protocol/pgrev_message.h"

namespace pgrev::protocol {

std::string ErrorFields::get(char code) const {
    for (const auto& [c, value] : fields) {
        if (c == code) return value;
    }
    return {};
}

std::string ErrorFields::severity() const {
    std::string v = get('V');
    return v.empty() ? get('S') : v;
}

bool ErrorFields::ends_session() const {
    std::string s = severity();
    return s == "FATAL" || s == "PANIC";
}

ErrorFields decode_error_fields(std::span<const char> body) {
    ByteReader in(body);
    ErrorFields out;
    while (true) {
        char code = static_cast<char>(in.u8());
        if (code == '\0') break;
        out.fields.emplace_back(code, std::string(in.cstring()));
    }
    in.expect_end("ErrorResponse");
    return out;
}

bool ErrorFields::set(char code, std::string value) {
    for (auto& [c, v] : fields) {
        if (c == code) {
            v = std::move(value);
            return true;
        }
    }
    return false;
}

bool ErrorFields::erase(char code) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
        if (it->first == code) {
            fields.erase(it);
            return true;
        }
    }
    return false;
}

std::string encode_error_fields(char type, const ErrorFields& error) {
    MessageBuilder b(type);
    for (const auto& [code, value] : error.fields)
        b.u8(static_cast<std::uint8_t>(code)).cstring(value);
    b.u8(0);
    return b.finish();
}

std::string encode_error_response(const PgrevError& error) {
    MessageBuilder b(backend::kErrorResponse);
    b.u8('S').cstring(error.severity);
    b.u8('V').cstring(error.severity);
    b.u8('C').cstring(error.sqlstate);
    b.u8('M').cstring(error.message);
    if (!error.detail.empty()) b.u8('D').cstring(error.detail);
    if (!error.hint.empty()) b.u8('H').cstring(error.hint);
    b.u8(0);
    return b.finish();
}

char decode_ready_for_query(std::span<const char> body) {
    ByteReader in(body);
    char status = static_cast<char>(in.u8());
    in.expect_end("ReadyForQuery");
    if (status != 'I' && status != 'T' && status != 'E') {
        throw ProtocolError("ReadyForQuery has an unknown transaction status");
    }
    return status;
}

PgrevError pgrev_fatal(std::string_view sqlstate, std::string_view text) {
    return PgrevError{"FATAL", std::string(sqlstate), pgrev_message(text), {}, {}};
}

std::string encode_parse_complete() {
    return MessageBuilder(backend::kParseComplete).finish();
}

std::string encode_ready_for_query(char transaction_status) {
    return MessageBuilder(backend::kReadyForQuery)
        .u8(static_cast<std::uint8_t>(transaction_status))
        .finish();
}

std::string decode_command_complete(std::span<const char> body) {
    ByteReader in(body);
    std::string tag(in.cstring());
    in.expect_end("CommandComplete");
    return tag;
}

std::string encode_command_complete(std::string_view tag) {
    return MessageBuilder(backend::kCommandComplete).cstring(tag).finish();
}

CancelKey decode_backend_key_data(std::span<const char> body) {
    ByteReader in(body);
    CancelKey key;
    key.process_id = in.i32();
    // 4 bytes in protocol 3.0; since 3.2 as long as the server likes, 4 to 256 bytes.
    if (in.remaining() < 4 || in.remaining() > kMaxCancelSecretSize) {
        throw ProtocolError("BackendKeyData has a cancel key of " + std::to_string(in.remaining()) +
                            " bytes (4 to 256 allowed)");
    }
    auto secret = in.bytes(in.remaining());
    key.secret.assign(secret.data(), secret.size());
    return key;
}

ParameterStatus decode_parameter_status(std::span<const char> body) {
    ByteReader in(body);
    ParameterStatus out;
    out.name = in.cstring();
    out.value = in.cstring();
    in.expect_end("ParameterStatus");
    return out;
}

std::int32_t decode_authentication_code(std::span<const char> body) {
    ByteReader in(body);
    return in.i32();  // the rest (salt, SASL data) belongs to the client
}

}  // namespace pgrev::protocol
