// One case run directly and through pgrev, step by step, and the verdict: the same, a pgrev
// refusal that changed nothing, or a failure (different answers, different table or revision
// contents, changes despite a refusal, pgrev gone). And the minimizer, which shrinks a failing
// case while it keeps failing the same way.
#pragma once

#include <string>

#include "fuzz_env.h"
#include "step.h"

namespace pgrev::difffuzz {

enum class Verdict { Same, Refused, Failed };

struct CaseResult {
    Verdict verdict = Verdict::Same;
    std::size_t step = 0;  // the step that was refused or differed (0-based)
    std::string what;      // for a failure: which comparison failed
    std::string direct;    // both outcomes of that comparison
    std::string proxied;
    std::string refusal;  // the refusal's message
    std::size_t steps_run = 0;
};

// Runs on fresh sessions; the databases must have been reset by the caller.
CaseResult run_case(FuzzEnv& env, const Sequence& sequence);

// A smaller sequence that still fails with `failure.what`, trying at most `budget` runs.
// Each run starts from fresh databases and a fresh pgrev.
Sequence minimize(FuzzEnv& env, const Sequence& sequence, const CaseResult& failure, int budget);

// "line N: direct: ... / proxied: ..." for the first differing line.
std::string first_difference(const std::string& direct, const std::string& proxied);

}  // namespace pgrev::difffuzz
