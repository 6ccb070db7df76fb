#include "protocol/frontend_messages.h"

#include "protocol/byte_reader.h"

namespace pgrev::protocol {

Query decode_query(std::span<const char> body) {
    ByteReader in(body);
    Query q{in.cstring()};
    in.expect_end("Query");
    return q;
}

Parse decode_parse(std::span<const char> body) {
    ByteReader in(body);
    Parse p;
    p.statement = in.cstring();
    p.query = in.cstring();
    std::int16_t count = in.i16();
    if (count < 0) throw ProtocolError("Parse has a negative parameter count");
    // Bound before reserving: the count must fit in what the message holds.
    if (static_cast<std::size_t>(count) * 4 > in.remaining()) {
        throw ProtocolError("Parse declares more parameter types than it holds");
    }
    p.parameter_types.reserve(count);
    for (int i = 0; i < count; ++i)
        p.parameter_types.push_back(in.u32());
    in.expect_end("Parse");
    return p;
}

Bind decode_bind(std::span<const char> body) {
    ByteReader in(body);
    Bind b;
    b.portal = in.cstring();
    b.statement = in.cstring();
    return b;
}

Execute decode_execute(std::span<const char> body) {
    ByteReader in(body);
    Execute e;
    e.portal = in.cstring();
    e.max_rows = in.i32();
    in.expect_end("Execute");
    return e;
}

namespace {
TargetRef decode_target(std::span<const char> body, const char* what) {
    ByteReader in(body);
    TargetRef t;
    t.kind = static_cast<char>(in.u8());
    if (t.kind != 'S' && t.kind != 'P') {
        throw ProtocolError(std::string(what) + " names neither a statement nor a portal");
    }
    t.name = in.cstring();
    in.expect_end(what);
    return t;
}
}  // namespace

TargetRef decode_close(std::span<const char> body) {
    return decode_target(body, "Close");
}
TargetRef decode_describe(std::span<const char> body) {
    return decode_target(body, "Describe");
}

std::string encode_query(std::string_view sql) {
    return MessageBuilder(frontend::kQuery).cstring(sql).finish();
}

std::string encode_parse(const Parse& parse) {
    MessageBuilder b(frontend::kParse);
    b.cstring(parse.statement).cstring(parse.query);
    b.i16(static_cast<std::int16_t>(parse.parameter_types.size()));
    for (auto oid : parse.parameter_types)
        b.i32(static_cast<std::int32_t>(oid));
    return b.finish();
}

std::string encode_bind(std::string_view portal, std::string_view statement) {
    return MessageBuilder(frontend::kBind)
        .cstring(portal)
        .cstring(statement)
        .i16(0)  // parameter formats
        .i16(0)  // parameters
        .i16(0)  // result formats
        .finish();
}

std::string encode_bind_text(std::string_view portal, std::string_view statement,
                             const std::vector<std::string>& values) {
    MessageBuilder b(frontend::kBind);
    b.cstring(portal).cstring(statement).i16(0);  // no formats: all text
    b.i16(static_cast<std::int16_t>(values.size()));
    for (const std::string& v : values)
        b.i32(static_cast<std::int32_t>(v.size())).bytes(v);
    return b.i16(0).finish();
}

std::string encode_bind_renamed(std::span<const char> body, const Bind& bind,
                                std::string_view statement) {
    // Everything after the statement name (its terminator included) is copied as it is.
    std::size_t after_name =
        static_cast<std::size_t>(bind.statement.data() - body.data()) + bind.statement.size() + 1;
    return MessageBuilder(frontend::kBind)
        .cstring(bind.portal)
        .cstring(statement)
        .bytes(body.subspan(after_name))
        .finish();
}

std::string encode_execute(const Execute& execute) {
    return MessageBuilder(frontend::kExecute)
        .cstring(execute.portal)
        .i32(execute.max_rows)
        .finish();
}

std::string encode_close(const TargetRef& target) {
    return MessageBuilder(frontend::kClose)
        .u8(static_cast<std::uint8_t>(target.kind))
        .cstring(target.name)
        .finish();
}

std::string encode_describe(const TargetRef& target) {
    return MessageBuilder(frontend::kDescribe)
        .u8(static_cast<std::uint8_t>(target.kind))
        .cstring(target.name)
        .finish();
}

std::string encode_sync() {
    return MessageBuilder(frontend::kSync).finish();
}

}  // namespace pgrev::protocol
