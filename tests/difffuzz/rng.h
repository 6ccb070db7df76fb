// A small deterministic random source (splitmix64): the same seed gives the same sequence
// on every platform and standard library, which std::uniform_int_distribution does not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgrev::difffuzz {

class Rng {
  public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // 0 .. n-1 (n > 0)
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    int range(int lo, int hi) { return lo + static_cast<int>(below(hi - lo + 1)); }
    // true with probability percent/100
    bool chance(int percent) { return static_cast<int>(below(100)) < percent; }
    template <class T>
    const T& pick(const std::vector<T>& items) {
        return items[below(items.size())];
    }

  private:
    std::uint64_t state_;
};

// The seed of case `index` of a run started with `seed`: cases can be replayed one by one.
inline std::uint64_t case_seed(std::uint64_t seed, std::uint64_t index) {
    Rng mix(seed ^ (index * 0xd1b54a32d192ed03ULL));
    mix.next();
    return mix.next();
}

}  // namespace pgrev::difffuzz
