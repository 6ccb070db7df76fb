// audit::plan_rewrite alone, no cache: libpg_query's parse of the text, the analysis and the
// rewrite, i.e. what every statement of an audited table costs when no cache has its plan.
// The texts are those of client_path_bench.cpp.
#include <benchmark/benchmark.h>

#include <string>

#include "audit/rewriter.h"
#include "bench/micro/orm_statements.h"
#include "tests/server/handler_harness.h"

namespace {

using namespace pgrev;

void plan_rewrite(benchmark::State& state, const std::string& sql,
                  audit::RewritePlan::Action expected) {
    const config::Config config = test::reservation_config();
    const audit::CatalogSnapshot catalog = test::reservation_catalog();
    if (audit::plan_rewrite(sql, catalog, config.audit, false).action != expected) {
        state.SkipWithError("the plan is not of the kind this case is about");
        return;
    }
    for (auto _ : state) {
        audit::RewritePlan plan = audit::plan_rewrite(sql, catalog, config.audit, false);
        benchmark::DoNotOptimize(plan);
    }
    state.SetItemsProcessed(state.iterations());
}

constexpr auto kRewrite = audit::RewritePlan::Action::Rewrite;
constexpr auto kForward = audit::RewritePlan::Action::Forward;

}  // namespace

BENCHMARK_CAPTURE(plan_rewrite, orm_update, bench::django_update("reservation", 1), kRewrite);
BENCHMARK_CAPTURE(plan_rewrite, orm_update_parameterized,
                  bench::django_update_parameterized("reservation", 1), kRewrite);
BENCHMARK_CAPTURE(plan_rewrite, orm_insert_returning, bench::rails_insert("reservation", 1),
                  kRewrite);
// Names the audited table but writes nothing: parsed, then forwarded as it is.
BENCHMARK_CAPTURE(plan_rewrite, orm_select_2kB_audited, bench::orm_select_2k("reservation"),
                  kForward);
