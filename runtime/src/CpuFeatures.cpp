#include "locus/runtime/CpuFeatures.h"

namespace locus::rt {

namespace {
struct Feature {
  const char *name;
  bool (*present)();
};

#if defined(__x86_64__) || defined(__i386__)
// __builtin_cpu_supports needs a literal, hence one function per name.
#define LOCUS_FEATURE(NAME) {NAME, [] { return __builtin_cpu_supports(NAME) != 0; }}
#else
#define LOCUS_FEATURE(NAME) {NAME, [] { return true; }}
#endif

const Feature kFeatures[] = {
    LOCUS_FEATURE("popcnt"),   LOCUS_FEATURE("sse4.1"),   LOCUS_FEATURE("sse4.2"),
    LOCUS_FEATURE("avx"),      LOCUS_FEATURE("avx2"),     LOCUS_FEATURE("fma"),
    LOCUS_FEATURE("bmi"),      LOCUS_FEATURE("bmi2"),     LOCUS_FEATURE("avx512f"),
    LOCUS_FEATURE("avx512dq"), LOCUS_FEATURE("avx512bw"), LOCUS_FEATURE("avx512vl"),
    LOCUS_FEATURE("avx512cd"),
};
#undef LOCUS_FEATURE
} // namespace

const std::vector<std::string> &checkedCpuFeatures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Feature &f : kFeatures)
      out.push_back(f.name);
    return out;
  }();
  return names;
}

std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &required) {
  std::vector<std::string> missing;
  for (const std::string &name : required) {
    // A name this runtime cannot check counts as missing: it cannot vouch for it.
    bool present = false;
    for (const Feature &f : kFeatures)
      if (name == f.name)
        present = f.present();
    if (!present)
      missing.push_back(name);
  }
  return missing;
}

} // namespace locus::rt
