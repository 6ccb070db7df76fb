// pgrev_difffuzz: a differential fuzzer. Cases generated from a seed run directly against
// direct_db (revisions written by a row trigger) and through pgrev against proxied_db; the
// answers, the tables and the revisions must be the same. See README.md.
#define DOCTEST_CONFIG_IMPLEMENT  // the harness uses doctest's macros; no doctest main here
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "case_runner.h"
#include "classes.h"
#include "generator.h"
#include "rng.h"

using namespace pgrev::difffuzz;

namespace {

struct Options {
    double seconds = 0;
    long iterations = 0;
    std::uint64_t seed = 1;
    std::optional<std::uint64_t> case_seed;
    Classes classes;
    int max_failures = 10;
    int minimize_budget = 60;
    bool verbose = false;
};

const char* const kUsage =
    "usage: pgrev_difffuzz [--seconds N] [--iterations N] [--seed S] [--case SEED]\n"
    "                      [--without CLASS,...] [--only CLASS,...] [--ci] [--max-failures N]\n"
    "                      [--minimize-budget N] [--verbose] [--list-classes]\n";

void split_into(const std::string& list, Classes& classes) {
    std::stringstream in(list);
    for (std::string name; std::getline(in, name, ',');)
        if (!name.empty()) classes.disable(name);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--seconds") {
            o.seconds = std::stod(next());
        } else if (arg == "--iterations") {
            o.iterations = std::stol(next());
        } else if (arg == "--seed") {
            o.seed = std::stoull(next());
        } else if (arg == "--case") {
            o.case_seed = std::stoull(next());
        } else if (arg == "--without") {
            split_into(next(), o.classes);
        } else if (arg == "--only") {
            std::string keep = "," + next() + ",";
            for (const InputClass& c : all_classes())
                if (keep.find(std::string(",") + c.name + ",") == std::string::npos)
                    o.classes.disable(c.name);
        } else if (arg == "--ci") {
            for (const auto& [name, why] : ci_exclusions())
                o.classes.disable(name);
        } else if (arg == "--max-failures") {
            o.max_failures = std::stoi(next());
        } else if (arg == "--minimize-budget") {
            o.minimize_budget = std::stoi(next());
        } else if (arg == "--verbose") {
            o.verbose = true;
        } else if (arg == "--list-classes") {
            for (const InputClass& c : all_classes())
                std::cout << c.name << "\t" << c.what << "\n";
            std::cout << "\n--ci leaves out:\n";
            for (const auto& [name, why] : ci_exclusions())
                std::cout << name << "\t" << why << "\n";
            std::exit(0);
        } else {
            throw std::invalid_argument("unknown argument " + arg + "\n" + kUsage);
        }
    }
    if (o.seconds == 0 && o.iterations == 0 && !o.case_seed) o.iterations = 100;
    return o;
}

// Failures that look alike (same comparison, same first difference up to numbers) are
// reported once and counted.
std::string signature(const CaseResult& r) {
    static const std::regex digits("[0-9]+");
    return r.what + "|" + std::regex_replace(first_difference(r.direct, r.proxied), digits, "N");
}

std::string refusal_reason(const std::string& message) {
    static const std::regex names("(public|other)\\.[A-Za-z_\"]+|\"[^\"]*\"");
    return std::regex_replace(message, names, "<name>");
}

std::string shown(const std::string& text) {
    const std::size_t limit = 6000;
    return text.size() <= limit ? text : text.substr(0, limit) + "\n  ... (cut)\n";
}

void report_failure(const Options& o, const Sequence& original, const Sequence& minimal,
                    const CaseResult& r) {
    std::cout << "\n=== FAILURE: " << r.what << " (step " << r.step + 1 << ")\n"
              << "run seed " << o.seed << ", case seed " << original.seed
              << " (replay: pgrev_difffuzz --case " << original.seed;
    for (const std::string& name : o.classes.disabled())
        std::cout << " --without " << name;
    std::cout << ")\n";
    std::cout << "minimized sequence:\n" << minimal.describe();
    std::cout << "first difference at " << first_difference(r.direct, r.proxied) << "\n";
    std::cout << "--- direct ---\n" << shown(r.direct) << "--- proxied ---\n" << shown(r.proxied);
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    Options o;
    try {
        o = parse(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n" << kUsage;
        return 2;
    }
    std::cout << "pgrev_difffuzz: seed " << o.seed;
    if (!o.classes.disabled().empty()) {
        std::cout << ", without";
        for (const std::string& name : o.classes.disabled())
            std::cout << " " << name;
    }
    std::cout << std::endl;

    FuzzEnv env;
    auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    std::map<std::string, std::pair<long, std::string>> refusals;  // reason: count, example
    std::map<std::string, long> failures;                          // signature: count
    long cases = 0, steps = 0, refused = 0, failed = 0;
    bool fresh_needed = false;
    for (long i = 0;; ++i) {
        if (o.case_seed ? i >= 1
                        : ((o.iterations > 0 && i >= o.iterations) ||
                           (o.seconds > 0 && elapsed() >= o.seconds))) {
            break;
        }
        Sequence sequence = generate_case(
            o.case_seed ? *o.case_seed : case_seed(o.seed, static_cast<std::uint64_t>(i)),
            o.classes);
        CaseResult r;
        try {
            if (fresh_needed || o.case_seed) {
                env.fresh_databases();
            } else {
                env.reset_rows();
            }
            r = run_case(env, sequence);
        } catch (const std::exception& e) {
            r.verdict = Verdict::Failed;
            r.what = std::string("harness error: ") + e.what();
        }
        ++cases;
        steps += static_cast<long>(r.steps_run);
        fresh_needed = sequence.has_ddl() || r.verdict != Verdict::Same;
        if (o.verbose)
            std::cout << "case " << i << " (" << sequence.seed << "):\n" << sequence.describe();
        if (r.verdict == Verdict::Refused) {
            ++refused;
            auto& entry = refusals[refusal_reason(r.refusal)];
            if (entry.first++ == 0) {
                entry.second = sequence.steps[r.step].describe();
            }
        } else if (r.verdict == Verdict::Failed) {
            ++failed;
            if (failures[signature(r)]++ > 0) continue;
            Sequence minimal = o.minimize_budget > 0 && r.what.rfind("harness", 0) != 0
                                   ? minimize(env, sequence, r, o.minimize_budget)
                                   : sequence;
            // Show the outcomes of the minimized case.
            CaseResult shown_result = r;
            try {
                env.fresh_databases();
                CaseResult again = run_case(env, minimal);
                if (again.verdict == Verdict::Failed) shown_result = again;
            } catch (const std::exception&) {
            }
            report_failure(o, sequence, minimal, shown_result);
            fresh_needed = true;
            if (static_cast<long>(failures.size()) >= o.max_failures) break;
        }
    }

    std::cout << "\n=== " << cases << " cases, " << steps << " steps in "
              << static_cast<long>(elapsed()) << " s: " << failed << " failed (" << failures.size()
              << " distinct), " << refused << " refused by pgrev\n";
    if (!refusals.empty()) {
        std::cout << "refusals by reason (a refusal of an ordinary statement is a usability "
                     "defect):\n";
        for (const auto& [reason, entry] : refusals)
            std::cout << "  " << entry.first << "x " << reason << "\n      e.g. " << entry.second
                      << "\n";
    }
    if (!failures.empty()) {
        std::cout << "failures by kind:\n";
        for (const auto& [sig, count] : failures)
            std::cout << "  " << count << "x " << sig << "\n";
    }
    return failed > 0 ? 1 : 0;
}
