//===- AtomicFile.cpp - files that are whole or absent --------------------===//
#include "locus/runtime/train/AtomicFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace locus::rt::train {

Status writeFileAtomically(const std::string &path, std::initializer_list<std::string_view> parts) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::error(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  int error = 0;
  for (std::string_view part : parts) {
    const char *at = part.data();
    size_t left = part.size();
    while (left > 0 && !error) {
      ssize_t wrote = ::write(fd, at, left);
      if (wrote < 0) {
        if (errno != EINTR)
          error = errno;
        continue;
      }
      at += wrote;
      left -= static_cast<size_t>(wrote);
    }
  }
  if (!error && ::fsync(fd) != 0)
    error = errno;
  if (::close(fd) != 0 && !error)
    error = errno;
  if (error) {
    ::unlink(tmp.c_str());
    return Status::error(fmt::format("{}: write failed ({} left as it was): {}", path, path,
                                     std::strerror(error)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = errno;
    ::unlink(tmp.c_str());
    return Status::error(
        fmt::format("{}: cannot rename {} to it: {}", path, tmp, std::strerror(error)));
  }
  // The rename lasts once the folder is synced (best effort: some file
  // systems refuse fsync on a directory).
  const std::string::size_type slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    (void)::fsync(dirFd);
    ::close(dirFd);
  }
  return Status::success();
}

} // namespace locus::rt::train
