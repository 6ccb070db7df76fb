#include "audit/plan_cache.h"

namespace pgrev::audit {

std::string PlanCache::key(std::uint64_t generation, std::string_view sql) {
    std::string k;
    k.reserve(sql.size() + 9);
    k.append(reinterpret_cast<const char*>(&generation), sizeof generation);
    k.push_back('\0');
    k.append(sql);
    return k;
}

PlanPtr PlanCache::find(std::uint64_t catalog_generation, std::string_view sql) {
    std::string k = key(catalog_generation, sql);
    auto it = index_.find(k);
    if (it == index_.end()) {
        ++misses_;
        return nullptr;
    }
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->plan;
}

void PlanCache::insert(std::uint64_t catalog_generation, std::string_view sql, PlanPtr plan) {
    if (capacity_ == 0) return;
    std::string k = key(catalog_generation, sql);
    if (auto it = index_.find(k); it != index_.end()) {
        it->second->plan = std::move(plan);
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    if (index_.size() >= capacity_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
    lru_.push_front(Entry{std::move(k), std::move(plan)});
    // The map's key views the string in the list node, which never moves.
    index_.emplace(lru_.front().key, lru_.begin());
}

}  // namespace pgrev::audit
