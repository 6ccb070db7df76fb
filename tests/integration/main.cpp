// doctest's main for the integration tests; the shared PostgreSQL and pgrev are started
// by the first test that needs them (test_env.h).
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
