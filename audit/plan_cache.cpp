#include "audit/plan_cache.h"

#include "audit/plan_template.h"

namespace pgrev::audit {

std::size_t plan_bytes(const RewritePlan& plan) {
    std::size_t bytes = sizeof plan + plan.sql.capacity() + plan.original.capacity() +
                        plan.refusal_sqlstate.capacity() + plan.refusal_message.capacity() +
                        plan.source_map.capacity() * sizeof(SourcePiece);
    bytes += plan.statements.capacity() * sizeof(StatementPlan);
    for (const auto& st : plan.statements)
        bytes += st.prepared_name.capacity();
    for (const auto& t : plan.unknown_tables)
        bytes += sizeof(std::string) + t.capacity();
    if (plan.shape_template) bytes += plan.shape_template->bytes();
    return bytes;
}

void PlanCache::build_key(std::string& out, std::uint64_t generation, std::uint8_t variant,
                          std::string_view sql) {
    out.clear();
    out.reserve(sql.size() + 9);
    out.append(reinterpret_cast<const char*>(&generation), sizeof generation);
    out.push_back(static_cast<char>(variant));
    out.append(sql);
}

PlanPtr PlanCache::find(std::uint64_t catalog_generation, std::string_view sql,
                        std::uint8_t variant) {
    // Built in the cache's own buffer: a lookup allocates nothing once it has grown (up to
    // 64 KiB: a bigger text's buffer is not kept).
    build_key(lookup_key_, catalog_generation, variant, sql);
    auto it = index_.find(std::string_view(lookup_key_));
    if (lookup_key_.capacity() > 64 * 1024) std::string().swap(lookup_key_);
    if (it == index_.end()) {
        ++misses_;
        return nullptr;
    }
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->plan;
}

void PlanCache::evict_last() {
    bytes_ -= lru_.back().bytes;
    index_.erase(std::string_view(lru_.back().key));
    lru_.pop_back();
}

void PlanCache::insert(std::uint64_t catalog_generation, std::string_view sql, PlanPtr plan,
                       std::uint8_t variant) {
    if (capacity_ == 0 || !plan) return;
    std::string k;
    build_key(k, catalog_generation, variant, sql);
    // The key twice (the list's string and the map's node), the plan, the nodes around them.
    std::size_t bytes = 2 * k.capacity() + plan_bytes(*plan) + 128;
    if (auto it = index_.find(k); it != index_.end()) {
        // Same text, new plan: drop the old entry and insert afresh (its size may differ).
        auto entry = it->second;
        bytes_ -= entry->bytes;
        index_.erase(it);  // before the list node that holds the key it views
        lru_.erase(entry);
    }
    if (bytes > max_bytes_) return;  // would push out everything else
    while (!lru_.empty() && (index_.size() >= capacity_ || bytes_ + bytes > max_bytes_))
        evict_last();
    lru_.push_front(Entry{std::move(k), std::move(plan), bytes});
    bytes_ += bytes;
    // The map's key views the string in the list node, which never moves.
    index_.emplace(lru_.front().key, lru_.begin());
}

}  // namespace pgrev::audit
