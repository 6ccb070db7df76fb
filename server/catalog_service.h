// The catalog snapshots of every database clients use, shared by all sessions. Loading
// (libpq, blocking) runs on a thread of its own; a session that needs a snapshot waits for it
// without blocking its I/O thread, and concurrent requests for one database share one load.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "audit/catalog.h"
#include "audit/name_filter.h"
#include "config/config.h"

namespace pgrev::server {

class CatalogService {
  public:
    // Called on the requester's executor: the snapshot, or null and why not.
    using Callback = std::function<void(audit::CatalogPtr, const std::string& error)>;

    explicit CatalogService(const config::Config& config);
    ~CatalogService();

    // Waits for a load under way; call before the io_contexts it posts answers to go away.
    void stop() { loader_.join(); }

    // The current snapshot of `database`, or null when it has not been read (or was dropped).
    audit::CatalogPtr current(const std::string& database);

    // Reads the catalog again (a newer snapshot replaces the current one) and calls back.
    void refresh(const std::string& database, boost::asio::any_io_executor executor,
                 Callback callback);

    // Forgets the snapshot and reads it again in the background (a DDL through pgrev changed
    // an audited table or its partitions). `new_children`: partitions and children the DDL
    // creates, taken for children (and written to only through their audited table) until a
    // catalog read sees them: it cannot before their transaction commits.
    void invalidate(const std::string& database,
                    const std::vector<audit::ChildTable>& new_children = {});

    // Names of the partitions and inheritance children of `database`'s audited tables, of
    // their ancestors and of what their revision tables depend on, as last read (kept across
    // invalidate(): a write through one must be analysed even then); null when there are
    // none. Changes only when children_generation() does.
    std::shared_ptr<const audit::NameFilter> children_filter(const std::string& database);
    std::uint64_t children_generation() const { return children_generation_.load(); }

    // At start: prepares the revision tables of every database. Returns false (and logs why)
    // when a revision table cannot hold its table's rows; an unreachable server is only a
    // warning, since pgrev reads each catalog again when it is first needed.
    bool prepare_all_databases();

  private:
    struct Waiter {
        boost::asio::any_io_executor executor;
        Callback callback;
    };
    struct Entry {
        audit::CatalogPtr snapshot;
        // A snapshot with an unusable table is read again after this, in case whatever
        // stopped pgrev from fixing its revision table (a lock, say) has gone.
        std::chrono::steady_clock::time_point expires =
            std::chrono::steady_clock::time_point::max();
        bool loading = false;
        std::vector<Waiter> waiters;
        std::shared_ptr<const audit::NameFilter> children;
        bool load_again = false;                          // invalidated while a load was under way
        std::vector<audit::ChildTable> pending_children;  // see invalidate()
        std::vector<std::string> filter_names;            // of `children`, from the last snapshot
        // Warnings of foreign keys logged for the last snapshot: the next ones only log anew.
        std::vector<std::string> warned;
    };

    // Logs a WARNING for each foreign key action of `snapshot` that changes an audited table's
    // rows and was not logged for the entry's previous snapshot (all of them at start).
    static void warn_foreign_keys(const std::string& database, Entry& entry,
                                  const audit::CatalogSnapshot& snapshot);  // with mutex_ held

    void install(Entry& entry, const audit::CatalogPtr& snapshot);  // with mutex_ held
    void rebuild_children_filter(Entry& entry);                     // with mutex_ held

    void load(const std::string& database);

    const config::Config& config_;
    std::mutex mutex_;
    std::map<std::string, Entry> databases_;
    std::atomic<std::uint64_t> next_generation_{1};
    std::atomic<std::uint64_t> children_generation_{0};
    boost::asio::thread_pool loader_{1};
};

}  // namespace pgrev::server
