#include "case_runner.h"

#include <sstream>
#include <vector>

namespace pgrev::difffuzz {

using it::PgConn;

namespace {

bool idle(PgConn& c) {
    return PQtransactionStatus(c.get()) == PQTRANS_IDLE;
}

// A refused step that also ends or starts a transaction may have committed its earlier part.
bool controls_transactions(const Step& step) {
    for (const std::string& part : step.plain_parts) {
        for (const char* word : {"COMMIT", "ROLLBACK", "BEGIN", "END", "ABORT", "START"}) {
            if (part.rfind(word, 0) == 0) return true;
        }
    }
    return step.parts.size() > 1 && step.query_text().find("COMMIT") != std::string::npos;
}

CaseResult failed(std::size_t step, std::string what, std::string direct, std::string proxied) {
    CaseResult r;
    r.verdict = Verdict::Failed;
    r.step = step;
    r.what = std::move(what);
    r.direct = std::move(direct);
    r.proxied = std::move(proxied);
    return r;
}

}  // namespace

std::string first_difference(const std::string& direct, const std::string& proxied) {
    std::istringstream a(direct), b(proxied);
    std::string la, lb;
    for (int n = 1;; ++n) {
        bool ha = static_cast<bool>(std::getline(a, la));
        bool hb = static_cast<bool>(std::getline(b, lb));
        if (!ha && !hb) return "";
        if (!ha) la = "(end)";
        if (!hb) lb = "(end)";
        if (la != lb) {
            return "line " + std::to_string(n) + ":\n    direct:  " + la + "\n    proxied: " + lb;
        }
    }
}

CaseResult run_case(FuzzEnv& env, const Sequence& sequence) {
    it::Deadline connect_deadline = it::deadline_in(std::chrono::seconds(10));
    PgConn direct = PgConn::connect(env.direct_conninfo(), connect_deadline);
    it::PgConn::Attempt attempt = PgConn::try_connect(env.proxied_conninfo(), connect_deadline);
    if (!attempt.conn) return failed(0, "cannot connect through pgrev", "", attempt.error);
    PgConn& proxied = *attempt.conn;

    std::string committed = env.snapshot(true);  // proxied_db when both sessions were last idle
    CaseResult result;
    for (std::size_t i = 0; i < sequence.steps.size(); ++i) {
        const Step& step = sequence.steps[i];
        std::string d = run_step(direct, step, env.types(false));
        std::string p = run_step(proxied, step, env.types(true));
        result.steps_run = i + 1;
        if (!env.pgrev_running()) return failed(i, "pgrev exited", d, p + env.pgrev_log());
        if (d != p) {
            std::string refusal = pgrev_refusal(p);
            if (refusal.empty() || !pgrev_refusal(d).empty()) {
                return failed(i, "answers differ", d, p);
            }
            // A refusal ends the case (the two sides are no longer in step); it must have
            // changed nothing that commits.
            if (!idle(proxied)) proxied.run("ROLLBACK", it::deadline_in(std::chrono::seconds(10)));
            std::string now = env.snapshot(true);
            if (now != committed && !controls_transactions(step)) {
                return failed(i, "proxied contents changed by a refused step", committed, now);
            }
            result.verdict = Verdict::Refused;
            result.step = i;
            result.refusal = refusal;
            result.direct = d;
            result.proxied = p;
            return result;
        }
        if (idle(direct) && idle(proxied)) {
            std::string sd = env.snapshot(false);
            std::string sp = env.snapshot(true);
            if (sd != sp) return failed(i, "table or revision contents differ", sd, sp);
            committed = sp;
        }
    }
    // Closing the sessions rolls back what is open; then both must still agree.
    direct = PgConn::connect(env.direct_conninfo(), it::deadline_in(std::chrono::seconds(10)));
    attempt.conn.reset();
    std::string sd = env.snapshot(false);
    std::string sp = env.snapshot(true);
    if (sd != sp) {
        return failed(sequence.steps.size() - 1, "contents differ after the sessions closed", sd,
                      sp);
    }
    return result;
}

namespace {

class Minimizer {
  public:
    Minimizer(FuzzEnv& env, const CaseResult& failure, int budget)
        : env_(env), what_(failure.what), budget_(budget) {}

    bool still_fails(const Sequence& candidate) {
        if (budget_-- <= 0) return false;
        try {
            env_.fresh_databases();
            CaseResult r = run_case(env_, candidate);
            return r.verdict == Verdict::Failed && r.what == what_;
        } catch (const std::exception&) {
            return false;
        }
    }
    bool exhausted() const { return budget_ <= 0; }

  private:
    FuzzEnv& env_;
    std::string what_;
    int budget_;
};

// Tries each simplification of `items` (removal, then a simpler form), keeping what still fails.
template <class Simplify>
void simplify_each(Sequence& best, Minimizer& m, Simplify simplify) {
    for (std::size_t i = best.steps.size(); i-- > 0 && !m.exhausted();) {
        for (int variant = 0; variant < 8 && i < best.steps.size(); ++variant) {
            Sequence candidate = best;
            if (!simplify(candidate, i, variant)) continue;
            if (m.still_fails(candidate)) best = candidate;
        }
    }
}

}  // namespace

Sequence minimize(FuzzEnv& env, const Sequence& sequence, const CaseResult& failure, int budget) {
    Minimizer m(env, failure, budget);
    Sequence best = sequence;
    best.steps.resize(std::min(best.steps.size(), failure.step + 1));
    if (!m.still_fails(best)) best = sequence;  // needs the rest (e.g. the final contents)
    // Whole steps first.
    simplify_each(best, m, [](Sequence& s, std::size_t i, int variant) {
        if (variant != 0 || s.steps.size() < 2) return false;
        s.steps.erase(s.steps.begin() + static_cast<long>(i));
        return true;
    });
    // Then inside steps: statements of a Query, items of a pipeline, plain spellings.
    simplify_each(best, m, [](Sequence& s, std::size_t i, int variant) {
        Step& step = s.steps[i];
        std::size_t k = static_cast<std::size_t>(variant);
        if (step.kind == StepKind::Query) {
            if (k < step.parts.size() && step.parts.size() > 1) {
                step.parts.erase(step.parts.begin() + variant);
                step.plain_parts.erase(step.plain_parts.begin() + variant);
                return true;
            }
            k -= std::min(k, step.parts.size());
            if (k < step.parts.size() && step.parts[k] != step.plain_parts[k]) {
                step.parts[k] = step.plain_parts[k];
                return true;
            }
            return false;
        }
        if (step.kind == StepKind::Pipeline && k < step.items.size() && step.items.size() > 1) {
            step.items.erase(step.items.begin() + variant);
            return true;
        }
        return false;
    });
    return best;
}

}  // namespace pgrev::difffuzz
