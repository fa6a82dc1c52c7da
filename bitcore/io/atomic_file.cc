#include "bitcore/io/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"

namespace bitlab {
namespace {

std::string system_error(const char* what, const std::string& path) {
  return absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno));
}

// Writes all of `size` bytes, retrying short writes and interrupted calls.
bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::vector<ByteSpan>& pieces) {
  const std::string temporary = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw BitLabError(system_error("create", temporary));
  auto fail = [&](const char* what) {
    const std::string message = system_error(what, temporary);
    ::close(fd);
    std::remove(temporary.c_str());
    throw BitLabError(message);
  };
  for (const ByteSpan& piece : pieces) {
    if (!write_all(fd, static_cast<const char*>(piece.data), piece.size)) fail("write");
  }
  if (::fsync(fd) != 0) fail("sync");
  if (::close(fd) != 0) {
    const std::string message = system_error("close", temporary);
    std::remove(temporary.c_str());
    throw BitLabError(message);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string message =
        absl::StrCat("cannot rename ", temporary, " to ", path, ": ", std::strerror(errno));
    std::remove(temporary.c_str());
    throw BitLabError(message);
  }
  // The rename is durable only once the directory entry is on the disk too.
  const std::string directory = directory_of(path);
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

void make_directories(const std::string& path) {
  for (size_t end = 1; end <= path.size(); ++end) {
    if (end != path.size() && path[end] != '/') continue;
    const std::string prefix = path.substr(0, end);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      throw BitLabError(
          absl::StrCat("cannot create directory ", prefix, ": ", std::strerror(errno)));
    }
  }
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    throw BitLabError(absl::StrCat("cannot create directory ", path, ": a file is in the way"));
  }
}

}  // namespace bitlab
