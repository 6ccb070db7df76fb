// Which function analyses each kind of top-level statement (libpg_query's node name). To look
// into a new kind, write its function and add it here. INSERT, UPDATE, DELETE and SELECT are
// not listed: they are the statements pgrev rewrites (StatementAnalyzer::analyze_query). A kind
// not listed is refused only when it writes to an audited table inside (refuse_hidden_writes).
// Every kind but those four passes check_links first (link_statements.cpp).
#include <array>
#include <utility>

#include "audit/statement_analyzer.h"

namespace pgrev::audit {

StatementAnalyzer::KindAnalyzer StatementAnalyzer::analyzer_of(std::string_view kind) {
    using S = StatementAnalyzer;
    static constexpr std::array<std::pair<std::string_view, KindAnalyzer>, 22> kAnalyzers{{
        // Changes of whole tables and of tables' definitions (table_statements.cpp).
        {"MergeStmt", &S::analyze_merge},
        {"TruncateStmt", &S::analyze_truncate},
        {"CopyStmt", &S::analyze_copy},
        {"DropStmt", &S::analyze_drop},
        {"DropOwnedStmt", &S::analyze_drop_owned},
        {"AlterObjectSchemaStmt", &S::analyze_set_schema},
        {"RenameStmt", &S::analyze_rename},
        {"AlterTableStmt", &S::analyze_alter_table},
        {"CreateStmt", &S::analyze_create_table},
        {"DoStmt", &S::analyze_do},
        {"CallStmt", &S::analyze_opaque_code},
        {"ExplainStmt", &S::analyze_explain},
        // Prepared statements, which the session keeps (prepared_statements.cpp).
        {"PrepareStmt", &S::analyze_prepare},
        {"ExecuteStmt", &S::analyze_execute},
        {"CreateTableAsStmt", &S::analyze_create_table_as},
        {"DeallocateStmt", &S::analyze_deallocate},
        {"DiscardStmt", &S::analyze_discard},
        // Code the server runs later on the client's behalf (code_statements.cpp). Their links
        // to audited tables are checked by check_links.
        {"CreateFunctionStmt", &S::analyze_create_routine},
        {"RuleStmt", &S::analyze_rule},
        {"CreateTrigStmt", &S::analyze_code_change},
        {"AlterFunctionStmt", &S::analyze_code_change},
        // A view is written to only through what it reads (check_view_links).
        {"ViewStmt", &S::analyze_definition},
    }};
    for (const auto& [name, analyzer] : kAnalyzers) {
        if (name == kind) return analyzer;
    }
    return nullptr;
}

void StatementAnalyzer::analyze_definition(const StatementNode&, StatementAnalysis&) {}

}  // namespace pgrev::audit
