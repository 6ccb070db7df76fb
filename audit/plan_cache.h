// Plans cached by (catalog generation, statement text): a prepared or repeated statement is
// parsed once. Bounded, least recently used out first. Not thread-safe: each I/O thread keeps
// its own, so the hot path takes no lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "audit/rewrite_plan.h"

namespace pgrev::audit {

using PlanPtr = std::shared_ptr<const RewritePlan>;

class PlanCache {
  public:
    explicit PlanCache(std::size_t capacity) : capacity_(capacity) {}

    PlanPtr find(std::uint64_t catalog_generation, std::string_view sql);
    void insert(std::uint64_t catalog_generation, std::string_view sql, PlanPtr plan);

    std::size_t size() const { return index_.size(); }
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }

  private:
    static std::string key(std::uint64_t generation, std::string_view sql);

    struct Entry {
        std::string key;
        PlanPtr plan;
    };
    std::size_t capacity_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
};

}  // namespace pgrev::audit
