//===- LossKernels.h - the generated loss kernels' ABI ----------*- C++ -*-===//
//
// The ABI between locusc and the runtime for the loss kernels of
// lib/Conversion/LocusToKernels: the bilinear rules'
// (locus-generate-loss-kernels), FF's and SCFF's goodness
// (locus-generate-goodness-kernels) and InfoNCE's
// (locus-generate-infonce-kernels). Each takes MLIR memref descriptors
// (llvm.emit_c_interface). The step program calls them itself, between the
// GEMM primitives it calls on the backend, with scratch from its arena; the
// object also lists each kind by name in a table, for tests and tools that
// run one kernel alone. The losses and their gradients are the compiler's
// (METHOD.md section 1). A kernel writes its loss into a float64 `loss`
// (a slot of the step program's loss buffer: the descriptor's offset is
// honoured).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_LOSSKERNELS_H
#define LOCUS_RUNTIME_ABI_LOSSKERNELS_H

#include "locus/runtime/abi/MemRef.h"

#include <cstdint>
#include <string>

namespace locus::abi {

/// Bilinear rules: z [N, D], bc [N, D] (row r: B c[r]), negatives [N]
/// (drawn rows; empty for "next"), dz [N, D] (overwritten, or added to when
/// accumulate), factors [N, D] (row r: g_pos z[pos r] + g_neg z[neg r], so
/// dL/dB = factors^T c), loss (written: weight * mean of the rows' terms).
/// work [N, 4] is float64 scratch the kernel keeps each row's two scores and
/// two derivatives in.
using BilinearLossFn = void (*)(MemRef2F32 *z, MemRef2F32 *bc, MemRef1I32 *negatives,
                                MemRef2F32 *dz, MemRef2F32 *factors, MemRef2F64 *work,
                                MemRef0F64 *loss, double theta, double weight, bool accumulate);
/// Goodness (FF, SCFF): the block output y [2M, C, H*W] (rows m < M the
/// positives, row M + m the negative of row m) and its gradient dy
/// (overwritten), the loss.
using GoodnessLossFn = void (*)(MemRef3F32 *y, MemRef3F32 *dy, MemRef0F64 *loss, double theta,
                                double theta2, double lambda, double weight);
/// InfoNCE, around the backend's GEMMs S = ph ph^T and dph = dsim ph:
/// ph = p / max(||p||, 1e-12) with the clamped norms [N]; from S [N, N] the
/// loss and dsim = dS + dS^T; dp = the normalisation's adjoint of dph.
using InfoNceNormalizeFn = void (*)(MemRef2F32 *p, MemRef2F32 *ph, MemRef1F64 *norms);
using InfoNceLossFn = void (*)(MemRef2F32 *sim, MemRef2F32 *dsim, MemRef0F64 *loss,
                               double temperature, double weight);
using InfoNceAdjointFn = void (*)(MemRef2F32 *ph, MemRef2F32 *dph, MemRef1F64 *norms,
                                  MemRef2F32 *dp);
/// The one record of `locus_infonce_kernels` (empty without InfoNCE).
struct InfoNceKernels {
  InfoNceNormalizeFn normalize;
  InfoNceLossFn loss;
  InfoNceAdjointFn adjoint;
};

/// One record of a table: the kernel's name without `_mlir_ciface_`.
template <typename Fn> struct NamedKernel {
  const char *name;
  Fn run;
};

template <typename Fn> struct KernelTable {
  const NamedKernel<Fn> *entries = nullptr;
  int64_t count = 0;
  const NamedKernel<Fn> *find(const std::string &name) const {
    for (int64_t i = 0; i < count; ++i)
      if (name == entries[i].name)
        return &entries[i];
    return nullptr;
  }
};

using BilinearLossKernel = NamedKernel<BilinearLossFn>;
using GoodnessLossKernel = NamedKernel<GoodnessLossFn>;

/// The loss kernels of a compiled model.
struct LossKernels {
  KernelTable<BilinearLossFn> bilinear;
  KernelTable<GoodnessLossFn> goodness;
  const InfoNceKernels *infoNce = nullptr; ///< null: the model has no InfoNCE loss
};

/// The names the passes give the kernels (one definition for the generators,
/// the object emitter's tables and the runtime's lookups), with the loss
/// attribute's spellings ("hinge", "contrastive", "next", "sum_squares", ...).
constexpr const char *kBilinearLossPrefix = "locus_bilinear_loss_";
constexpr const char *kGoodnessLossPrefix = "locus_goodness_loss_";
inline std::string bilinearLossKernelName(const std::string &f, const std::string &form,
                                          const std::string &negatives) {
  return kBilinearLossPrefix + f + "_" + form + "_" + negatives;
}
inline std::string goodnessLossKernelName(const std::string &score) {
  return kGoodnessLossPrefix + score;
}

} // namespace locus::abi

#endif
