#include "server/own_statements.h"

#include <algorithm>

#include "protocol/byte_reader.h"

namespace pgrev::server {

std::string OwnStatements::key(std::string_view sql, const std::vector<std::uint32_t>& types) {
    std::string k;
    k.reserve(sql.size() + 1 + types.size() * 4);
    k.append(sql);
    k.push_back('\0');
    for (std::uint32_t t : types) {
        char be[4];
        protocol::write_u32_be(be, t);
        k.append(be, sizeof be);
    }
    return k;
}

OwnStatements::Decision OwnStatements::decide(const std::string& key, const std::string& sql,
                                              std::uint64_t generation) {
    // A new catalog (DDL through pgrev, a reload): none of the old rewrites is used again.
    if (generation != generation_) {
        retire_all();
        generation_ = generation;
    }
    if (auto it = by_key_.find(key); it != by_key_.end()) {
        Statement& st = it->second;
        if (st.generation == generation && st.sql == sql) {
            // Not confirmed yet: its Parse is in flight in this pipeline (decide() is asked
            // only with no ReadyForQuery to come, and on_ready forgets what was not
            // confirmed), so the server reads it before this, or skips both after an error.
            st.last_use = ++uses_;
            return {Step::Reuse, st.name};
        }
        retire(it);
    }
    if (!seen_.contains(key) || unkeepable_.contains(key)) return {};
    evict_if_full();
    Statement st;
    do {
        st.name = std::string(kPrefix) + std::to_string(next_name_++);
    } while (client_names_.contains(st.name));
    st.sql = sql;
    st.generation = generation;
    st.last_use = ++uses_;
    std::string name = st.name;
    by_key_.emplace(key, std::move(st));
    return {Step::Create, std::move(name)};
}

void OwnStatements::mark_unkeepable(const std::string& key) {
    by_key_.erase(key);
    // A bounded memory, as seen_ is.
    if (unkeepable_.size() >= kMaxSeen) unkeepable_.clear();
    unkeepable_.insert(key);
}

void OwnStatements::on_seen(const std::string& key) {
    // A bounded hint: which texts came twice lately.
    if (seen_.size() >= kMaxSeen) seen_.clear();
    seen_.insert(key);
}

void OwnStatements::on_created(const std::string& key, const std::string& name) {
    auto it = by_key_.find(key);
    if (it != by_key_.end() && it->second.name == name) it->second.created = true;
}

void OwnStatements::on_closed(const std::string& name) {
    auto it = std::find(closing_.begin(), closing_.end(), name);
    if (it != closing_.end()) closing_.erase(it);
}

std::vector<std::string> OwnStatements::take_to_close() {
    std::vector<std::string> names = std::move(to_close_);
    to_close_.clear();
    closing_.insert(closing_.end(), names.begin(), names.end());
    return names;
}

void OwnStatements::on_ready() {
    std::erase_if(by_key_, [](const auto& entry) { return !entry.second.created; });
    to_close_.insert(to_close_.end(), closing_.begin(), closing_.end());
    closing_.clear();
}

void OwnStatements::retire_all() {
    while (!by_key_.empty())
        retire(by_key_.begin());
}

void OwnStatements::forget_all() {
    by_key_.clear();
    closing_.clear();
    to_close_.clear();
}

void OwnStatements::retire(std::unordered_map<std::string, Statement>::iterator it) {
    to_close_.push_back(it->second.name);
    by_key_.erase(it);
}

void OwnStatements::evict_if_full() {
    while (by_key_.size() >= kMaxStatements) {
        auto oldest = std::min_element(
            by_key_.begin(), by_key_.end(),
            [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
        retire(oldest);
    }
}

}  // namespace pgrev::server
