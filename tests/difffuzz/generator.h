// Cases from a seed: statements on the audited tables in many shapes and spellings, wrapped
// in the client traffic that carries them (simple Queries, the extended protocol, pipelines,
// SQL PREPARE, transactions), with DDL and settings changes in between.
#pragma once

#include <cstdint>

#include "classes.h"
#include "step.h"

namespace pgrev::difffuzz {

// The same seed and classes give the same case.
Sequence generate_case(std::uint64_t seed, const Classes& on);

}  // namespace pgrev::difffuzz
