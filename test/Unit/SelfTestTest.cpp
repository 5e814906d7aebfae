// The CUDA self-test on a real device; skipped, with the reason, where there is none.
#include "locus/runtime/Device.h"
#include "locus/runtime/SelfTest.h"

#include <gtest/gtest.h>

namespace {

TEST(CudaSelfTest, PassesOnEveryDevice) {
  locus::rt::BackendInfo info = locus::rt::queryBackends();
  if (info.devices.empty())
    GTEST_SKIP() << "no CUDA device: " << info.unavailableReason;
  for (const locus::rt::DeviceInfo &device : info.devices) {
    locus::rt::Status status = locus::rt::cudaSelfTest(device.index);
    EXPECT_TRUE(status.isOk()) << "device " << device.index << " (" << device.name
                               << "): " << status.message();
  }
}

TEST(CudaSelfTest, RejectsAMissingDevice) {
  locus::rt::Status status = locus::rt::cudaSelfTest(1000);
  EXPECT_FALSE(status.isOk());
  EXPECT_FALSE(status.message().empty());
}

} // namespace
