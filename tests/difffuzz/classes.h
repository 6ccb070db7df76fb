// The classes of input the generator can produce, each of which can be left out
// (`--without NAME`), so that CI stays green while a known defect's fix has not landed.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace pgrev::difffuzz {

struct InputClass {
    const char* name;
    const char* what;
};

// Every class, in the order `--list-classes` prints them.
const std::vector<InputClass>& all_classes();

class Classes {
  public:
    Classes();  // everything on
    bool on(const std::string& name) const { return disabled_.count(name) == 0; }
    // Throws std::invalid_argument for an unknown name.
    void disable(const std::string& name);
    const std::set<std::string>& disabled() const { return disabled_; }

  private:
    std::set<std::string> disabled_;
};

// The classes the bounded CI run leaves out: those whose defect (ISSUE 7) is not fixed on
// this branch yet. Each entry says which item it waits for; remove it when the fix lands.
const std::vector<std::pair<std::string, std::string>>& ci_exclusions();

}  // namespace pgrev::difffuzz
