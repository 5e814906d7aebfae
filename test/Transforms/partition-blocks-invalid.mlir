// RUN: locus-opt %s -split-input-file --locus-partition-blocks -verify-diagnostics

// A skip connection across blocks would keep block 1's activation alive.
func.func @skip(%x: tensor<8x4x4x4xf32>) -> tensor<8x4x4x4xf32> {
  %r1 = locus.relu %x : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  %h1 = locus.local_loss "b1" %r1 {loss = #locus.loss<pool = 2>} : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  %r2 = locus.relu %h1 : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  // expected-error @+1 {{'locus.add' op in block 'b2' reads a value computed before the block's input; blocks may only pass their output to the next block}}
  %s = locus.add %r2, %r1 : tensor<8x4x4x4xf32>, tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  %h2 = locus.local_loss "b2" %s {loss = #locus.loss<pool = 2>} : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  return %h2 : tensor<8x4x4x4xf32>
}

// -----

func.func @trailing(%x: tensor<8x4x4x4xf32>) -> tensor<8x4x4x4xf32> {
  %h1 = locus.local_loss "b1" %x {loss = #locus.loss<pool = 2>} : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  // expected-error @+1 {{'locus.relu' op comes after the last learning block; mark its output with locus.LocalLoss or remove it}}
  %r = locus.relu %h1 : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  return %r : tensor<8x4x4x4xf32>
}
