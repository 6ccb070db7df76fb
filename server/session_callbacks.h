// What a message handler (ClientMessages, ServerMessages) may ask of the session it belongs to,
// and tell it. ClientSession implements it over its sockets, pumps and the shared
// CatalogService; a unit test implements it with a fixed catalog and records the calls, so the
// query path runs without a socket or a server (tests/server/).
//
// Everything here is about the session's own database and connection: a handler never sees
// the pumps, the sockets or another session.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "audit/catalog.h"
#include "audit/name_filter.h"
#include "protocol/backend_messages.h"

namespace pgrev::server {

class SessionCallbacks {
  public:
    virtual ~SessionCallbacks() = default;

    // --- The catalog of the session's database ---
    // The snapshot in use now; null when it has not been read yet or was invalidated.
    virtual audit::CatalogPtr current_catalog() = 0;
    // Names of the partitions and children of audited tables (not in the server-wide name
    // filter); null when there are none. Changes only when children_generation() does, so a
    // handler asks again only then.
    virtual std::shared_ptr<const audit::NameFilter> children_filter() = 0;
    virtual std::uint64_t children_generation() const = 0;
    // A statement sent now changes an audited table's definition: forget the snapshot and
    // read it again; `new_children` are the partitions and children it creates.
    virtual void catalog_changed(const std::vector<audit::ChildTable>& new_children) = 0;
    // Stops the client-to-server direction until the catalog is read again; the session then
    // calls ClientMessages::on_catalog_loaded and scans the held message again.
    virtual void request_catalog() = 0;
    virtual const std::string& database() const = 0;

    // --- The client-to-server direction ---
    // Holds the client's messages (from the one the handler declined) until resume_client().
    virtual void suspend_client() = 0;
    virtual void resume_client() = 0;

    // --- What the handlers saw ---
    virtual void on_client_terminate() = 0;
    virtual void on_server_ready(char transaction_status) = 0;
    virtual void on_server_error(const protocol::ErrorFields& error) = 0;

    // "session 3 (127.0.0.1:5000 user=... database=...)", for the log.
    virtual std::string describe() const = 0;
};

}  // namespace pgrev::server
