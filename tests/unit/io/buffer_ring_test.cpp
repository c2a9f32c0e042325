// src/io/buffer_ring.h on a real io_uring: the kernel receives only into the
// buffers handed to it, and grow() hands over more, so that buffers a light
// load never needs are never touched.
#include "io/buffer_ring.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "io/ring.h"

namespace aigw::io {
namespace {

class BufferRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dropped, why;
    ASSERT_TRUE(ring_.init(64, dropped, why)) << why;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
  }
  void TearDown() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }

  // One single-shot receive with a buffer from the ring; the completion's
  // result, and the buffer id when it got one.
  int recv_one(BufferRing& buffers, uint16_t* bid) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv(sqe, fds_[0], nullptr, 64, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers.group_id();
    io_uring_submit(ring_.raw());
    io_uring_cqe* cqe = nullptr;
    EXPECT_EQ(io_uring_wait_cqe(ring_.raw(), &cqe), 0);
    const int res = cqe->res;
    if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) *bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    io_uring_cqe_seen(ring_.raw(), cqe);
    return res;
  }

  Ring ring_;
  int fds_[2] = {-1, -1};
};

TEST_F(BufferRingTest, TheKernelGetsOnlyWhatWasHandedOver) {
  BufferRing buffers;
  std::string why;
  ASSERT_TRUE(buffers.init(ring_.raw(), 3, 8, 64, why, 2)) << why;
  EXPECT_EQ(buffers.handed_over(), 2u);

  uint16_t bid = 99;
  for (uint16_t want = 0; want < 2; ++want) {
    ASSERT_EQ(write(fds_[1], "0123456789", 10), 10);
    ASSERT_EQ(recv_one(buffers, &bid), 10);
    EXPECT_EQ(bid, want);
    EXPECT_EQ(buffers.data(bid, 10), "0123456789");
  }
  // Both are in use (not recycled): the next receive finds none.
  ASSERT_EQ(write(fds_[1], "abc", 3), 3);
  EXPECT_EQ(recv_one(buffers, &bid), -ENOBUFS);

  // More handed over: published by flush(), then received into.
  EXPECT_TRUE(buffers.grow());
  EXPECT_EQ(buffers.handed_over(), 4u);
  buffers.flush();
  ASSERT_EQ(recv_one(buffers, &bid), 3);
  EXPECT_EQ(bid, 2);
  EXPECT_EQ(buffers.data(bid, 3), "abc");

  // Starved receives in one batch grow it once, at the batch's end.
  buffers.note_starved();
  buffers.note_starved();
  buffers.grow_if_starved();
  EXPECT_EQ(buffers.handed_over(), 8u);
  buffers.grow_if_starved();  // nothing starved since
  EXPECT_EQ(buffers.handed_over(), 8u);
  EXPECT_FALSE(buffers.grow());  // all of them
  EXPECT_EQ(buffers.handed_over(), 8u);
}

TEST_F(BufferRingTest, WithoutAnInitialCountAllAreHandedOver) {
  BufferRing buffers;
  std::string why;
  ASSERT_TRUE(buffers.init(ring_.raw(), 4, 16, 64, why)) << why;
  EXPECT_EQ(buffers.handed_over(), 16u);
  EXPECT_FALSE(buffers.grow());
  BufferRing more;
  ASSERT_TRUE(more.init(ring_.raw(), 5, 16, 64, why, 1000)) << why;
  EXPECT_EQ(more.handed_over(), 16u);
}

}  // namespace
}  // namespace aigw::io
