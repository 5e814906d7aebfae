//===- CpuFeatures.h - the ISA extensions compiled kernels may need -*- C++ -*-===//
//
// locusc compiles the kernels for one CPU (--mcpu, by default the machine it
// runs on) and records in the descriptor which of these extensions that CPU
// has; the training binary checks them before anything runs, so a binary
// copied to an older CPU stops with a message instead of an illegal
// instruction. The names are LLVM's and GCC's (__builtin_cpu_supports).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_CPUFEATURES_H
#define LOCUS_RUNTIME_CPUFEATURES_H

#include <string>
#include <vector>

namespace locus::rt {

/// The x86 extensions that are recorded and checked.
const std::vector<std::string> &checkedCpuFeatures();

/// The entries of `required` this CPU lacks; a name not in
/// checkedCpuFeatures() counts as lacking. Off x86 the known names all pass.
std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &required);

} // namespace locus::rt

#endif
