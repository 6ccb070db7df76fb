#include "audit/rewriter.h"

#include <algorithm>

#include "audit/name_filter.h"
#include "audit/parse_tree.h"
#include "audit/splice.h"
#include "audit/sql_lexer.h"
#include "audit/statement_analyzer.h"
#include "config/text.h"
#include "protocol/pgrev_message.h"
#include "protocol/sqlstate.h"

namespace pgrev::audit {

namespace {

// The search_path guard's message: kGuardBegin, the table's name, kGuardEnd.
constexpr std::string_view kGuardBegin = "search_path finds another table named ";
constexpr std::string_view kGuardEnd = " first; name the audited one with its schema";

std::string sql_literal(std::string_view text);

struct Edit {
    std::size_t begin;
    std::size_t end;
    Splice text;
};

// The user's text of [begin, end) with the edits inside it applied.
Splice apply_edits(std::string_view sql, std::size_t begin, std::size_t end,
                   std::vector<Edit> edits) {
    std::sort(edits.begin(), edits.end(),
              [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
    Splice out(sql);
    std::size_t pos = begin;
    for (const auto& e : edits) {
        if (e.begin < pos || e.end > end) continue;
        out.copy(pos, e.begin).append(e.text);
        pos = e.end;
    }
    return out.copy(pos, end);
}

class SiteWriter {
  public:
    SiteWriter(std::string_view sql, const DmlSite& site, std::string suffix)
        : sql_(sql), s_(site), suffix_(std::move(suffix)) {}

    // RETURNING that may name FROM/USING items needs each item back as a whole row (and so
    // does one whose `*` would show the check column, see returning_check).
    bool whole_row() const { return s_.has_returning && s_.whole_row; }
    std::string dml_name() const { return "__pgrev_dml" + suffix_; }
    std::string rev_name() const { return "__pgrev_rev" + suffix_; }

    Splice dml_cte() const {
        Splice out(sql_);
        out.add(dml_name() + " AS (").copy(s_.begin, s_.body_end).add(" RETURNING ");
        if (whole_row()) {
            out.add("ROW(" + quote_identifier(s_.ref) + ".*)::" + table_type() + " AS __pgrev_row");
            for (std::size_t i = 0; i < s_.from_items.size(); ++i) {
                const auto& item = s_.from_items[i];
                out.add(", " + item.row_value + " AS __pgrev_from" + std::to_string(i + 1));
            }
        } else {
            out.add(quote_identifier(s_.ref) + ".*");
            for (const auto& c : s_.system_columns) {
                out.add(", " + quote_identifier(s_.ref) + "." + c + " AS " + c);
            }
        }
        return out.append(returning_check()).add(")");
    }

    // The user's RETURNING expressions where PostgreSQL analyses them, never evaluated: see
    // StatementAnalyzer::plan_returning_check.
    Splice returning_check() const {
        Splice out(sql_);
        if (s_.returning_checks.empty()) return out;
        out.add(", CASE WHEN false THEN ROW(");
        for (std::size_t i = 0; i < s_.returning_checks.size(); ++i) {
            if (i > 0) out.add(", ");
            out.copy(s_.returning_checks[i].begin, s_.returning_checks[i].end);
        }
        return out.add(") END AS __pgrev_check");
    }

    // `extra_condition`: one more condition of the insert's WHERE, evaluated once.
    std::string rev_insert(const std::string& extra_condition = {}) const {
        const AuditedTableInfo& t = *s_.table;
        bool is_delete = s_.verb == TagVerb::Delete;
        bool key_only =
            is_delete && t.on_delete == config::DeleteRecord::KeyOnly && !t.primary_key.empty();
        std::string source = whole_row() ? "(__pgrev_row)" : dml_name();
        std::string columns = "rev_id, rev_created, rev_isdelete";
        std::string values;
        // Every value is taken by name: the server resolves the names when it analyses the
        // statement (a prepared one again after DDL), so a stale column order in pgrev's catalog
        // cannot file one column's value under another's name. A key-only delete names NULL
        // for the other columns, so no default of a revision column applies.
        for (const auto& c : t.columns) {
            bool in_key =
                std::find(t.primary_key.begin(), t.primary_key.end(), c) != t.primary_key.end();
            columns += ", " + quote_identifier(c);
            values += ", ";
            values += key_only && !in_key ? "NULL" : source + "." + quote_identifier(c);
        }
        std::vector<std::string> conditions;
        if (!extra_condition.empty()) conditions.push_back(extra_condition);
        if (!key_only) conditions.push_back(column_count_guard());
        if (s_.unqualified) conditions.push_back(search_path_guard());
        std::string where;
        for (const auto& c : conditions)
            where += (where.empty() ? " WHERE " : " AND ") + c;
        return "INSERT INTO " + quote_identifier(t.schema) + "." + quote_identifier(t.rev_name()) +
               " (" + columns +
               ") SELECT pg_catalog.gen_random_uuid(), "
               "extract(epoch from pg_catalog.clock_timestamp())::pg_catalog.float8, " +
               (is_delete ? "true" : "false") + values + " FROM " + dml_name() + where;
    }

    // Fails closed when the table has more or fewer columns than pgrev knows (one added or
    // dropped behind pgrev's back, or in the open transaction): the cast of a row of as many
    // NULLs as pgrev knows columns to the table's type needs them to agree, and is checked
    // when the server analyses the statement. The planner folds the CASE away: no cost per
    // row, nor per statement.
    std::string column_count_guard() const {
        std::string nulls;
        for (std::size_t i = 0; i < s_.table->columns.size(); ++i)
            nulls += i == 0 ? "NULL" : ", NULL";
        return "CASE WHEN false THEN ROW(" + nulls + ")::" + table_type() +
               " IS NULL ELSE true END";
    }

    // pgrev takes an unqualified name for the configured table. Should search_path find a
    // same-named table of another schema first, its rows must not become this table's history,
    // and a filter would leave the command tag's count wrong: the statement fails instead, with
    // a message that says why (the format() call keeps the planner from raising it early).
    //
    // Both names are regclass constants, resolved when the server analyses the statement, as
    // the target's name is, and with the same search_path (a prepared statement is analysed
    // again when search_path changes): the planner folds the comparison, so the guard costs
    // two name lookups at analysis and nothing when the plan runs. (to_regclass() would be
    // planned and called for every statement.) The name is one the target resolved to, so the
    // cast cannot fail for want of a table.
    std::string search_path_guard() const {
        const AuditedTableInfo& t = *s_.table;
        std::string qualified = quote_identifier(t.schema) + "." + quote_identifier(t.name);
        std::string message =
            protocol::pgrev_message(std::string(kGuardBegin) + t.name + std::string(kGuardEnd));
        // Operators are named with their schema, as everything pgrev generates: a user's
        // `=(regclass, regclass)` earlier in search_path must not answer this question.
        return "CASE WHEN " + sql_literal(quote_identifier(t.name)) +
               "::pg_catalog.regclass OPERATOR(pg_catalog.=) " + sql_literal(qualified) +
               "::pg_catalog.regclass THEN true ELSE pg_catalog.format('%s', " +
               sql_literal(message) + ")::pg_catalog.int4 OPERATOR(pg_catalog.=) 0 END";
    }

    // The user's RETURNING list, evaluated over the returned rows under the target's name.
    Splice projection() const {
        std::vector<Edit> stars;
        for (const auto& e : s_.returning_edits) {
            Splice text(sql_);
            text.add(e.text);
            stars.push_back({e.begin, e.end, std::move(text)});
        }
        if (whole_row()) {
            std::string all = quote_identifier(s_.ref) + ".*";
            for (const auto& f : s_.from_items)
                all += ", " + quote_identifier(f.ref) + ".*";
            for (std::size_t at : s_.bare_stars) {
                Splice star(sql_);
                star.add(all);
                stars.push_back({at, at + 1, std::move(star)});
            }
        }
        Splice out(sql_);
        out.add("SELECT ").append(apply_edits(sql_, s_.returning_begin, s_.end, stars));
        out.add(" FROM " + dml_name());
        if (!whole_row()) return out.add(" AS " + quote_identifier(s_.ref));
        out.add(", LATERAL (SELECT (__pgrev_row).*) AS " + quote_identifier(s_.ref));
        for (std::size_t i = 0; i < s_.from_items.size(); ++i) {
            out.add(", LATERAL (SELECT (__pgrev_from" + std::to_string(i + 1) + ").*) AS " +
                    s_.from_items[i].lateral_as);
        }
        return out;
    }

    // `name AS ( dml )` of the user's WITH becomes pgrev's two CTEs and then the user's name
    // over the returned rows, in the same place so later CTEs still see it.
    //
    // With RETURNING, the user's WITH query becomes a SELECT over the returned rows, which
    // PostgreSQL would evaluate only as far as the outer query reads it; the RETURNING list of a
    // data-modifying WITH is evaluated for every row, whether read or not (an error it raises
    // fails the statement, a volatile function runs once per row). So the SELECT is
    // MATERIALIZED (never inlined, never evaluated twice; the user's own [NOT] MATERIALIZED
    // meant nothing for a data-modifying WITH) and the revision insert, which runs to
    // completion, reads it whole once.
    Edit cte_edit() const {
        Splice text(sql_);
        text.append(dml_cte()).add(", ");
        if (s_.has_returning) {
            text.copy(s_.cte_begin, s_.cte_as_end).add(" MATERIALIZED (").append(projection());
            text.add("), " + rev_name() + " AS (" +
                     rev_insert("(SELECT pg_catalog.count(*) FROM " +
                                quote_identifier(s_.cte_name) + ") OPERATOR(pg_catalog.>=) 0") +
                     ")");
        } else {
            text.add(rev_name() + " AS (" + rev_insert() + "), ");
            text.copy(s_.cte_begin, s_.cte_open_end).add("SELECT FROM " + dml_name() + ")");
        }
        return {s_.cte_begin, s_.cte_end, std::move(text)};
    }

    // The whole statement: `WITH [user's CTEs,] pgrev's CTEs, then the final part`.
    Splice statement(const StatementAnalysis& a, const std::vector<Edit>& cte_edits) const {
        Splice text(sql_);
        text.add("WITH ");
        if (a.has_with) {
            if (a.with_recursive) text.add("RECURSIVE ");
            text.append(apply_edits(sql_, a.with_list_begin, a.with_list_end, cte_edits)).add(", ");
        }
        text.append(dml_cte());
        if (s_.has_returning) {
            text.add(", " + rev_name() + " AS (" + rev_insert() + ") ").append(projection());
        } else {
            text.add(" " + rev_insert());
        }
        return text;
    }

  private:
    std::string table_type() const {
        return quote_identifier(s_.table->schema) + "." + quote_identifier(s_.table->name);
    }

    std::string_view sql_;
    const DmlSite& s_;
    std::string suffix_;
};

std::string sql_literal(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out.push_back('\'');
        out.push_back(c);
    }
    return out + "'";
}

}  // namespace

std::string refusal_statement(std::string_view sqlstate, std::string_view message) {
    std::string body = "BEGIN RAISE EXCEPTION USING ERRCODE = " + sql_literal(sqlstate) +
                       ", MESSAGE = " + sql_literal(message) + "; END";
    // The message may quote the client's text: pick a dollar-quote tag that it does not hold.
    std::string tag = "$pgrev$";
    for (int n = 1; body.find(tag) != std::string::npos; ++n) {
        tag = "$pgrev" + std::to_string(n) + "$";
    }
    return "DO " + tag + body + tag;
}

const char* verb_name(TagVerb verb) {
    switch (verb) {
        case TagVerb::Insert:
            return "INSERT";
        case TagVerb::Update:
            return "UPDATE";
        case TagVerb::Delete:
            return "DELETE";
        case TagVerb::None:
            break;
    }
    return "";
}

std::string restore_tag(TagVerb verb, const std::string& server_tag) {
    if (verb == TagVerb::None) return server_tag;
    std::size_t space = server_tag.rfind(' ');
    std::string rows = space == std::string::npos ? "0" : server_tag.substr(space + 1);
    // INSERT's tag keeps the OID field, always 0 since PostgreSQL 12.
    return std::string(verb_name(verb)) + (verb == TagVerb::Insert ? " 0 " : " ") + rows;
}

std::string search_path_guard_message(std::string_view sqlstate, std::string_view message) {
    // int4in's "invalid input syntax for type integer: \"<text>\"", in whatever language
    // lc_messages gives: pgrev's text is found inside.
    if (sqlstate != "22P02") return "";
    std::string begin = protocol::pgrev_message(kGuardBegin);
    std::size_t from = message.find(begin);
    if (from == std::string_view::npos) return "";
    std::size_t end = message.find(kGuardEnd, from + begin.size());
    if (end == std::string_view::npos) return "";
    return std::string(message.substr(from, end + kGuardEnd.size() - from));
}

std::string restore_error_message(TagVerb verb, const std::string& message) {
    static const std::string kCannotExecute = "cannot execute ";
    if (verb == TagVerb::None || message.rfind(kCannotExecute, 0) != 0) return message;
    std::size_t word_end = message.find(' ', kCannotExecute.size());
    if (word_end == std::string::npos) return message;
    std::string sent = message.substr(kCannotExecute.size(), word_end - kCannotExecute.size());
    if (sent != "INSERT" && sent != "SELECT") return message;
    std::string out = message;
    out.replace(kCannotExecute.size(), sent.size(), verb_name(verb));
    return out;
}

RewritePlan refusal_plan(std::string_view sqlstate, std::string message) {
    RewritePlan plan;
    plan.action = RewritePlan::Action::Refuse;
    plan.refusal_sqlstate = std::string(sqlstate);
    plan.refusal_message = std::move(message);
    plan.sql = refusal_statement(plan.refusal_sqlstate, plan.refusal_message);
    plan.statements.emplace_back();
    return plan;
}

namespace {

// The configured tables whose names the text holds (in any case), "s.t, s.u".
std::string audited_names_in(std::string_view sql, const CatalogSnapshot& catalog) {
    std::string tables;
    for (const auto& t : catalog.configured()) {
        if (NameFilter::contains_ci(sql, config::lower_ascii(t.name))) {
            tables += (tables.empty() ? "" : ", ") + t.qualified_name();
        }
    }
    return tables;
}

// A text libpg_query cannot parse: forwarded when the server's own error is the answer,
// refused when the text may hide a change of an audited table.
RewritePlan plan_unparsable(std::string_view sql, const ParseResult& parsed,
                            const CatalogSnapshot& catalog, const config::Audit& policy,
                            bool server_has_pgrevs_grammar) {
    if (policy.allow_unparsable) return {};
    std::string tables = audited_names_in(sql, catalog);
    // No audited name in it (it was analysed for another reason): the server's own error
    // is the right answer.
    if (tables.empty() && !NameFilter::contains_ci(sql, "u&")) return {};
    // A server of the major version whose grammar libpg_query has refuses the text too,
    // with its own error, position and hint: forward it. Not when pgrev read other bytes
    // than the server will (invalid UTF-8 replaced), nor when libpg_query's scanner is
    // known to read the text differently (a string continued across a comment), nor when
    // pgrev did not even try (too deep): then the server might run it.
    if (server_has_pgrevs_grammar && !parsed.too_deep && !continues_string_across_comment(sql) &&
        with_invalid_utf8_replaced(sql) == sql) {
        return {};
    }
    std::string mentions =
        "; it mentions the audited table " + (tables.empty() ? "name" : tables) +
        ", so pgrev refuses it rather than let a change through without its revision";
    if (parsed.too_deep) {
        return refusal_plan(
            sqlstate::kStatementTooComplex,
            protocol::pgrev_message("cannot audit a statement nested this deeply (" + parsed.error +
                                    ")" + mentions));
    }
    return refusal_plan(
        sqlstate::kSyntaxError,
        protocol::pgrev_message("cannot audit a statement that does not parse with " +
                                std::string(parser_version()) + "'s grammar, which pgrev uses (" +
                                parsed.error + ")" + mentions));
}

// A configured table the fresh catalog does not have: the statement cannot be audited.
void refuse_unknown_table(StatementAnalysis& a) {
    a.refused = true;
    a.sqlstate = std::string(sqlstate::kUndefinedTable);
    a.message = protocol::pgrev_message(
        "cannot audit table " + a.unknown_tables.front() +
        ": it is configured for audit but pgrev does not see it in this "
        "database (does it exist? a table created in a transaction that has "
        "not committed yet cannot be audited)");
}

// The refused statement replaced by its refusal, from its first token to its last (its
// semicolon kept); the plan's refusal is the text's first.
void add_refusal(std::string_view sql, const std::vector<Token>& tokens,
                 const ParsedStatement& statement, const StatementAnalysis& a, RewritePlan& plan,
                 std::vector<Edit>& edits) {
    std::size_t first = token_at(tokens, statement.begin);
    std::size_t begin = first < tokens.size() ? tokens[first].begin : statement.begin;
    std::size_t end = begin;
    for (std::size_t i = first; i < tokens.size() && tokens[i].begin < statement.end; ++i) {
        if (tokens[i].kind != TokenKind::Semicolon) end = tokens[i].end;
    }
    Splice refusal(sql);
    refusal.add(refusal_statement(a.sqlstate, a.message));
    edits.push_back({begin, end, std::move(refusal)});
    plan.statements.emplace_back();
    if (plan.refusal_message.empty()) {
        plan.refusal_sqlstate = a.sqlstate;
        plan.refusal_message = a.message;
    }
}

// The rewrite of one analysed statement: its main DML and the DMLs of its WITH.
void add_rewrite(std::string_view sql, const StatementAnalysis& a, RewritePlan& plan,
                 std::vector<Edit>& edits) {
    std::vector<Edit> cte_edits;
    for (std::size_t i = 0; i < a.in_ctes.size(); ++i) {
        // Appended, not "_" + std::to_string(): GCC 12 at -O3 warns falsely there
        // (-Wrestrict, GCC bug 105651).
        std::string suffix = "_";
        suffix += std::to_string(i + 1);
        cte_edits.push_back(SiteWriter(sql, a.in_ctes[i], suffix).cte_edit());
    }
    if (a.main) {
        edits.push_back(
            {a.rewrite_begin, a.main->end, SiteWriter(sql, *a.main, "").statement(a, cte_edits)});
    } else {
        edits.insert(edits.end(), cte_edits.begin(), cte_edits.end());
    }
    plan.audits = plan.audits || a.main || !a.in_ctes.empty();
    // Flags that hold for the plan when they hold for every statement.
    bool first = plan.statements.empty();
    auto every = [first](bool& flag, bool holds) { flag = (first || flag) && holds; };
    every(plan.returns_no_rows, a.main && !a.main->has_returning);
    every(plan.result_columns_named,
          a.main && (!a.main->has_returning || a.main->returning_names_columns));
    plan.statements.push_back(a.plan);
}

// The plan's action and text once every statement is analysed.
void finish_plan(std::string_view sql, std::vector<Edit> edits, RewritePlan& plan) {
    if (!plan.refusal_message.empty()) {
        plan.action = RewritePlan::Action::Refuse;
    } else if (!edits.empty()) {
        plan.action = RewritePlan::Action::Rewrite;
    }
    if (edits.empty()) return;
    Splice out = apply_edits(sql, 0, sql.size(), std::move(edits));
    plan.sql = out.text();
    plan.source_map = out.pieces();
    plan.original = std::string(sql);
}

}  // namespace

RewritePlan plan_rewrite(std::string_view sql, const CatalogSnapshot& catalog,
                         const config::Audit& policy, bool catalog_is_fresh,
                         bool server_has_pgrevs_grammar) {
    ParseResult parsed = parse_sql(sql);
    if (!parsed.ok) {
        return plan_unparsable(sql, parsed, catalog, policy, server_has_pgrevs_grammar);
    }
    RewritePlan plan;
    std::vector<Token> tokens = lex_sql(sql);
    StatementAnalyzer analyzer(sql, tokens, catalog, policy);
    std::vector<Edit> edits;
    plan.literal_blind = true;
    for (const auto& statement : parsed.statements) {
        std::string_view kind = node_kind(*statement.node);
        plan.literal_blind = plan.literal_blind && (kind == "InsertStmt" || kind == "UpdateStmt" ||
                                                    kind == "DeleteStmt" || kind == "SelectStmt");
        StatementAnalysis a = analyzer.analyze(statement);
        plan.changes_catalog = plan.changes_catalog || a.changes_catalog;
        if (!a.unknown_tables.empty()) {
            if (!catalog_is_fresh) {
                plan.action = RewritePlan::Action::NeedCatalog;
                plan.unknown_tables = a.unknown_tables;
                return plan;
            }
            refuse_unknown_table(a);
        }
        if (a.refused) {
            add_refusal(sql, tokens, statement, a, plan, edits);
        } else {
            // A refused statement links nothing: it never runs (a refused ATTACH PARTITION
            // must not make its table a partition in pgrev's books).
            plan.new_children.insert(plan.new_children.end(), a.new_children.begin(),
                                     a.new_children.end());
            add_rewrite(sql, a, plan, edits);
        }
    }
    finish_plan(sql, std::move(edits), plan);
    return plan;
}

}  // namespace pgrev::audit
