#include "config/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pgrev::config::detail {

std::string resolve_file_name(const std::filesystem::path& base_dir, const std::string& name) {
    return (base_dir / std::filesystem::path(name)).lexically_normal().string();
}

std::string unreadable_reason(const std::string& path) {
    // open() as the user pgrev runs as, not access(): a key file readable only by root must
    // fail here, at start, rather than at the first client's handshake.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::strerror(errno);
    struct stat st {};
    std::string reason;
    if (::fstat(fd, &st) != 0) {
        reason = std::strerror(errno);
    } else if (S_ISDIR(st.st_mode)) {
        reason = "is a directory, not a file";
    }
    ::close(fd);
    return reason;
}

}  // namespace pgrev::config::detail
