// locus-fuse-relu-pool: a max-pool reading a relu (its only user) becomes one
// relu_max_pool2d; a relu with another user stays.
// RUN: locus-opt %s -split-input-file --locus-fuse-relu-pool | FileCheck %s
// RUN: locus-opt %s -split-input-file --locus-fuse-relu-pool | locus-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @fused
// CHECK-NEXT: %[[P:.*]] = locus.relu_max_pool2d %arg0 {kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
// CHECK-NOT: locus.relu %
// CHECK-NEXT: return %[[P]]
func.func @fused(%x: tensor<8x4x8x8xf32>) -> tensor<8x4x4x4xf32> {
  %r = locus.relu %x : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %p = locus.max_pool2d %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
  return %p : tensor<8x4x4x4xf32>
}

// -----

// The relu output is also returned: it must be stored, so nothing fuses.
// CHECK-LABEL: func.func @shared
// CHECK-NEXT: locus.relu
// CHECK-NEXT: locus.max_pool2d
func.func @shared(%x: tensor<8x4x8x8xf32>) -> (tensor<8x4x4x4xf32>, tensor<8x4x8x8xf32>) {
  %r = locus.relu %x : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %p = locus.max_pool2d %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
  return %p, %r : tensor<8x4x4x4xf32>, tensor<8x4x8x8xf32>
}

// -----

// An average pool is not fused (relu and mean do not commute).
// CHECK-LABEL: func.func @average
// CHECK-NEXT: locus.relu
// CHECK-NEXT: locus.avg_pool2d
func.func @average(%x: tensor<8x4x8x8xf32>) -> tensor<8x4x4x4xf32> {
  %r = locus.relu %x : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %p = locus.avg_pool2d %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
  return %p : tensor<8x4x4x4xf32>
}
