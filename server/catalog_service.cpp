#include "server/catalog_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>

#include "audit/catalog_loader.h"

namespace pgrev::server {

namespace asio = boost::asio;

namespace {

const char* fk_action_name(char action) {
    switch (action) {
        case 'c':
            return "CASCADE";
        case 'n':
            return "SET NULL";
        case 'd':
            return "SET DEFAULT";
        default:
            return nullptr;  // NO ACTION, RESTRICT: the audited rows stay as they are
    }
}

// One line per action of `fk` that changes its audited table's rows, e.g. "foreign key
// reservation_room_fk of public.reservation: ON DELETE CASCADE from public.room changes ...".
std::vector<std::string> foreign_key_warnings(const audit::ForeignKeyLink& fk) {
    std::vector<std::string> out;
    for (auto [event, action] : {std::pair{"DELETE", fk.on_delete}, {"UPDATE", fk.on_update}}) {
        const char* name = fk_action_name(action);
        if (name == nullptr) continue;
        out.push_back(fmt::format(
            "foreign key {} of {}.{}: ON {} {} from {}.{} changes {}.{} without revisions "
            "(pgrev verify finds such changes)",
            fk.constraint, fk.schema, fk.table, event, name, fk.ref_schema, fk.ref_table, fk.schema,
            fk.table));
    }
    return out;
}

}  // namespace

void CatalogService::warn_foreign_keys(const std::string& database, Entry& entry,
                                       const audit::CatalogSnapshot& snapshot) {
    std::vector<std::string> now;
    for (const auto& fk : snapshot.links().foreign_keys) {
        for (auto& line : foreign_key_warnings(fk))
            now.push_back(std::move(line));
    }
    for (const auto& line : now) {
        if (std::find(entry.warned.begin(), entry.warned.end(), line) == entry.warned.end()) {
            spdlog::warn("database \"{}\": {}", database, line);
        }
    }
    entry.warned = std::move(now);
}

CatalogService::CatalogService(const config::Config& config) : config_(config) {}

CatalogService::~CatalogService() {
    loader_.join();
}

audit::CatalogPtr CatalogService::current(const std::string& database) {
    std::lock_guard lock(mutex_);
    auto it = databases_.find(database);
    if (it == databases_.end()) return nullptr;
    if (std::chrono::steady_clock::now() >= it->second.expires) return nullptr;
    return it->second.snapshot;
}

void CatalogService::invalidate(const std::string& database,
                                const std::vector<audit::ChildTable>& new_children) {
    std::lock_guard lock(mutex_);
    Entry& e = databases_[database];
    e.snapshot.reset();
    e.pending_children.insert(e.pending_children.end(), new_children.begin(), new_children.end());
    // The next statement that names one must be analysed, even before the next load is done.
    if (!new_children.empty()) rebuild_children_filter(e);
    // Read it again now: new partitions must be known before a client writes to them. A load
    // under way may have read the catalog before the change: it loads once more.
    if (e.loading) {
        e.load_again = true;
        return;
    }
    e.loading = true;
    asio::post(loader_, [this, database] { load(database); });
}

void CatalogService::refresh(const std::string& database, asio::any_io_executor executor,
                             Callback callback) {
    std::lock_guard lock(mutex_);
    Entry& e = databases_[database];
    e.waiters.push_back({std::move(executor), std::move(callback)});
    if (e.loading) return;  // the load under way answers this request too
    e.loading = true;
    asio::post(loader_, [this, database] { load(database); });
}

void CatalogService::load(const std::string& database) {
    audit::CatalogPtr snapshot;
    std::string error;
    std::vector<audit::ChildTable> settled;
    std::vector<audit::ChildTable> pending;
    {
        std::lock_guard lock(mutex_);
        pending = databases_[database].pending_children;
    }
    try {
        auto report = audit::load_catalog(config_, database, next_generation_.fetch_add(1),
                                          audit::CatalogLoadMode::Adapt, pending);
        snapshot = report.snapshot;
        settled = std::move(report.settled);
        for (const auto& t : report.created) {
            spdlog::info("database \"{}\": created revision table {}", database, t);
        }
        for (const auto& c : report.altered) {
            spdlog::info("database \"{}\": added column {} to follow its table", database, c);
        }
        for (const auto& c : report.retyped) {
            spdlog::info("database \"{}\": changed the type of {} to follow its table", database,
                         c);
        }
        for (const auto& t : snapshot->tables()) {
            if (!t.unusable.empty()) {
                spdlog::error(
                    "database \"{}\": writes to {}.{} are refused until this is "
                    "fixed: {}",
                    database, t.schema, t.name, t.unusable);
            }
        }
        spdlog::debug("database \"{}\": catalog read, {} of {} audited tables present", database,
                      snapshot->tables().size(), config_.audit.tables.size());
    } catch (const std::exception& e) {
        error = e.what();
        spdlog::error("database \"{}\": {}", database, error);
    }
    std::vector<Waiter> waiters;
    {
        std::lock_guard lock(mutex_);
        Entry& e = databases_[database];
        for (const auto& c : settled) {
            std::erase_if(e.pending_children, [&](const audit::ChildTable& p) {
                return p.schema == c.schema && p.name == c.name;
            });
        }
        if (e.load_again) {
            // This snapshot may predate the change: answer the waiters with the next one.
            e.load_again = false;
            asio::post(loader_, [this, database] { load(database); });
            return;
        }
        e.loading = false;
        if (snapshot) {
            warn_foreign_keys(database, e, *snapshot);
            install(e, snapshot);
            bool unusable = false;
            for (const auto& t : snapshot->tables())
                unusable = unusable || !t.unusable.empty();
            e.expires = unusable ? std::chrono::steady_clock::now() + std::chrono::seconds(5)
                                 : std::chrono::steady_clock::time_point::max();
        }
        waiters.swap(e.waiters);
    }
    for (auto& w : waiters) {
        asio::post(w.executor,
                   [cb = std::move(w.callback), snapshot, error] { cb(snapshot, error); });
    }
}

void CatalogService::install(Entry& entry, const audit::CatalogPtr& snapshot) {
    entry.snapshot = snapshot;
    // Statements that name these reach audited or revision tables without naming them.
    std::vector<std::string> names;
    for (const auto& c : snapshot->children())
        names.push_back(c.name);
    for (const auto& a : snapshot->ancestors())
        names.push_back(a.name);
    for (const auto& d : snapshot->rev_dependencies())
        names.push_back(d.name);
    // Calls of routines that write audited tables, and writes to tables whose triggers or
    // rules do, name none of them.
    const audit::CatalogLinks& links = snapshot->links();
    for (const auto& r : links.routines)
        names.push_back(r.name);
    for (const auto& t : links.triggers)
        names.push_back(t.table);
    for (const auto& r : links.rules)
        names.push_back(r.table);
    for (const auto& u : links.routine_users)
        names.push_back(u.name);
    // TRUNCATE ... CASCADE: a keyword, never spelled otherwise, and rarer than the tables.
    if (!links.truncate_reaches.empty()) names.push_back("cascade");
    entry.filter_names = std::move(names);
    rebuild_children_filter(entry);
}

void CatalogService::rebuild_children_filter(Entry& entry) {
    std::vector<std::string> names = entry.filter_names;
    for (const auto& c : entry.pending_children)
        names.push_back(c.name);
    bool had = entry.children != nullptr;
    entry.children =
        names.empty() ? nullptr : std::make_shared<const audit::NameFilter>(names, false);
    if (had || entry.children) children_generation_.fetch_add(1);
}

std::shared_ptr<const audit::NameFilter> CatalogService::children_filter(
    const std::string& database) {
    std::lock_guard lock(mutex_);
    auto it = databases_.find(database);
    return it == databases_.end() ? nullptr : it->second.children;
}

bool CatalogService::prepare_all_databases() {
    if (config_.audit.tables.empty()) return true;
    std::vector<std::string> databases;
    try {
        databases = audit::list_databases(config_);
    } catch (const std::exception& e) {
        spdlog::warn(
            "cannot check revision tables at start ({}); each database is checked when "
            "a client first uses it",
            e.what());
        return true;
    }
    bool ok = true;
    for (const auto& db : databases) {
        try {
            auto report = audit::load_catalog(config_, db, next_generation_.fetch_add(1),
                                              audit::CatalogLoadMode::Strict);
            for (const auto& t : report.created) {
                spdlog::info("database \"{}\": created revision table {}", db, t);
            }
            std::lock_guard lock(mutex_);
            warn_foreign_keys(db, databases_[db], *report.snapshot);
            install(databases_[db], report.snapshot);
        } catch (const audit::RevTableMismatch& e) {
            spdlog::critical("{}", e.what());
            ok = false;
        } catch (const std::exception& e) {
            spdlog::warn("database \"{}\": {}", db, e.what());
        }
    }
    return ok;
}

}  // namespace pgrev::server
