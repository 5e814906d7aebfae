// RUN: locus-opt %s --split-input-file --verify-diagnostics --locus-plan-arena | FileCheck %s
//
// Liveness: %a dies before %b is allocated, so both take offset 0; %c is
// live with %b and goes above it. Largest first: %b (128 bytes) at 0, %a
// (64) at 0, %c (32 bytes, rounded to 64) at 128; the arena is 192 bytes.
// A view keeps its buffer live (%b through its collapse_shape).

// CHECK: module @locus_kernels attributes {locus.arena_bytes.entry = 192 : i64, locus.kernels}
// CHECK-LABEL: func.func @entry(
// CHECK-SAME: %[[ARENA:[a-z0-9]+]]: memref<?xi8>
// CHECK: %[[A:.*]] = memref.view %[[ARENA]][%c0{{.*}}][] : memref<?xi8> to memref<16xf32>
// CHECK: %[[A1:.*]] = memref.cast %[[A]]
// CHECK: call @use(%[[A1]])
// CHECK: %[[B:.*]] = memref.view %[[ARENA]][%c0{{.*}}][] : memref<?xi8> to memref<4x8xf32>
// CHECK: %[[C:.*]] = memref.view %[[ARENA]][%c128{{.*}}][] : memref<?xi8> to memref<8xf32>
// CHECK: memref.cast %[[C]]
// CHECK: memref.collapse_shape %[[B]]
// CHECK-NOT: memref.alloc
module {
  module @locus_kernels attributes {locus.kernels} {
    func.func private @use(memref<?xf32>)
    func.func @entry(%ctx: !llvm.ptr, %views: memref<4xf32>, %arena: memref<?xi8>) attributes {locus.step_entry} {
      %a = memref.alloc() : memref<16xf32>
      %a1 = memref.cast %a : memref<16xf32> to memref<?xf32>
      func.call @use(%a1) : (memref<?xf32>) -> ()
      %b = memref.alloc() : memref<4x8xf32>
      %c = memref.alloc() : memref<8xf32>
      %c1 = memref.cast %c : memref<8xf32> to memref<?xf32>
      func.call @use(%c1) : (memref<?xf32>) -> ()
      %flat = memref.collapse_shape %b [[0, 1]] : memref<4x8xf32> into memref<32xf32>
      %b1 = memref.cast %flat : memref<32xf32> to memref<?xf32>
      func.call @use(%b1) : (memref<?xf32>) -> ()
      return
    }
  }
}

// -----

module {
  module @locus_kernels attributes {locus.kernels} {
    func.func @kernel(%n: index) {
      // expected-error @below {{is outside a step entry point: the step allocates only in its arena}}
      %a = memref.alloc(%n) : memref<?xf32>
      return
    }
  }
}

// -----

module {
  module @locus_kernels attributes {locus.kernels} {
    func.func @entry(%ctx: !llvm.ptr, %views: memref<4xf32>, %arena: memref<?xi8>) attributes {locus.step_entry} {
      %n = arith.constant 4 : index
      // expected-error @below {{has no static, dense shape the arena can hold}}
      %a = memref.alloc(%n) : memref<?xf32>
      return
    }
  }
}

// -----

module {
  module @locus_kernels attributes {locus.kernels} {
    // expected-error @below {{is a step entry point without a memref<?xi8> arena argument}}
    func.func @entry(%ctx: !llvm.ptr) attributes {locus.step_entry} {
      return
    }
  }
}
