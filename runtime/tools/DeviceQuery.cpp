// locus-device-query: prints which back ends this machine offers and, with --self-test, checks
// the CUDA back end end to end.
//
// Exit status: 0 when informational or the self-test passed, 1 when the self-test failed or the
// command line is wrong, and 77 (the "skipped" code of automake and ctest's SKIP_RETURN_CODE
// convention) when a self-test was asked for but there is no CUDA device.
#include "locus/runtime/Device.h"
#include "locus/runtime/SelfTest.h"

#include <cstdio>
#include <cstring>

namespace {

constexpr int kExitSkipped = 77;

void printUsage(std::FILE *out) {
  std::fputs("usage: locus-device-query [--self-test]\n"
             "  Prints the compute back ends locus can use on this machine.\n"
             "  --self-test  also runs a fill kernel, a cuBLAS SGEMM and a cuDNN convolution on\n"
             "               CUDA device 0 and checks them against CPU references\n"
             "               (exit 0: passed, 1: failed, 77: skipped, no CUDA device)\n",
             out);
}

} // namespace

int main(int argc, char **argv) {
  bool selfTest = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--self-test") == 0) {
      selfTest = true;
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      printUsage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "locus-device-query: unknown argument '%s'\n", argv[i]);
      printUsage(stderr);
      return 1;
    }
  }

  locus::rt::BackendInfo info = locus::rt::queryBackends();
  std::fputs(locus::rt::describe(info).c_str(), stdout);
  if (!selfTest)
    return 0;

  if (info.devices.empty()) {
    std::printf("SKIPPED: no CUDA device (%s)\n", info.unavailableReason.c_str());
    return kExitSkipped;
  }
  locus::rt::Status status = locus::rt::cudaSelfTest(0);
  if (!status.isOk()) {
    std::printf("FAILED: %s\n", status.message().c_str());
    return 1;
  }
  std::printf("PASSED: CUDA self-test on device 0 (%s)\n", info.devices[0].name.c_str());
  return 0;
}
