//===- Replay.cpp - runs a fuzz target over saved inputs ------------------===//
//
//   locus-fuzz-replay-<target> PATH...
//
// Runs the target's LLVMFuzzerTestOneInput once on every file named, and on
// every file in every folder named (sorted; a folder that does not exist is
// skipped). It is linked with each target in every build, so ctest replays
// the seed corpus and each crash input kept in regressions/<target>/
// without libFuzzer; an input that still crashes or trips the target's
// checks fails the test, named on stderr before it runs.
//
//===----------------------------------------------------------------------===//
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool readFile(const std::string &path, std::vector<uint8_t> &out) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return false;
  out.clear();
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, file)) > 0)
    out.insert(out.end(), chunk, chunk + got);
  const bool ok = !std::ferror(file);
  std::fclose(file);
  return ok;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    struct stat st;
    if (::stat(arg.c_str(), &st) != 0) {
      std::fprintf(stderr, "replay: %s does not exist, skipped\n", arg.c_str());
      continue;
    }
    if (!isDirectory(arg)) {
      inputs.push_back(arg);
      continue;
    }
    std::vector<std::string> files;
    if (DIR *dir = ::opendir(arg.c_str())) {
      while (dirent *entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        std::string path = arg + "/" + name;
        if (name[0] != '.' && !isDirectory(path))
          files.push_back(path);
      }
      ::closedir(dir);
    }
    std::sort(files.begin(), files.end());
    inputs.insert(inputs.end(), files.begin(), files.end());
  }
  std::vector<uint8_t> bytes;
  for (const std::string &path : inputs) {
    if (!readFile(path, bytes)) {
      std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
      return 1;
    }
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
    // A copy of exactly its size, as libFuzzer passes it: a read past the
    // end is then past the allocation.
    std::vector<uint8_t> input(bytes);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::fprintf(stderr, "replay: %zu inputs, no crash\n", inputs.size());
  return 0;
}
