//===- FuzzSupport.h - what the fuzz targets share -------------*- C++ -*-===//
//
// Each target in this folder is one file defining LLVMFuzzerTestOneInput; it
// is linked twice: with libFuzzer (LOCUS_FUZZ, clang) and with Replay.cpp
// (every build), which runs it over the seed corpus and the regression
// inputs as a ctest test.
//
// Entry points that take a path (the ONNX importer, the annotation side
// file, safetensors, IDX) read the input from a scratch file: the path
// includes the process id, so replays run by ctest in parallel do not meet.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_FUZZ_FUZZSUPPORT_H
#define LOCUS_TEST_FUZZ_FUZZSUPPORT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace locus::fuzz {

/// A finding: a violated contract of the parser under test (a failure
/// without a message, a result that breaks its own invariants). Aborts, so
/// libFuzzer keeps the input as a crash and the replay test fails.
[[noreturn]] inline void violation(const char *target, const std::string &what) {
  std::fprintf(stderr, "locus-fuzz %s: %s\n", target, what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// The scratch file `<dir>/locus-fuzz-<pid>-<name>`: tmpfs where there is
/// one. Removed when the process exits.
class ScratchFile {
public:
  explicit ScratchFile(const std::string &name) {
    const char *dir = std::getenv("TMPDIR");
    struct stat st;
    std::string base = ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
                               ::access("/dev/shm", W_OK) == 0
                           ? "/dev/shm"
                           : (dir && *dir ? dir : "/tmp");
    path_ = base + "/locus-fuzz-" + std::to_string(::getpid()) + "-" + name;
  }
  ~ScratchFile() { ::unlink(path_.c_str()); }
  ScratchFile(const ScratchFile &) = delete;
  ScratchFile &operator=(const ScratchFile &) = delete;

  /// Replaces the file's contents with `data`; returns its path.
  const std::string &write(const uint8_t *data, size_t size) const {
    FILE *file = std::fopen(path_.c_str(), "wb");
    if (!file || (size && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0) {
      std::perror(path_.c_str());
      std::abort(); // the harness, not the parser: stop rather than test nothing
    }
    return path_;
  }
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

} // namespace locus::fuzz

#endif
