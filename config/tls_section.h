// The tls section of the configuration: tls.client (pgrev as TLS server to its clients) and
// tls.upstream (pgrev as TLS client of PostgreSQL). Internal to config/.
#pragma once

#include "config/config.h"
#include "config/field_reader.h"

namespace pgrev::config::detail {

// Reads `f` (the value of "tls") into `out`, or throws ConfigError through `reader`.
void read_tls(const FieldReader& reader, const Field& f, Tls& out);

}  // namespace pgrev::config::detail
