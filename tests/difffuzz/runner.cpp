#include "runner.h"

#include <regex>
#include <sstream>

#include "result_text.h"

namespace pgrev::difffuzz {

using it::Deadline;
using it::PgConn;
using it::PgResult;

namespace {

Deadline step_deadline() {
    return it::deadline_in(std::chrono::seconds(15));
}

constexpr unsigned kFirstNormalObjectId = 16384;

// describe_result's text with user type OIDs replaced by names.
std::string normalized(const std::string& text, TypeNames& types) {
    static const std::regex oid("type=([0-9]+)");
    std::string out;
    auto begin = std::sregex_iterator(text.begin(), text.end(), oid);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        unsigned value = static_cast<unsigned>(std::stoul((*it)[1].str()));
        out += text.substr(last, static_cast<std::size_t>(it->position()) - last);
        out += value >= kFirstNormalObjectId ? "type=" + types.name(value) : it->str();
        last = static_cast<std::size_t>(it->position() + it->length());
    }
    return out + text.substr(last);
}

class Writer {
  public:
    Writer(PgConn& conn, TypeNames& types) : conn_(conn), types_(types) {}

    void line(const std::string& text) { text_ += text + "\n"; }
    void result(const std::string& label, const PGresult* r) {
        text_ += label + ": " + normalized(it::describe_result(r), types_);
        notices();
    }
    void notices() {
        for (const std::string& n : conn_.take_notices())
            line("  notice " + n);
    }
    // Results until libpq says the command is done.
    void rest(const std::string& label) {
        while (PgResult r = conn_.next_result(step_deadline())) {
            result(label, r.get());
            ExecStatusType status = PQresultStatus(r.get());
            if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
                line("  (COPY: the fuzzer does not send COPY data; abandoning the connection)");
                break;
            }
        }
    }
    void status() {
        static const char* names[] = {"IDLE", "ACTIVE", "INTRANS", "INERROR", "UNKNOWN"};
        int s = static_cast<int>(PQtransactionStatus(conn_.get()));
        line(std::string("  transaction ") + (s >= 0 && s <= 4 ? names[s] : "?"));
    }
    bool sent(int ok) {
        if (!ok) line("  send failed: " + it::mask_ports(conn_.error_message()));
        return ok != 0;
    }
    const std::string& text() const { return text_; }

  private:
    PgConn& conn_;
    TypeNames& types_;
    std::string text_;
};

struct Values {
    std::vector<const char*> pointers;
    explicit Values(const std::vector<Param>& params) {
        for (const Param& p : params)
            pointers.push_back(p ? p->c_str() : nullptr);
    }
    int count() const { return static_cast<int>(pointers.size()); }
    const char* const* data() const { return pointers.data(); }
};

// Sends one extended-protocol step (no waiting); false when libpq refused to send.
bool send(PgConn& c, const Step& step, Writer& w) {
    PGconn* pg = c.get();
    Values values(step.params);
    switch (step.kind) {
        case StepKind::Params:
            return w.sent(PQsendQueryParams(pg, step.sql.c_str(), values.count(), nullptr,
                                            values.data(), nullptr, nullptr, 0));
        case StepKind::Prepare:
            return w.sent(PQsendPrepare(pg, step.name.c_str(), step.sql.c_str(), 0, nullptr));
        case StepKind::ExecPrepared:
            return w.sent(PQsendQueryPrepared(pg, step.name.c_str(), values.count(), values.data(),
                                              nullptr, nullptr, 0));
        case StepKind::Describe:
            return w.sent(PQsendDescribePrepared(pg, step.name.c_str()));
        case StepKind::Sync:
            return w.sent(PQpipelineSync(pg));
        default:
            return false;
    }
}

void describe_params(const PGresult* r, Writer& w, TypeNames& types) {
    std::string text = "  parameter types:";
    for (int i = 0; i < PQnparams(r); ++i) {
        unsigned oid = PQparamtype(r, i);
        text += " " + (oid >= kFirstNormalObjectId ? types.name(oid) : std::to_string(oid));
    }
    w.line(text);
}

void run_pipeline(PgConn& c, const Step& step, Writer& w, TypeNames& types) {
    if (!w.sent(PQenterPipelineMode(c.get()))) return;
    std::vector<const Step*> sent;
    for (const Step& item : step.items)
        if (send(c, item, w)) sent.push_back(&item);
    w.sent(PQpipelineSync(c.get()));
    // Each command ends with a null result; each Sync is one PGRES_PIPELINE_SYNC.
    std::size_t expected = sent.size() + 1;
    for (std::size_t i = 0; i < expected; ++i) {
        std::string label = "  item " + std::to_string(i + 1);
        PgResult first = c.next_result(step_deadline());
        if (!first) {
            w.line(label + ": (no result)");
            continue;
        }
        ExecStatusType status = PQresultStatus(first.get());
        if (i < sent.size() && sent[i]->kind == StepKind::Describe)
            describe_params(first.get(), w, types);
        w.result(label, first.get());
        if (status == PGRES_PIPELINE_SYNC) continue;
        if (status == PGRES_FATAL_ERROR && PQstatus(c.get()) == CONNECTION_BAD) break;
        w.rest(label);
    }
    w.sent(PQexitPipelineMode(c.get()));
}

}  // namespace

std::string TypeNames::name(unsigned oid) {
    auto found = cache_.find(oid);
    if (found != cache_.end()) return found->second;
    std::string name = "oid " + std::to_string(oid);
    try {
        PgConn admin = PgConn::connect(conninfo_, step_deadline());
        name =
            admin.value("SELECT format_type(" + std::to_string(oid) + ", NULL)", step_deadline());
    } catch (const std::exception&) {
        // keep the number: a difference then shows in the comparison
    }
    return cache_[oid] = name;
}

std::string run_step(PgConn& conn, const Step& step, TypeNames& types) {
    Writer w(conn, types);
    try {
        switch (step.kind) {
            case StepKind::Query:
                if (w.sent(PQsendQuery(conn.get(), step.query_text().c_str()))) w.rest("  result");
                break;
            case StepKind::Pipeline:
                run_pipeline(conn, step, w, types);
                break;
            case StepKind::Describe:
                if (send(conn, step, w)) {
                    while (PgResult r = conn.next_result(step_deadline())) {
                        describe_params(r.get(), w, types);
                        w.result("  description", r.get());
                    }
                }
                break;
            default:
                if (send(conn, step, w)) w.rest("  result");
        }
    } catch (const it::TimeoutError& e) {
        w.line(std::string("  !!! timeout: ") + e.what());
        return w.text();
    }
    w.notices();
    if (PQstatus(conn.get()) == CONNECTION_BAD) {
        w.line("  !!! connection lost: " + it::mask_ports(conn.error_message()));
    } else {
        w.status();
    }
    return w.text();
}

std::string pgrev_refusal(const std::string& transcript) {
    // Refusals start with "pgrev:"; the search_path guard's comes wrapped in a cast error
    // (invalid input syntax for type integer: "pgrev: ..."), which counts as one too.
    std::istringstream in(transcript);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("  message: ", 0) != 0) continue;
        std::string message = line.substr(11);
        if (message.rfind("pgrev:", 0) == 0 || message.find("\"pgrev: ") != std::string::npos) {
            return message;
        }
    }
    return "";
}

}  // namespace pgrev::difffuzz
