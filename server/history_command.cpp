#include "server/history_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "audit/catalog_loader.h"
#include "audit/history_check.h"
#include "audit/sql_lexer.h"
#include "config/config.h"
#include "server/history_query.h"

namespace pgrev::server {

const char* const kHistoryUsage =
    R"(       pgrev verify   --config FILE [--database DB]... [--table T]...
       pgrev baseline --config FILE [--database DB]... [--table T]...
)";

const char* const kHistoryDescription =
    R"(  verify     for every audited table (--table: those named, as in audit.tables) of every
             database that allows connections (--database: those named), check that the
             latest revision of each key equals the current row, that every row has a
             revision, and that a key whose latest revision is a delete is gone; print each
             discrepancy and a summary. Exit status: 0 none, 1 some, 2 could not check.
  baseline   record one revision for each row that has none, e.g. the rows a table held
             before auditing started; safe to run again. Exit status: 0 done, 2 could not.
  Both connect as admin straight to PostgreSQL, not through pgrev.
)";

namespace {

struct Options {
    std::string command;
    std::string config_path;
    std::vector<std::string> databases;
    std::vector<std::string> tables;
};

int could_not(const std::string& command, const std::string& why) {
    std::fprintf(stderr, "pgrev %s: %s\n", command.c_str(), why.c_str());
    return 2;
}

// A name as SQL would need it written, for the report: quoted only when it must be.
std::string shown_name(const std::string& name) {
    bool plain = !name.empty() && (name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'));
    for (char ch : name)
        plain = plain &&
                (ch == '_' || ch == '$' || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'));
    return plain ? name : audit::quote_identifier(name);
}

std::string shown_table(const audit::AuditedTableInfo& t) {
    return config::AuditedTable{t.schema, t.name, t.on_delete}.qualified_name();
}

std::string value_at(const PGresult* r, int column) {
    return PQgetisnull(r, 0, column) != 0 ? "NULL" : PQgetvalue(r, 0, column);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What verify found, per kind, over every table so far.
struct Tally {
    std::map<std::string, long> kinds;
    long total = 0;
    int tables_checked = 0;
    int tables_with_discrepancies = 0;
    std::set<std::string> databases;
    bool failed = false;
};

// "id=3, region=eu" for a table with a key; every column for one without.
std::string describe_row(const audit::AuditedTableInfo& t, const PGresult* r, std::string& kind) {
    kind = PQgetvalue(r, 0, 0);
    std::string text;
    if (!t.primary_key.empty()) {
        for (std::size_t k = 0; k < t.primary_key.size(); ++k) {
            text += (k == 0 ? "" : ", ") + shown_name(t.primary_key[k]) + "=" +
                    value_at(r, static_cast<int>(k) + 1);
        }
        text += ": " + kind;
        std::string differs = value_at(r, static_cast<int>(t.primary_key.size()) + 1);
        std::string names;
        std::size_t at = 0;
        while (kind == audit::kChanged && at < differs.size()) {
            std::size_t comma = std::min(differs.find(',', at), differs.size());
            std::size_t i = std::stoul(differs.substr(at, comma - at)) - 1;
            names += (names.empty() ? "" : ", ") + shown_name(t.columns.at(i));
            at = comma + 1;
        }
        return names.empty() ? text : text + " (" + names + ")";
    }
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        text += (i == 0 ? "" : ", ") + shown_name(t.columns[i]) + "=" +
                value_at(r, static_cast<int>(i) + 3);
    }
    return text + ": " + kind + " (" + value_at(r, 1) + " in the table, " + value_at(r, 2) +
           " recorded)";
}

void verify_table(HistoryConnection& conn, const std::string& db, const CheckedTable& t,
                  Tally& tally) {
    auto start = std::chrono::steady_clock::now();
    std::string where = db + ": " + shown_table(t.info);
    std::string about = t.estimate >= 0 ? fmt::format(" (~{:.0f} rows)", t.estimate) : "";
    Progress progress("checking " + db + "." + shown_table(t.info) + about);
    std::map<std::string, long> kinds;
    long found = 0;
    conn.stream(audit::verify_sql(t.info), progress, [&](const PGresult* r) {
        std::string kind;
        std::string line = where + ": " + describe_row(t.info, r, kind) + "\n";
        progress.clear();
        std::fputs(line.c_str(), stdout);
        ++kinds[kind];
        ++found;
    });
    progress.clear();
    ++tally.tables_checked;
    double took = seconds_since(start);
    if (found == 0) {
        std::printf("%s: consistent (%.1f s)\n", where.c_str(), took);
        return;
    }
    std::string parts;
    for (const auto& [kind, n] : kinds) {
        parts += (parts.empty() ? "" : ", ") + std::to_string(n) + " " + kind;
        tally.kinds[kind] += n;
    }
    std::printf("%s: %ld discrepanc%s: %s (%.1f s)\n", where.c_str(), found,
                found == 1 ? "y" : "ies", parts.c_str(), took);
    tally.total += found;
    ++tally.tables_with_discrepancies;
}

// False when the table is not in this database.
bool baseline_table(HistoryConnection& conn, const std::string& db,
                    const config::AuditedTable& table, Tally& tally) {
    auto checked = conn.read_table(table);
    if (!checked) return false;
    // No write may commit between the INSERT's snapshot and its own commit: an UPDATE
    // through pgrev then would leave the baseline revision, written later, as its key's
    // latest. SHARE mode lets readers on and makes writers wait for this transaction.
    conn.exec("LOCK TABLE " + audit::table_sql(checked->info) + " IN SHARE MODE");
    checked = conn.read_table(table);  // what it is now that no DDL can change it
    if (!checked->problem.empty()) throw CheckFailed(checked->problem);
    auto start = std::chrono::steady_clock::now();
    long n = conn.exec_count(audit::baseline_sql(checked->info));
    std::printf("%s: %s: recorded %ld revision%s for rows that had none (%.1f s)\n", db.c_str(),
                shown_table(checked->info).c_str(), n, n == 1 ? "" : "s", seconds_since(start));
    ++tally.tables_checked;
    tally.total += n;
    return true;
}

// One table of one database, in a transaction of its own.
void run_one(const Options& o, HistoryConnection& conn, const std::string& db,
             const config::AuditedTable& table, Tally& tally, std::set<std::string>& seen) {
    if (o.command == "baseline") {
        conn.exec("BEGIN");
        if (baseline_table(conn, db, table, tally)) seen.insert(table.qualified_name());
        conn.exec("COMMIT");
        return;
    }
    // One snapshot for the whole check: through pgrev a row and its revision commit together,
    // so writes that commit meanwhile are seen both or neither.
    conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    auto checked = conn.read_table(table);
    if (checked) {
        seen.insert(table.qualified_name());
        if (!checked->problem.empty()) throw CheckFailed(checked->problem);
        verify_table(conn, db, *checked, tally);
    }
    conn.exec("COMMIT");
}

void print_summary(const Options& o, const Tally& t) {
    std::string in = fmt::format("{} table{} checked, in {} database{}", t.tables_checked,
                                 t.tables_checked == 1 ? "" : "s", t.databases.size(),
                                 t.databases.size() == 1 ? "" : "s");
    if (o.command == "baseline") {
        std::printf("pgrev baseline: recorded %ld revisions; %s\n", t.total, in.c_str());
        return;
    }
    if (t.total == 0) {
        std::printf("pgrev verify: no discrepancies; %s\n", in.c_str());
        return;
    }
    std::printf("pgrev verify: %ld discrepanc%s in %d of the tables; %s\n", t.total,
                t.total == 1 ? "y" : "ies", t.tables_with_discrepancies, in.c_str());
    if (t.kinds.contains(audit::kNoRevision)) {
        std::printf(
            "hint: rows with no revision at all: rows a table held before auditing started "
            "have none; run 'pgrev baseline --config %s' once when auditing starts on a table "
            "that already holds rows\n",
            o.config_path.c_str());
    }
    if (t.kinds.contains(audit::kMissingRow)) {
        std::printf(
            "hint: a missing row was deleted without pgrev (a foreign-key cascade, a direct "
            "DELETE), or its primary key was changed by an UPDATE (pgrev records the new row "
            "only)\n");
    }
}

int run(const Options& o) {
    config::Config config;
    try {
        config = config::load_config_file(o.config_path);
    } catch (const config::ConfigError& e) {
        return could_not(o.command, std::string("configuration error: ") + e.what());
    }
    std::vector<config::AuditedTable> tables;
    for (const auto& text : o.tables) {
        config::AuditedTable wanted;
        try {
            wanted = config::parse_table_name(text);
        } catch (const std::invalid_argument& e) {
            return could_not(o.command, "--table " + text + ": " + e.what());
        }
        auto it = std::find_if(config.audit.tables.begin(), config.audit.tables.end(),
                               [&](const config::AuditedTable& a) {
                                   return a.schema == wanted.schema && a.name == wanted.name;
                               });
        if (it == config.audit.tables.end()) {
            return could_not(o.command, "--table " + text + ": " + wanted.qualified_name() +
                                            " is not in audit.tables of " + o.config_path);
        }
        tables.push_back(*it);
    }
    if (o.tables.empty()) tables = config.audit.tables;
    if (tables.empty())
        return could_not(o.command, "audit.tables of " + o.config_path + " is empty");
    std::vector<std::string> databases = o.databases;
    if (databases.empty()) {
        try {
            databases = audit::list_databases(config);
        } catch (const std::exception& e) {
            return could_not(o.command, e.what());
        }
    }
    Tally tally;
    std::set<std::string> seen;
    for (const auto& db : databases) {
        std::optional<HistoryConnection> conn;
        try {
            conn.emplace(config, db);
        } catch (const CheckFailed& e) {
            could_not(o.command, e.what());
            tally.failed = true;
            continue;
        }
        tally.databases.insert(db);
        for (const auto& table : tables) {
            try {
                run_one(o, *conn, db, table, tally, seen);
            } catch (const CheckFailed& e) {
                could_not(o.command, fmt::format("database \"{}\": {}: {}", db,
                                                 table.qualified_name(), e.what()));
                tally.failed = true;
                try {
                    conn->exec("ROLLBACK");
                } catch (const CheckFailed&) {
                    break;  // the connection is gone: the next database
                }
            }
        }
    }
    for (const auto& t : tables) {
        if (!o.tables.empty() && !seen.contains(t.qualified_name())) {
            could_not(o.command,
                      t.qualified_name() + " is in none of the databases: nothing checked");
            tally.failed = true;
        }
    }
    std::fflush(stdout);
    print_summary(o, tally);
    if (tally.failed) return 2;
    return o.command == "verify" && tally.total > 0 ? 1 : 0;
}

}  // namespace

int run_history_command(const std::string& command, const std::vector<std::string>& args) {
    Options o;
    o.command = command;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        auto value = [&](const std::string& name, std::vector<std::string>* many,
                         std::string* one) -> bool {
            std::string v;
            if (arg == name || (name == "--config" && arg == "-c")) {
                if (i + 1 >= args.size()) return false;
                v = args[++i];
            } else if (arg.rfind(name + "=", 0) == 0) {
                v = arg.substr(name.size() + 1);
            } else {
                return false;
            }
            if (many) many->push_back(v);
            if (one) *one = v;
            return true;
        };
        if (arg == "-h" || arg == "--help") {
            std::fputs(("Usage:" + std::string(kHistoryUsage).substr(6)).c_str(), stdout);
            std::fputs("\n", stdout);
            std::fputs(kHistoryDescription, stdout);
            return 0;
        }
        if (value("--config", nullptr, &o.config_path) ||
            value("--database", &o.databases, nullptr) || value("--table", &o.tables, nullptr)) {
            continue;
        }
        return could_not(command,
                         "unknown or incomplete argument '" + arg + "'\nTry 'pgrev --help'.");
    }
    if (o.config_path.empty())
        return could_not(command, "no configuration file: use --config FILE");
    return run(o);
}

}  // namespace pgrev::server
