#include "generator.h"

#include <map>

#include "statements.h"

namespace pgrev::difffuzz {

namespace {

// What the generator remembers while it writes one case.
struct CaseState {
    CaseState(std::uint64_t seed, const Classes& classes) : rng(seed), on(classes) {}
    Rng rng;
    const Classes& on;
    std::vector<Table> tables = audited_tables();
    bool in_transaction = false;
    int savepoints = 0;
    int next_column = 1;
    // Prepared statements (protocol-level and SQL PREPARE) with the parameters they were made
    // with, so they can be executed again later, after DDL too.
    std::map<std::string, std::vector<Param>> protocol_statements;
    std::map<std::string, std::vector<Param>> sql_statements;

    Gen gen(std::vector<Param>* params = nullptr) { return Gen{rng, on, tables, params}; }
};

Step query(std::vector<Sql> statements, CaseState& cs) {
    Step step;
    std::vector<Rendered> pieces;
    for (std::size_t i = 0; i < statements.size(); ++i)
        pieces.push_back(statements[i].decorated(cs.rng, cs.on, i + 1 == statements.size()));
    step.set_pieces(std::move(pieces));
    return step;
}

Step query(const std::string& sql) {
    Step step;
    step.set_pieces({Rendered::of(sql)});
    return step;
}

Sql statement(CaseState& cs, std::vector<Param>* params = nullptr) {
    Gen g = cs.gen(params);
    Sql sql = random_statement(g);
    if (cs.on.on("syntax-errors") && cs.rng.chance(6)) sql = with_syntax_error(sql, cs.rng);
    return sql;
}

Step params_step(CaseState& cs) {
    Step step;
    step.kind = StepKind::Params;
    step.set_pieces({statement(cs, &step.params).decorated(cs.rng, cs.on, true)});
    return step;
}

Step prepare_step(CaseState& cs, const std::string& name) {
    Step step;
    step.kind = StepKind::Prepare;
    step.name = name;
    step.set_pieces({statement(cs, &step.params).decorated(cs.rng, cs.on, true)});
    cs.protocol_statements[name] = step.params;
    step.params.clear();
    return step;
}

Step execute_step(CaseState& cs, const std::string& name) {
    Step step;
    step.kind = StepKind::ExecPrepared;
    step.name = name;
    step.params = cs.protocol_statements[name];
    return step;
}

// A name for a new protocol-level statement. Re-using a live name makes the server refuse
// the Parse, which is the name-reuse class's business.
std::string statement_name(CaseState& cs) {
    std::string name = cs.rng.pick(std::vector<std::string>{"", "s1", "s2", "S 3"});
    if (!cs.on.on("name-reuse") && cs.protocol_statements.count(name) != 0) return "";
    return name;
}

void add_extended(CaseState& cs, std::vector<Step>& steps) {
    if (cs.rng.chance(40)) {
        steps.push_back(params_step(cs));
        return;
    }
    std::string live = cs.rng.pick(std::vector<std::string>{"s1", "s2", "S 3"});
    if (cs.protocol_statements.count(live) != 0 && cs.rng.chance(60)) {
        steps.push_back(execute_step(cs, live));
        return;
    }
    std::string name = statement_name(cs);
    steps.push_back(prepare_step(cs, name));
    if (cs.rng.chance(30)) {
        Step describe;
        describe.kind = StepKind::Describe;
        describe.name = name;
        steps.push_back(describe);
    }
    int runs = cs.rng.range(1, 2);
    for (int i = 0; i < runs; ++i)
        steps.push_back(execute_step(cs, name));
}

Step pipeline_step(CaseState& cs) {
    Step pipeline;
    pipeline.kind = StepKind::Pipeline;
    int n = cs.rng.range(2, 5);
    for (int i = 0; i < n; ++i) {
        int which = static_cast<int>(cs.rng.below(10));
        if (which < 4) {
            pipeline.items.push_back(params_step(cs));
        } else if (which < 8) {
            std::string name = statement_name(cs);
            pipeline.items.push_back(prepare_step(cs, name));
            pipeline.items.push_back(execute_step(cs, name));
        } else if (which < 9) {
            Step sync;
            sync.kind = StepKind::Sync;
            pipeline.items.push_back(sync);
        } else {
            Step p;
            p.kind = StepKind::Params;
            p.set_pieces({Rendered::of(
                cs.rng.pick(std::vector<std::string>{"SELECT 1/0", "SELECT $1::int"}))});
            if (p.sql.find('$') != std::string::npos) p.params = {"7"};
            pipeline.items.push_back(p);
        }
    }
    return pipeline;
}

void add_sql_prepare(CaseState& cs, std::vector<Step>& steps) {
    std::string name = cs.rng.pick(std::vector<std::string>{"p1", "p2", "\"P 3\""});
    if (cs.sql_statements.count(name) != 0 && cs.rng.chance(60)) {
        const std::vector<Param>& params = cs.sql_statements[name];
        std::string args;
        for (std::size_t i = 0; i < params.size(); ++i)
            args += (i == 0 ? " (" : ", ") + literal(params[i]);
        if (!params.empty()) args += ")";
        if (cs.rng.chance(80)) {
            steps.push_back(query("EXECUTE " + name + args));
        } else {
            steps.push_back(query("DEALLOCATE " + name));
            cs.sql_statements.erase(name);
        }
        return;
    }
    if (!cs.on.on("name-reuse") && cs.sql_statements.count(name) != 0) {
        steps.push_back(query("DEALLOCATE " + name));
        cs.sql_statements.erase(name);
        return;
    }
    std::vector<Param> params;
    Gen g = cs.gen(&params);
    Sql sql{"PREPARE", name, "AS"};
    sql << random_dml(g);
    cs.sql_statements[name] = params;
    steps.push_back(query({sql}, cs));
}

// Item 10's class: a name's meaning changes only when the server says so.
void add_name_reuse(CaseState& cs, std::vector<Step>& steps) {
    switch (cs.rng.below(3)) {
        case 0: {  // a failing re-Parse of an existing name, then Execute of the old one
            std::string name = cs.rng.pick(std::vector<std::string>{"s1", "s2"});
            steps.push_back(prepare_step(cs, name));
            std::vector<Param> kept = cs.protocol_statements[name];
            Step again = prepare_step(cs, name);
            if (cs.rng.chance(50)) again.set_pieces({Rendered::of("SELECT * FROM acct WHERE")});
            steps.push_back(again);
            cs.protocol_statements[name] = kept;
            steps.push_back(execute_step(cs, name));
            break;
        }
        case 1: {  // a failing PREPARE of an existing name
            std::vector<Param> params;
            Gen g = cs.gen(&params);
            Sql first{"PREPARE", "p1", "AS"};
            first << random_dml(g);
            Sql second{"PREPARE", "p1", "AS"};
            std::vector<Param> unused;
            Gen g2 = cs.gen(&unused);
            second << random_dml(g2);
            steps.push_back(query({first}, cs));
            steps.push_back(query({second}, cs));
            std::string args;
            for (std::size_t i = 0; i < params.size(); ++i)
                args += (i == 0 ? " (" : ", ") + literal(params[i]);
            if (!params.empty()) args += ")";
            steps.push_back(query("EXECUTE p1" + args));
            cs.sql_statements["p1"] = params;
            break;
        }
        default: {  // DEALLOCATE in an aborted transaction
            std::vector<Param> params;
            Gen g = cs.gen(&params);
            Sql prep{"PREPARE", "p2", "AS"};
            prep << random_dml(g);
            steps.push_back(query({prep}, cs));
            if (!cs.in_transaction) steps.push_back(query("BEGIN"));
            steps.push_back(query("SELECT 1/0"));
            steps.push_back(query("DEALLOCATE p2"));
            steps.push_back(query("ROLLBACK"));
            cs.in_transaction = false;
            cs.savepoints = 0;
            std::string args;
            for (std::size_t i = 0; i < params.size(); ++i)
                args += (i == 0 ? " (" : ", ") + literal(params[i]);
            if (!params.empty()) args += ")";
            steps.push_back(query("EXECUTE p2" + args));
            cs.sql_statements["p2"] = params;
        }
    }
}

void add_transaction_control(CaseState& cs, std::vector<Step>& steps) {
    if (!cs.in_transaction) {
        steps.push_back(query(cs.rng.pick(std::vector<std::string>{
            "BEGIN", "START TRANSACTION", "BEGIN ISOLATION LEVEL REPEATABLE READ"})));
        cs.in_transaction = true;
        return;
    }
    if (cs.on.on("savepoints") && cs.rng.chance(50)) {
        if (cs.savepoints > 0 && cs.rng.chance(60)) {
            steps.push_back(query(cs.rng.chance(60) ? "ROLLBACK TO SAVEPOINT sp" : "RELEASE sp"));
            --cs.savepoints;
        } else {
            steps.push_back(query("SAVEPOINT sp"));
            ++cs.savepoints;
        }
        return;
    }
    steps.push_back(
        query(cs.rng.pick(std::vector<std::string>{"COMMIT", "ROLLBACK", "END", "ABORT"})));
    cs.in_transaction = false;
    cs.savepoints = 0;
}

Table* table_named(CaseState& cs, const std::string& name) {
    for (Table& t : cs.tables)
        if (t.name == name) return &t;
    return nullptr;
}

std::string qualified(const Table& t) {
    return ident_plain(t.schema) + "." + ident_plain(t.name);
}

void add_ddl(CaseState& cs, std::vector<Step>& steps, const std::string& kind) {
    Table& t = cs.tables[cs.rng.below(cs.tables.size())];
    std::string alter = "ALTER TABLE " + qualified(t) + " ";
    auto ddl = [&](const std::string& sql) {
        Step step = query(sql);
        step.ddl = true;
        steps.push_back(step);
    };
    if (kind == "ddl-add") {
        std::string name = "c" + std::to_string(cs.next_column++);
        bool text = cs.rng.chance(40);
        std::string dflt = cs.rng.chance(50) ? (text ? " DEFAULT 'd'" : " DEFAULT 5") : "";
        ddl(alter + "ADD COLUMN " + name + (text ? " text" : " int") + dflt);
        t.columns.push_back(
            {name, text ? ColKind::Text : ColKind::Int, false, false, !dflt.empty()});
        return;
    }
    std::vector<Column*> plain_cols;
    for (Column& c : t.columns)
        if (c.kind != ColKind::Generated && !c.key && t.name != "gen") plain_cols.push_back(&c);
    if (plain_cols.empty()) return;
    Column& c = *plain_cols[cs.rng.below(plain_cols.size())];
    if (kind == "ddl-rename") {
        std::vector<Column*> same;
        for (Column* other : plain_cols)
            if (other != &c && other->kind == c.kind) same.push_back(other);
        if (!same.empty() && cs.rng.chance(60)) {
            // A swap of two columns' names, in one transaction unless one is open.
            Column& d = *same[cs.rng.below(same.size())];
            bool wrap = !cs.in_transaction;
            if (wrap) steps.push_back(query("BEGIN"));
            ddl(alter + "RENAME COLUMN " + ident_plain(c.name) + " TO tmp_swap");
            ddl(alter + "RENAME COLUMN " + ident_plain(d.name) + " TO " + ident_plain(c.name));
            ddl(alter + "RENAME COLUMN tmp_swap TO " + ident_plain(d.name));
            std::swap(c.name, d.name);
            // A write in the same transaction, while the catalog pgrev reads is the old one.
            Gen g = cs.gen();
            steps.push_back(query({random_dml_on(g, t)}, cs));
            if (wrap) steps.push_back(query("COMMIT"));
            return;
        }
        std::string name = "r" + std::to_string(cs.next_column++);
        ddl(alter + "RENAME COLUMN " + ident_plain(c.name) + " TO " + name);
        c.name = name;
        return;
    }
    // ddl-type
    if (c.kind == ColKind::Int || c.kind == ColKind::Numeric) {
        std::string type =
            cs.rng.pick(std::vector<std::string>{"numeric(10,3)", "bigint", "numeric"});
        ddl(alter + "ALTER COLUMN " + ident_plain(c.name) + " TYPE " + type);
        c.kind = type == "bigint" ? ColKind::Int : ColKind::Numeric;
    } else if (c.kind == ColKind::Text) {
        ddl(alter + "ALTER COLUMN " + ident_plain(c.name) + " TYPE varchar(40)");
    }
}

// A statement that reads differently with standard_conforming_strings off.
Sql backslash_trick(CaseState& cs) {
    Table* t = table_named(cs, "acct");
    std::string note = "note";
    for (const Column& c : t->columns)
        if (c.kind == ColKind::Text && !c.key && c.name != "name") note = c.name;
    // One token: gaps (a comment after the "--") would make it unparsable, which is the
    // syntax-errors class's business.
    return Sql{"UPDATE acct SET " + ident_plain(note) +
               " = 'a\\' WHERE id = 1 -- ' WHERE id = 2\n"};
}

void add_settings(CaseState& cs, std::vector<Step>& steps, bool hidden) {
    std::vector<Sql> parts;
    if (hidden) {
        parts.push_back(Sql{cs.rng.pick(std::vector<std::string>{
            "DO $$BEGIN EXECUTE 'SET standard_' || 'conforming_strings = off'; END$$",
            "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
            "SELECT set_config('standard_conforming_strings', 'off', false)",
            "DO $$BEGIN PERFORM set_config('client_' || 'encoding', 'LATIN1', false); END$$",
            "SET standard_conforming_strings = off; BEGIN; SET LOCAL standard_conforming_strings "
            "= on; COMMIT",
            "BEGIN; SET LOCAL standard_conforming_strings = off; COMMIT"})});
    } else {
        parts.push_back(Sql{cs.rng.pick(std::vector<std::string>{
            "SET standard_conforming_strings = off", "SET client_encoding = 'LATIN1'",
            "SET NAMES 'UTF8'", "RESET standard_conforming_strings",
            "SET standard_conforming_strings TO on"})});
    }
    parts.push_back(backslash_trick(cs));
    bool multi = parts[0].plain().find(';') != std::string::npos;
    if (!multi && cs.rng.chance(40)) {
        // In one pipeline: the second statement is sent before the first one's answer
        // (and its ParameterStatus) is back.
        Step pipeline;
        pipeline.kind = StepKind::Pipeline;
        for (const Sql& part : parts) {
            Step item;
            item.kind = StepKind::Params;
            item.set_pieces({part.decorated(cs.rng, cs.on, true)});
            pipeline.items.push_back(item);
        }
        steps.push_back(pipeline);
    } else if (cs.rng.chance(50)) {
        steps.push_back(query(parts, cs));
    } else {
        steps.push_back(query({parts[0]}, cs));
        steps.push_back(query({parts[1]}, cs));
    }
    steps.push_back(query("RESET standard_conforming_strings; RESET client_encoding"));
}

void add_search_path(CaseState& cs, std::vector<Step>& steps) {
    steps.push_back(query(cs.rng.pick(std::vector<std::string>{
        "SET search_path = other, public", "SET search_path = public, other",
        "CREATE TEMP TABLE IF NOT EXISTS acct (id int, name text, qty int, note text, price "
        "numeric(8,2))",
        "RESET search_path"})));
    steps.push_back(query({statement(cs)}, cs));
    if (cs.rng.chance(50)) {
        steps.push_back(query(
            {Sql{"UPDATE", "item", "SET", "qty", "=", "qty", "+", "1", "WHERE", "id", "=", "1"}},
            cs));
    }
}

// DDL an attacker would try (issue 7 items 3-5): write through an ancestor, rename the
// schema away, suppress the history with a trigger on the _rev table. Then ordinary writes.
void add_hostile(CaseState& cs, std::vector<Step>& steps, const std::string& kind) {
    auto ddl = [&](const std::string& sql) {
        Step step = query(sql);
        step.ddl = true;
        steps.push_back(step);
    };
    if (kind == "ancestors") {
        ddl("CREATE TABLE IF NOT EXISTS anc (id int, qty int)");
        ddl("ALTER TABLE acct INHERIT anc");
        steps.push_back(query(cs.rng.pick(std::vector<std::string>{
            "UPDATE anc SET qty = qty + 10 WHERE id <= 2", "DELETE FROM anc WHERE id = 1",
            "UPDATE anc SET qty = 0 RETURNING id"})));
    } else if (kind == "schema-rename") {
        ddl("ALTER SCHEMA other RENAME TO other2");
        steps.push_back(query(cs.rng.pick(std::vector<std::string>{
            "UPDATE other2.item SET qty = qty + 1", "DELETE FROM other2.item WHERE id = 1"})));
        ddl("ALTER SCHEMA other2 RENAME TO other");
    } else {
        ddl("CREATE OR REPLACE FUNCTION swallow() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN RETURN NULL; END$$");
        ddl("CREATE TRIGGER swallow BEFORE INSERT ON acct_rev FOR EACH ROW EXECUTE FUNCTION "
            "swallow()");
        Gen g = cs.gen();
        steps.push_back(query({random_dml_on(g, *table_named(cs, "acct"))}, cs));
    }
}

void add_step(CaseState& cs, std::vector<Step>& steps) {
    struct Choice {
        const char* cls;
        int weight;
    };
    static const std::vector<Choice> choices = {
        {"", 40},           {"multi-statement", 8}, {"extended", 12},     {"pipeline", 6},
        {"sql-prepare", 6}, {"transactions", 10},   {"name-reuse", 2},    {"ddl-add", 2},
        {"ddl-rename", 3},  {"ddl-type", 2},        {"settings", 1},      {"hidden-settings", 1},
        {"search-path", 1}, {"ancestors", 1},       {"schema-rename", 1}, {"rev-tampering", 1},
    };
    int total = 0;
    for (const Choice& c : choices)
        if (*c.cls == '\0' || cs.on.on(c.cls)) total += c.weight;
    int roll = static_cast<int>(cs.rng.below(static_cast<std::size_t>(total)));
    std::string cls;
    for (const Choice& c : choices) {
        if (*c.cls != '\0' && !cs.on.on(c.cls)) continue;
        if (roll < c.weight) {
            cls = c.cls;
            break;
        }
        roll -= c.weight;
    }
    if (cls.empty()) {
        steps.push_back(query({statement(cs)}, cs));
    } else if (cls == "multi-statement") {
        std::vector<Sql> parts;
        int n = cs.rng.range(2, 3);
        for (int i = 0; i < n; ++i)
            parts.push_back(statement(cs));
        steps.push_back(query(parts, cs));
    } else if (cls == "extended") {
        add_extended(cs, steps);
    } else if (cls == "pipeline") {
        steps.push_back(pipeline_step(cs));
    } else if (cls == "sql-prepare") {
        add_sql_prepare(cs, steps);
    } else if (cls == "transactions") {
        add_transaction_control(cs, steps);
    } else if (cls == "name-reuse") {
        add_name_reuse(cs, steps);
    } else if (cls.rfind("ddl-", 0) == 0) {
        add_ddl(cs, steps, cls);
    } else if (cls == "settings" || cls == "hidden-settings") {
        add_settings(cs, steps, cls == "hidden-settings");
    } else if (cls == "search-path") {
        add_search_path(cs, steps);
    } else {
        add_hostile(cs, steps, cls);
    }
}

}  // namespace

Sequence generate_case(std::uint64_t seed, const Classes& on) {
    CaseState cs(seed, on);
    Sequence sequence;
    sequence.seed = seed;
    int n = cs.rng.range(2, 10);
    while (static_cast<int>(sequence.steps.size()) < n)
        add_step(cs, sequence.steps);
    if (cs.in_transaction)
        sequence.steps.push_back(query(cs.rng.chance(70) ? "COMMIT" : "ROLLBACK"));
    return sequence;
}

}  // namespace pgrev::difffuzz
