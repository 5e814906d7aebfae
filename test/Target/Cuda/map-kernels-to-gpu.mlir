// locus-map-kernels-to-gpu: the kernels' parallel loops become GPU launches,
// and a kernel that would still touch its (device) buffers from the host is
// an error naming it, or with drop-unmapped a warning and no kernel.
// RUN: locus-opt %s --split-input-file --locus-map-kernels-to-gpu=report -verify-diagnostics | FileCheck %s
// RUN: locus-opt %s --split-input-file --locus-map-kernels-to-gpu="drop-unmapped=true" -o %t.drop.mlir 2> %t.drop.err
// RUN: FileCheck %s --check-prefix=DROP < %t.drop.mlir
// RUN: FileCheck %s --check-prefix=DROPWARN < %t.drop.err
// RUN: echo "module {}" | not locus-opt --locus-map-kernels-to-gpu 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: locus-opt %s --split-input-file --locus-map-kernels-to-gpu="tile-only=true" | FileCheck %s --check-prefix=TILED

// A parallel loop: tiles of 256 iterations on blocks, their iterations on
// threads, the bounds check inside; the host keeps only the sizes.
// CHECK: kernel scale: 1 GPU launch
// CHECK-LABEL: func.func @scale
// CHECK:   %[[N:.*]] = memref.dim
// CHECK:   gpu.launch blocks
// CHECK:     %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[N]] : index
// CHECK:     memref.load
// CHECK:     memref.store
// DROP-LABEL: func.func @scale
// tile-only: the tiled, mapped loops stay loops (the CPU runs the GPU form).
// TILED-LABEL: func.func @scale
// TILED-NOT: gpu.launch
// TILED: scf.parallel
// TILED:   scf.parallel
// TILED:     scf.if
// TILED:       memref.load
// TILED:   } {mapping = [#gpu.loop_dim_map<processor = thread_x
// TILED: } {mapping = [#gpu.loop_dim_map<processor = block_x
module {
  module @locus_kernels attributes {locus.kernels} {
    func.func @scale(%x: memref<?xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %n = memref.dim %x, %c0 : memref<?xf32>
      scf.parallel (%i) = (%c0) to (%n) step (%c1) {
        %v = memref.load %x[%i] : memref<?xf32>
        %w = arith.addf %v, %v : f32
        memref.store %w, %x[%i] : memref<?xf32>
      }
      return
    }
  }
}

// -----

// A sequential loop over the buffer (each iteration reads the last one's
// result) stays on the host: refused.
// DROPWARN: warning: kernel @prefix is left out of the GPU object: a memory access is left in host code
// DROPWARN: warning: kernel @scratch is left out of the GPU object: its GPU code reads a buffer the host allocated
// DROP-NOT: func.func @prefix
// DROP-NOT: func.func @scratch
module {
  module @locus_kernels attributes {locus.kernels} {
    // expected-note@+1 {{in this kernel}}
    func.func @prefix(%x: memref<?xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %n = memref.dim %x, %c0 : memref<?xf32>
      scf.for %i = %c1 to %n step %c1 {
        %p = arith.subi %i, %c1 : index
        // expected-error@+1 {{kernel @prefix cannot run on the GPU: a memory access is left in host code}}
        %a = memref.load %x[%p] : memref<?xf32>
        %b = memref.load %x[%i] : memref<?xf32>
        %s = arith.addf %a, %b : f32
        memref.store %s, %x[%i] : memref<?xf32>
      }
      return
    }
  }
}

// -----

// Scratch the host allocates is host memory: GPU code may not use it.
module {
  module @locus_kernels attributes {locus.kernels} {
    // expected-note@+1 {{in this kernel}}
    func.func @scratch(%x: memref<?xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %n = memref.dim %x, %c0 : memref<?xf32>
      %tmp = memref.alloca(%n) : memref<?xf32>
      scf.parallel (%i) = (%c0) to (%n) step (%c1) {
        %v = memref.load %x[%i] : memref<?xf32>
        // expected-error@+1 {{kernel @scratch cannot run on the GPU: its GPU code reads a buffer the host allocated}}
        memref.store %v, %tmp[%i] : memref<?xf32>
      }
      return
    }
  }
}

// MISSING: error: no @locus_kernels module to map (run the kernel generators first)
