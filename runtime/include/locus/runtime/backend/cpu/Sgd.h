//===- Sgd.h - SGD with momentum and LARS ----------------------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SGD_H
#define LOCUS_RUNTIME_BACKEND_CPU_SGD_H

namespace locus::rt::cpu {

/// PyTorch's SGD with momentum and (coupled) weight decay:
///   g' = g + wd p;  buf = momentum buf + g';  p -= lr buf
/// With `lars` (You et al. 2017, as in SimCLR's ImageNet runs), g' is scaled
/// by the layer-wise trust ratio trust * ||p|| / ||g'|| first (1 when either
/// norm is 0); `adapt` = false skips the ratio and the weight decay for one
/// parameter (biases, by the usual convention). The update itself is the
/// compiled kernels' (UpdateKernels.h: sgdStep).
struct SgdMomentum {
  double lr = 0.1, momentum = 0.9, weightDecay = 0.0, trust = 1e-3;
  bool lars = false;
};

} // namespace locus::rt::cpu

#endif
