// Where the clients of workload.h run: forked processes (to be SIGKILLed) or threads.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>

#include "workload.h"

namespace pgrev::it::faults {

pid_t fork_client(const ClientPlan& plan, const std::string& ledger_path) {
    pid_t pid = fork();
    if (pid != 0) return pid;  // the parent (or -1)
    // The child: nothing of the test process's connections and files may live on in it (a
    // connection the parent closes must be seen closed), and it must not outlive the test.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close_range(3, ~0U, 0);
    int fd = open(ledger_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) _exit(2);
    ClientPlan own = plan;
    own.keep_going = [] { return true; };
    own.record = [fd, client = plan.client](int txn, TxnState state) {
        // One write() per line, so a kill cuts at most the last line.
        std::string line = ledger_line(client, txn, state);
        ssize_t ignored = write(fd, line.data(), line.size());
        (void)ignored;
    };
    ClientReport report = run_client(own);
    std::string line = "hang: " + report.hang + "\n";
    ssize_t ignored = write(fd, line.data(), line.size());
    (void)ignored;
    _exit(3);
}

ThreadedLoad::ThreadedLoad(const std::string& conninfo, int first_client, int clients,
                           Ledger& ledger, std::function<Vanish(int client, int txn)> vanish)
    : committed_(new std::atomic<int>[clients]),
      finished_(new std::atomic<bool>[clients]),
      reports_(clients) {
    plans_.resize(clients);
    for (int i = 0; i < clients; ++i) {
        committed_[i] = 0;
        finished_[i] = false;
        ClientPlan& plan = plans_[i];
        plan.conninfo = conninfo;
        plan.client = first_client + i;
        plan.extended = i % 2 == 1;
        plan.keep_going = [this] { return !stopping_; };
        if (vanish)
            plan.vanish = [vanish, client = plan.client](int txn) { return vanish(client, txn); };
        plan.record = [this, i, &ledger, client = plan.client](int txn, TxnState state) {
            ledger.record(client, txn, state);
            if (state == TxnState::Committed) ++committed_[i];
        };
    }
    for (int i = 0; i < clients; ++i) {
        threads_.emplace_back([this, i] {
            reports_[i] = run_client(plans_[i]);
            finished_[i] = true;
        });
    }
}

ThreadedLoad::~ThreadedLoad() {
    stop();
}

std::vector<int> ThreadedLoad::committed() const {
    std::vector<int> counts;
    for (std::size_t i = 0; i < plans_.size(); ++i)
        counts.push_back(committed_[i]);
    return counts;
}

bool ThreadedLoad::wait_for_progress(const std::vector<int>& before,
                                     std::chrono::seconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        bool all = true;
        for (std::size_t i = 0; i < plans_.size(); ++i) {
            if (finished_[i]) return false;
            all = all && committed_[i] > before[i];
        }
        if (all) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::vector<ClientReport> ThreadedLoad::stop() {
    stopping_ = true;
    for (std::thread& t : threads_)
        t.join();
    threads_.clear();
    return reports_;
}

}  // namespace pgrev::it::faults
