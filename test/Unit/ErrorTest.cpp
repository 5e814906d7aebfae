// The back-end independent part of error reporting: Status and message formatting.
#include "locus/runtime/Error.h"

#include <gtest/gtest.h>

using locus::rt::Status;

namespace {

TEST(Status, DefaultIsOkWithEmptyMessage) {
  Status status;
  EXPECT_TRUE(status.isOk());
  EXPECT_EQ(status.message(), "");
  EXPECT_TRUE(Status::success().isOk());
}

TEST(Status, ErrorKeepsItsMessage) {
  Status status = Status::error("something broke");
  EXPECT_FALSE(status.isOk());
  EXPECT_EQ(status.message(), "something broke");
}

TEST(Status, ErrorWithEmptyMessageIsStillAnError) {
  EXPECT_FALSE(Status::error("").isOk());
}

TEST(FormatCallFailure, NamesCallFileAndLine) {
  EXPECT_EQ(locus::rt::formatCallFailure("cudaMalloc(&p, bytes)", "/src/runtime/src/Device.cpp",
                                         42, "out of memory"),
            "cudaMalloc(&p, bytes) failed at Device.cpp:42: out of memory");
}

TEST(FormatCallFailure, KeepsBareFileNames) {
  EXPECT_EQ(locus::rt::formatCallFailure("f()", "x.cu", 7, "boom"), "f() failed at x.cu:7: boom");
}

TEST(BaseName, StripsDirectories) {
  EXPECT_EQ(locus::rt::baseName("/a/b/c.cpp"), "c.cpp");
  EXPECT_EQ(locus::rt::baseName("c.cpp"), "c.cpp");
  EXPECT_EQ(locus::rt::baseName("a\\b.cpp"), "b.cpp");
  EXPECT_EQ(locus::rt::baseName("dir/"), "");
}

Status failEarly() {
  LOCUS_RETURN_IF_ERROR(Status::error("first failure"));
  return Status::error("not reached");
}

Status passThrough(bool &reachedEnd) {
  LOCUS_RETURN_IF_ERROR(Status::success());
  reachedEnd = true;
  return Status::success();
}

TEST(ReturnIfError, ReturnsTheFirstError) {
  Status status = failEarly();
  EXPECT_FALSE(status.isOk());
  EXPECT_EQ(status.message(), "first failure");
}

TEST(ReturnIfError, ContinuesOnSuccess) {
  bool reachedEnd = false;
  EXPECT_TRUE(passThrough(reachedEnd).isOk());
  EXPECT_TRUE(reachedEnd);
}

} // namespace
