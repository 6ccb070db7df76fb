// The query path of server/ without sockets: ClientMessages and ServerMessages fed whole
// messages through protocol::MessageStream, as the pumps feed them, with a fake session that
// holds a fixed catalog and records what the handlers asked of it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/backend_messages.h"
#include "protocol/byte_reader.h"
#include "protocol/frontend_messages.h"
#include "protocol/message_stream.h"
#include "server/catalog_service.h"
#include "server/client_messages.h"
#include "server/pump.h"
#include "server/query_state.h"
#include "server/server_messages.h"
#include "server/server_state.h"
#include "server/session_callbacks.h"
#include "server/tls_contexts.h"
#include "tests/audit/rewrite_fixture.h"

namespace pgrev::test {

class FakeSession : public server::SessionCallbacks {
  public:
    audit::CatalogPtr catalog;  // what current_catalog() answers: null until "read"

    audit::CatalogPtr current_catalog() override { return catalog; }
    std::shared_ptr<const audit::NameFilter> children_filter() override { return nullptr; }
    std::uint64_t children_generation() const override { return 0; }
    void catalog_changed(const std::vector<audit::ChildTable>&) override { ++catalog_changes; }
    void request_catalog() override { ++catalog_requests; }
    const std::string& database() const override { return database_; }
    void suspend_client() override { suspended = true; }
    void resume_client() override { suspended = false; }
    void on_client_terminate() override { terminated = true; }
    void on_server_ready(char transaction_status) override {
        readies.push_back(transaction_status);
    }
    void on_server_error(const protocol::ErrorFields& error) override {
        errors.push_back(error.sqlstate());
    }
    std::string describe() const override { return "test session"; }

    int catalog_requests = 0;
    int catalog_changes = 0;
    bool suspended = false;
    bool terminated = false;
    std::string readies;              // each ReadyForQuery's status, in order
    std::vector<std::string> errors;  // each ErrorResponse's SQLSTATE, in order

  private:
    std::string database_ = "app";
};

// pgrev's configuration for the catalog of rewrite_fixture.h: reservation and billing.invoice.
inline config::Config reservation_config() {
    config::Config c;
    c.upstream = {"127.0.0.1", 5432};
    c.tls.upstream.sslmode = config::UpstreamTlsMode::Disable;
    c.audit.tables = reservation_tables();
    return c;
}

// A message as it travels: type, length, body.
inline std::string message(char type, std::string_view body) {
    std::string out(1, type);
    std::uint32_t length = static_cast<std::uint32_t>(body.size() + 4);
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((length >> shift) & 0xff));
    out.append(body);
    return out;
}

inline std::string parse_message(std::string_view name, std::string_view sql) {
    protocol::Parse p;
    p.statement = name;
    p.query = sql;
    return protocol::encode_parse(p);
}

inline std::string execute_message(std::string_view portal = "") {
    protocol::Execute e;
    e.portal = portal;
    return protocol::encode_execute(e);
}

// A Bind of the unnamed portal to `statement` with one text parameter.
inline std::string bind_with_parameter(std::string_view statement, std::string_view value) {
    std::string body;
    body += '\0';  // portal ""
    body.append(statement);
    body += '\0';
    body.append({'\0', '\0'});  // no parameter format codes
    body.append({'\0', '\1'});  // one parameter
    std::uint32_t n = static_cast<std::uint32_t>(value.size());
    for (int shift = 24; shift >= 0; shift -= 8)
        body.push_back(static_cast<char>((n >> shift) & 0xff));
    body.append(value);
    body.append({'\0', '\0'});  // no result format codes
    return message(protocol::frontend::kBind, body);
}

inline std::string error_message(const std::vector<std::pair<char, std::string>>& fields) {
    protocol::ErrorFields e;
    e.fields = fields;
    return protocol::encode_error_fields(protocol::backend::kErrorResponse, e);
}

// One type and body per message of `bytes`, which must be whole messages.
struct Message {
    char type;
    std::string body;
};
inline std::vector<Message> split(const std::string& bytes) {
    std::vector<Message> out;
    for (std::size_t at = 0; at + protocol::kHeaderSize <= bytes.size();) {
        std::uint32_t length = protocol::read_u32_be(bytes.data() + at + 1);
        out.push_back({bytes[at], bytes.substr(at + protocol::kHeaderSize, length - 4)});
        at += 1 + length;
    }
    return out;
}

class HandlerHarness {
  public:
    HandlerHarness() {
        session.catalog = std::make_shared<audit::CatalogSnapshot>(reservation_catalog());
    }

    struct Scan {
        std::string sent;  // what goes on, in order
        protocol::MessageStream::Status status;
        std::size_t consumed;
    };

    // The client's bytes through ClientMessages; what they become on the way to the server.
    Scan from_client(const std::string& bytes) { return scan(client_stream, client, bytes); }
    // The server's bytes through ServerMessages; what the client gets.
    Scan from_server(const std::string& bytes) { return scan(server_stream, server, bytes); }

    config::Config config = reservation_config();
    server::CatalogService catalogs{config};
    server::TlsStore tls{config.tls};
    server::ServerState server_state{config, catalogs, tls};
    FakeSession session;
    server::QueryState state;
    server::ClientMessages client{session, state, server_state};
    server::ServerMessages server{session, state};

  private:
    static Scan scan(protocol::MessageStream& stream, protocol::MessageHandler& handler,
                     const std::string& bytes) {
        protocol::Output out;
        auto result = stream.scan({bytes.data(), bytes.size()}, handler, out);
        Scan s{{}, result.status, result.consumed};
        for (const auto& segment : out.segments())
            s.sent.append(segment.data(), segment.size());
        return s;
    }

    protocol::MessageStream client_stream{1 << 20};
    protocol::MessageStream server_stream{std::size_t{1} << 31};
};

}  // namespace pgrev::test
