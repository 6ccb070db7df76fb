// doctest's main for the audit integration tests. The shared PostgreSQL (database `app` with
// table `reservation`) and the shared pgrev auditing it are started by the first test that
// needs them (tests/integration/test_env.h); tests that need another configuration start
// their own pgrev in front of the same cluster.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <csignal>

namespace {

// A reader that goes away (`| head`) must not kill the run before it stops PostgreSQL and
// pgrev and removes its temp dir.
const bool kIgnoreSigpipe = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

}  // namespace
