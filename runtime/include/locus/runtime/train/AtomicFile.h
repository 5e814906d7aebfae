//===- AtomicFile.h - files that are whole or absent ------------*- C++ -*-===//
//
// Everything the training binary writes for later (safetensors, training
// state, ONNX models, features, plots) goes through one path: a temporary
// file in the same folder, written, fsync'ed, renamed over the target, the
// folder synced. A full disk or a crash leaves the previous file whole and
// no partial one; the error names the target.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_ATOMICFILE_H
#define LOCUS_RUNTIME_TRAIN_ATOMICFILE_H

#include "locus/runtime/Error.h"

#include <initializer_list>
#include <string>
#include <string_view>

namespace locus::rt::train {

/// Writes the concatenation of `parts` to `path` atomically.
Status writeFileAtomically(const std::string &path, std::initializer_list<std::string_view> parts);

} // namespace locus::rt::train

#endif
