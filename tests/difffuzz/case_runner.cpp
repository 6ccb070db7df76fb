#include "case_runner.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "result_text.h"

namespace pgrev::difffuzz {

using it::PgConn;

namespace {

bool idle(PgConn& c) {
    return PQtransactionStatus(c.get()) == PQTRANS_IDLE;
}

// A refused step that also ends or starts a transaction may have committed its earlier part.
bool controls_transactions(const Step& step) {
    for (const Rendered& piece : step.pieces) {
        std::string part = piece.plain();
        for (const char* word : {"COMMIT", "ROLLBACK", "BEGIN", "END", "ABORT", "START"}) {
            if (part.rfind(word, 0) == 0) return true;
        }
    }
    for (const Step& item : step.items)
        if (item.kind == StepKind::Sync) return true;  // each Sync ends a transaction
    return step.parts.size() > 1 && step.query_text().find("COMMIT") != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// A refusal explains a difference only when everything before the refused result is the same.
bool same_until_refusal(const std::string& direct, const std::string& proxied) {
    std::vector<std::string> d = lines_of(direct), p = lines_of(proxied);
    std::size_t refusal = 0;
    while (refusal < p.size() && (p[refusal].rfind("  message: ", 0) != 0 ||
                                  p[refusal].find("pgrev: ") == std::string::npos)) {
        ++refusal;
    }
    std::size_t block = refusal;
    while (block > 0 && p[block].rfind("  result", 0) != 0 && p[block].rfind("  item", 0) != 0)
        --block;
    for (std::size_t i = 0; i < block; ++i)
        if (i >= d.size() || d[i] != p[i]) return false;
    return true;
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

// pgrev refuses a statement in the extended protocol by parsing, in its place, the DO block
// that raises the refusal: Parse succeeds, Describe shows no parameters and no columns, and
// the refusal arrives at Execute. So when a Prepare or Describe differs, executing the
// statements it prepared (in a transaction that is rolled back) tells whether it was that.
std::string deferred_refusal(PgConn& proxied, const Step& step) {
    std::vector<std::string> names;
    if (step.kind == StepKind::Prepare || step.kind == StepKind::Describe)
        names.push_back(step.name);
    for (const Step& item : step.items)
        if (item.kind == StepKind::Prepare) names.push_back(item.name);
    if (names.empty() || PQstatus(proxied.get()) != CONNECTION_OK) return "";
    it::Deadline deadline = it::deadline_in(std::chrono::seconds(10));
    auto results = [&] {
        std::string text;
        while (it::PgResult r = proxied.next_result(deadline))
            text += it::describe_result(r.get());
        return text;
    };
    // BEGIN and ROLLBACK as named statements of their own: a simple Query, or a Parse of the
    // unnamed statement, would drop the unnamed statement that is to be probed.
    static int probes = 0;
    auto run_named = [&](const char* sql) {
        std::string name = "difffuzz_probe_" + std::to_string(++probes);
        if (PQsendPrepare(proxied.get(), name.c_str(), sql, 0, nullptr)) results();
        if (PQsendQueryPrepared(proxied.get(), name.c_str(), 0, nullptr, nullptr, nullptr, 0))
            results();
    };
    // In a failed transaction nothing can be executed; the case ends here either way.
    if (PQtransactionStatus(proxied.get()) == PQTRANS_INERROR) run_named("ROLLBACK");
    for (const std::string& name : names) {
        // Each in its own transaction: one that fails (wrong parameter count) must not hide
        // the next.
        if (idle(proxied)) run_named("BEGIN");
        std::string text;
        if (PQsendQueryPrepared(proxied.get(), name.c_str(), 0, nullptr, nullptr, nullptr, 0))
            text = results();
        if (!idle(proxied)) run_named("ROLLBACK");
        std::string refusal = pgrev_refusal(text);
        if (!refusal.empty()) return refusal;
    }
    return "";
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
            bool explained =
                !refusal.empty() && pgrev_refusal(d).empty() && same_until_refusal(d, p);
            if (!explained) {
                std::string deferred = deferred_refusal(proxied, step);
                if (!deferred.empty()) {
                    explained = true;
                    refusal = "(Parse accepted it, Execute refused) " + deferred;
                }
            }
            if (!explained) return failed(i, "answers differ", d, p);
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
            if (std::getenv("DIFFFUZZ_DEBUG_MINIMIZE") != nullptr) {
                std::fprintf(stderr, "minimize: %s -> %d %s\n%s", candidate.describe().c_str(),
                             static_cast<int>(r.verdict), r.what.c_str(), r.proxied.c_str());
            }
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

// Simpler forms of a statement list: one statement fewer, then gaps made plain (all, each
// half, then one by one).
std::vector<std::vector<Rendered>> simpler_pieces(const std::vector<Rendered>& pieces,
                                                  bool may_drop) {
    std::vector<std::vector<Rendered>> out;
    if (may_drop && pieces.size() > 1) {
        for (std::size_t k = 0; k < pieces.size(); ++k) {
            std::vector<Rendered> fewer = pieces;
            fewer.erase(fewer.begin() + static_cast<long>(k));
            out.push_back(fewer);
        }
    }
    for (std::size_t k = 0; k < pieces.size(); ++k) {
        std::vector<std::size_t> odd;
        for (std::size_t g = 0; g < pieces[k].gaps.size(); ++g) {
            const std::string& gap = pieces[k].gaps[g];
            if (!gap.empty() && gap != " ") odd.push_back(g);
        }
        auto plain_gaps = [&](std::size_t from, std::size_t to) {
            std::vector<Rendered> changed = pieces;
            for (std::size_t j = from; j < to; ++j) {
                std::size_t g = odd[j];
                changed[k].gaps[g] = g == 0 || g + 1 == changed[k].gaps.size() ? "" : " ";
            }
            out.push_back(changed);
        };
        if (odd.empty()) continue;
        plain_gaps(0, odd.size());
        if (odd.size() > 1) {
            plain_gaps(0, odd.size() / 2);
            plain_gaps(odd.size() / 2, odd.size());
        }
        if (odd.size() <= 10) {
            for (std::size_t j = 0; j < odd.size() && odd.size() > 1; ++j)
                plain_gaps(j, j + 1);
        }
    }
    return out;
}

// Simpler forms of step `i` of `s`.
std::vector<Sequence> simpler(const Sequence& s, std::size_t i) {
    std::vector<Sequence> out;
    const Step& step = s.steps[i];
    auto with = [&](const Step& changed) {
        Sequence c = s;
        c.steps[i] = changed;
        out.push_back(c);
    };
    if (step.kind == StepKind::Pipeline) {
        for (std::size_t k = 0; k < step.items.size() && step.items.size() > 1; ++k) {
            Step fewer = step;
            fewer.items.erase(fewer.items.begin() + static_cast<long>(k));
            with(fewer);
        }
        for (std::size_t k = 0; k < step.items.size(); ++k) {
            for (std::vector<Rendered>& pieces : simpler_pieces(step.items[k].pieces, false)) {
                Step changed = step;
                changed.items[k].set_pieces(std::move(pieces));
                with(changed);
            }
        }
        return out;
    }
    for (std::vector<Rendered>& pieces :
         simpler_pieces(step.pieces, step.kind == StepKind::Query)) {
        Step changed = step;
        changed.set_pieces(std::move(pieces));
        with(changed);
    }
    return out;
}

}  // namespace

Sequence minimize(FuzzEnv& env, const Sequence& sequence, const CaseResult& failure, int budget) {
    Minimizer m(env, failure, budget);
    Sequence best = sequence;
    best.steps.resize(std::min(best.steps.size(), failure.step + 1));
    if (!m.still_fails(best)) best = sequence;  // needs the rest (e.g. the final contents)
    // Whole steps first, from the end, again while that helps (a COMMIT may be needed only
    // until its BEGIN goes).
    for (bool progress = true; progress && !m.exhausted();) {
        progress = false;
        for (std::size_t i = best.steps.size();
             i-- > 0 && best.steps.size() > 1 && !m.exhausted();) {
            Sequence candidate = best;
            candidate.steps.erase(candidate.steps.begin() + static_cast<long>(i));
            if (m.still_fails(candidate)) {
                best = candidate;
                progress = true;
            }
        }
    }
    // Then inside each step, until nothing simpler still fails.
    for (std::size_t i = best.steps.size(); i-- > 0 && !m.exhausted();) {
        bool progress = true;
        while (progress && !m.exhausted()) {
            progress = false;
            for (const Sequence& candidate : simpler(best, i)) {
                if (m.still_fails(candidate)) {
                    best = candidate;
                    progress = true;
                    break;
                }
                if (m.exhausted()) break;
            }
        }
    }
    return best;
}

}  // namespace pgrev::difffuzz
