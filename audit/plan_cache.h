// Plans cached by (catalog generation, variant, statement text): a prepared or repeated
// statement is parsed once. Bounded by count and by bytes (texts and plans), least recently
// used out first. Not thread-safe: each I/O thread keeps its own, so the hot path takes no
// lock.
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

// The heap bytes a plan holds (its strings and vectors), about: what caching it costs.
std::size_t plan_bytes(const RewritePlan& plan);

class PlanCache {
  public:
    // Per I/O thread by default: 8 MiB, whatever the sessions send (issue 7 item 14: distinct
    // 60 kB statements held 0.8 GB per thread when only the count was bounded).
    static constexpr std::size_t kDefaultMaxBytes = 8 * 1024 * 1024;

    explicit PlanCache(std::size_t capacity, std::size_t max_bytes = kDefaultMaxBytes)
        : capacity_(capacity), max_bytes_(max_bytes) {}

    // `variant` tells apart plans of the same text made under different conditions (the
    // server's version, say).
    PlanPtr find(std::uint64_t catalog_generation, std::string_view sql, std::uint8_t variant = 0);
    void insert(std::uint64_t catalog_generation, std::string_view sql, PlanPtr plan,
                std::uint8_t variant = 0);

    std::size_t size() const { return index_.size(); }
    std::size_t bytes() const { return bytes_; }  // of all entries, keys included
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }

  private:
    static void build_key(std::string& out, std::uint64_t generation, std::uint8_t variant,
                          std::string_view sql);
    void evict_last();

    struct Entry {
        std::string key;
        PlanPtr plan;
        std::size_t bytes;
    };
    std::size_t capacity_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
    std::string lookup_key_;  // find's key, kept for its capacity
};

}  // namespace pgrev::audit
