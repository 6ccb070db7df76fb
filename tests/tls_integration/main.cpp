// doctest's main for the TLS tests: the shared cluster runs with ssl = on and a pg_hba.conf
// that takes TLS connections only (tls_support.h); each test starts the pgrev it needs.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>

#include "tls_support.h"

int main(int argc, char** argv) {
    // A reader that goes away (`| head`) must not kill the run before it stops PostgreSQL and
    // pgrev and removes its temp dir.
    std::signal(SIGPIPE, SIG_IGN);
    pgrev::it::TestEnv::configure(pgrev::it::tls_it::tls_env_options());
    doctest::Context context(argc, argv);
    return context.run();
}
