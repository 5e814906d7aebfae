// queryBackends() and describe(): safe and self-consistent on any machine, with or without CUDA.
#include "locus/runtime/Device.h"

#include <gtest/gtest.h>

using locus::rt::BackendInfo;

namespace {

TEST(QueryBackends, MatchesHowWeWereBuilt) {
  BackendInfo info = locus::rt::queryBackends();
#if defined(LOCUS_HAVE_CUDA)
  EXPECT_TRUE(info.compiledWithCuda);
  // The runtime and libraries report versions even without a driver or GPU.
  EXPECT_GE(info.cudaRuntimeVersion, 13000);
  EXPECT_GE(info.cudnnVersion, 90000u);
  EXPECT_GT(info.cublasVersion, 0);
#else
  EXPECT_FALSE(info.compiledWithCuda);
  EXPECT_TRUE(info.devices.empty());
  EXPECT_EQ(info.cudaRuntimeVersion, 0);
  EXPECT_EQ(info.driverVersion, 0);
  EXPECT_NE(info.unavailableReason.find("built without the CUDA back end"), std::string::npos)
      << info.unavailableReason;
#endif
}

TEST(QueryBackends, ReasonGivenExactlyWhenNoDevice) {
  BackendInfo info = locus::rt::queryBackends();
  EXPECT_EQ(info.devices.empty(), !info.unavailableReason.empty()) << info.unavailableReason;
  if (!info.compiledWithCuda) {
    EXPECT_TRUE(info.devices.empty());
  }
}

TEST(QueryBackends, DevicesAreNumberedAndPlausible) {
  BackendInfo info = locus::rt::queryBackends();
  for (size_t i = 0; i < info.devices.size(); ++i) {
    const locus::rt::DeviceInfo &device = info.devices[i];
    EXPECT_EQ(device.index, static_cast<int>(i));
    EXPECT_FALSE(device.name.empty());
    EXPECT_GE(device.ccMajor, 7) << "CUDA 13 supports compute capability 7.5 and newer";
    EXPECT_GT(device.totalMemory, 0u);
    EXPECT_GT(device.smCount, 0);
  }
  if (!info.devices.empty()) {
    EXPECT_GT(info.driverVersion, 0) << "devices without a driver";
  }
}

TEST(QueryBackends, IsRepeatable) {
  BackendInfo first = locus::rt::queryBackends();
  BackendInfo second = locus::rt::queryBackends();
  EXPECT_EQ(first.devices.size(), second.devices.size());
  EXPECT_EQ(first.unavailableReason, second.unavailableReason);
}

TEST(Describe, ReportsEachBackend) {
  BackendInfo info = locus::rt::queryBackends();
  std::string text = locus::rt::describe(info);
  EXPECT_NE(text.find("cpu:  available"), std::string::npos) << text;
  EXPECT_NE(text.find("cuda: "), std::string::npos) << text;
  if (!info.unavailableReason.empty()) {
    EXPECT_NE(text.find(info.unavailableReason), std::string::npos) << text;
  }
  for (const locus::rt::DeviceInfo &device : info.devices)
    EXPECT_NE(text.find(device.name), std::string::npos) << text;
}

TEST(Describe, DecodesVersionsAndDevices) {
  BackendInfo info;
  info.compiledWithCuda = true;
  info.cudaRuntimeVersion = 13000;
  info.driverVersion = 13000;
  info.cudnnVersion = 91400;
  info.cublasVersion = 130100;
  info.devices.push_back({0, "NVIDIA H200", 9, 0, size_t{150} << 30, 132});
  EXPECT_EQ(locus::rt::describe(info),
            "locus back ends:\n"
            "  cpu:  available\n"
            "  cuda: available, 1 device (CUDA runtime 13.0, driver 13.0, cuDNN 9.14.0, "
            "cuBLAS 13.1.0)\n"
            "    [0] NVIDIA H200: compute capability 9.0, 132 SMs, 150.0 GiB\n");
}

TEST(Describe, ExplainsMissingDriver) {
  BackendInfo info;
  info.compiledWithCuda = true;
  info.cudaRuntimeVersion = 13000;
  info.cudnnVersion = 91900;
  info.cublasVersion = 130100;
  info.unavailableReason = "no driver";
  EXPECT_EQ(locus::rt::describe(info),
            "locus back ends:\n"
            "  cpu:  available\n"
            "  cuda: unavailable (CUDA runtime 13.0, driver none, cuDNN 9.19.0, cuBLAS 13.1.0)\n"
            "        reason: no driver\n");
}

TEST(Describe, ExplainsCpuOnlyBuild) {
  BackendInfo info;
  info.unavailableReason = "built without it";
  EXPECT_EQ(locus::rt::describe(info), "locus back ends:\n"
                                       "  cpu:  available\n"
                                       "  cuda: not built: built without it\n");
}

} // namespace
