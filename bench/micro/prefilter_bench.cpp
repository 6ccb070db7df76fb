// The prefilter: what ClientMessages::needs_analysis asks first of every Query and Parse text,
// with the server's own filters (server::ServerState): may it name an audited table (or spell
// one in escapes), or be DDL that can drop revision tables without naming them? A text for
// which both say no is forwarded unparsed; this is all the audit work such a statement costs.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/micro/orm_statements.h"
#include "tests/server/handler_harness.h"

namespace {

using namespace pgrev;

void prefilter(benchmark::State& state, const std::string& sql, bool names_audited_table) {
    const config::Config config = test::reservation_config();
    server::CatalogService catalogs{config};
    server::TlsStore tls{config.tls};
    const server::ServerState server{config, catalogs, tls};
    auto may_need_analysis = [&](const std::string& text) {
        return server.name_filter.may_match(text) || server.ddl_filter.may_match(text);
    };
    if (may_need_analysis(sql) != names_audited_table) {
        state.SkipWithError("the filter's answer is not the one this case is about");
        return;
    }
    for (auto _ : state) {
        bool analyse = may_need_analysis(sql);
        benchmark::DoNotOptimize(analyse);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(sql.size()));
}

}  // namespace

BENCHMARK_CAPTURE(prefilter, short_select, bench::short_select("booking"), false);
BENCHMARK_CAPTURE(prefilter, orm_update, bench::django_update("booking", 1), false);
BENCHMARK_CAPTURE(prefilter, orm_select_2kB, bench::orm_select_2k("booking"), false);
// Names "reservation" only in its last join: the whole text is scanned before the match.
BENCHMARK_CAPTURE(prefilter, orm_select_2kB_audited, bench::orm_select_2k("reservation"), true);
