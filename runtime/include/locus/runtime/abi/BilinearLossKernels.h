//===- BilinearLossKernels.h - the bilinear rules' generated losses -*- C++ -*-===//
//
// The ABI between locusc and the runtime for the bilinear rules' loss
// kernels (locus-generate-loss-kernels): each takes MLIR memref descriptors
// (llvm.emit_c_interface) and the object lists them by name in the table
// `locus_bilinear_loss_kernels`. The runtime only finds the kernel and runs
// it between its two GEMM primitives; the loss and its gradient are the
// compiler's (METHOD.md section 1).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_BILINEARLOSSKERNELS_H
#define LOCUS_RUNTIME_ABI_BILINEARLOSSKERNELS_H

#include <cstdint>
#include <string>

namespace locus::abi {

/// MLIR's descriptor of a memref<?x?xf32> (identity layout, offset 0).
struct MemRef2F32 {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};
/// MLIR's descriptor of a memref<?xi32>.
struct MemRef1I32 {
  int32_t *allocated, *aligned;
  int64_t offset, size, stride;
};
/// MLIR's descriptor of a memref<f64>.
struct MemRef0F64 {
  double *allocated, *aligned;
  int64_t offset;
};

inline MemRef2F32 memref2(float *data, int64_t rows, int64_t cols) {
  return MemRef2F32{data, data, 0, {rows, cols}, {cols, 1}};
}
inline MemRef1I32 memref1(int32_t *data, int64_t size) {
  return MemRef1I32{data, data, 0, size, 1};
}

/// z [N, D], bc [N, D] (row r: B c[r]), negatives [N] (drawn rows; empty for
/// "next"), dz [N, D] (overwritten, or added to when accumulate), factors
/// [N, D] (row r: g_pos z[pos r] + g_neg z[neg r], so dL/dB = factors^T c),
/// loss (written: weight * mean of the rows' terms).
using BilinearLossFn = void (*)(MemRef2F32 *z, MemRef2F32 *bc, MemRef1I32 *negatives,
                                MemRef2F32 *dz, MemRef2F32 *factors, MemRef0F64 *loss,
                                double theta, double weight, bool accumulate);

/// One record of the table: the kernel's name without `_mlir_ciface_`,
/// locus_bilinear_loss_<f>_<form>_<negatives> with the loss attribute's
/// spellings ("hinge", "contrastive", "next", ...).
struct BilinearLossKernel {
  const char *name;
  BilinearLossFn run;
};

struct BilinearLossKernels {
  const BilinearLossKernel *entries = nullptr;
  int64_t count = 0;
  const BilinearLossKernel *find(const std::string &name) const {
    for (int64_t i = 0; i < count; ++i)
      if (name == entries[i].name)
        return &entries[i];
    return nullptr;
  }
};

/// The name locus-generate-loss-kernels gives the kernel of a loss.
inline std::string bilinearLossKernelName(const std::string &f, const std::string &form,
                                          const std::string &negatives) {
  return "locus_bilinear_loss_" + f + "_" + form + "_" + negatives;
}

} // namespace locus::abi

#endif
