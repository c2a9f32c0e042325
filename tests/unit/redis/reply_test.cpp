// What aigw makes of Redis replies (src/redis/reply.h), fed as the bytes a
// server would send through hiredis's own reader: no server needed.
#include <gtest/gtest.h>

#include <hiredis.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/reply.h"

namespace aigw::redis {
namespace {

struct ReaderFree {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// The one reply in `bytes`, read with the capped reader Connection uses;
// null when the reader refuses the bytes (its error in `error`) or needs
// more of them (`error` left empty).
ReplyPtr read(std::string_view bytes, std::string* error = nullptr) {
  std::unique_ptr<redisReader, ReaderFree> reader(redisReaderCreate());
  ReplyBudget budget;
  cap_arrays(reader.get(), budget);
  EXPECT_EQ(redisReaderFeed(reader.get(), bytes.data(), bytes.size()), REDIS_OK);
  void* reply = nullptr;
  if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
    if (error) *error = reader->errstr;
    return nullptr;
  }
  if (error) error->clear();
  return ReplyPtr(static_cast<redisReply*>(reply));
}

TEST(RedisReply, ScriptAnswersAnArrayOfIntegers) {
  auto r = read("*3\r\n:5\r\n:120\r\n:250000\r\n");
  ASSERT_TRUE(r);
  std::vector<int64_t> out;
  std::string why;
  EXPECT_EQ(read_script_reply(r.get(), out, why), ScriptReply::ok);
  EXPECT_EQ(out, (std::vector<int64_t>{5, 120, 250000}));
}

TEST(RedisReply, NonIntegerElementsReadAsZero) {
  auto r = read("*3\r\n$2\r\n12\r\n$-1\r\n*1\r\n:4\r\n");
  ASSERT_TRUE(r);
  std::vector<int64_t> out;
  std::string why;
  EXPECT_EQ(read_script_reply(r.get(), out, why), ScriptReply::ok);
  EXPECT_EQ(out, (std::vector<int64_t>{0, 0, 0}));
}

TEST(RedisReply, NoscriptAndOtherErrorsAreTold) {
  std::vector<int64_t> out;
  std::string why;
  auto noscript = read("-NOSCRIPT No matching script. Please use EVAL.\r\n");
  ASSERT_TRUE(noscript);
  EXPECT_EQ(read_script_reply(noscript.get(), out, why), ScriptReply::noscript);

  auto err = read("-ERR user_script:3: bad argument\r\n");
  ASSERT_TRUE(err);
  EXPECT_EQ(read_script_reply(err.get(), out, why), ScriptReply::error);
  EXPECT_EQ(why, "script error: ERR user_script:3: bad argument");

  auto status = read("+OK\r\n");
  ASSERT_TRUE(status);
  why.clear();
  EXPECT_EQ(read_script_reply(status.get(), out, why), ScriptReply::error);
  EXPECT_FALSE(why.empty());
  EXPECT_TRUE(out.empty());
}

TEST(RedisReply, TextRepliesAndEmptyErrors) {
  std::string out, why;
  auto arr = read("*3\r\n+PONG\r\n:-7\r\n$-1\r\n");
  ASSERT_TRUE(arr);
  EXPECT_TRUE(read_text_reply(arr.get(), out, why));
  EXPECT_EQ(out, "PONG\n-7\n");
  // An error reply with no text still gives a reason to log and count.
  auto empty = read("-\r\n");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(read_text_reply(empty.get(), out, why));
  EXPECT_FALSE(why.empty());
}

TEST(RedisReply, ShaReply) {
  std::string sha, why;
  auto ok = read("$40\r\n0123456789abcdef0123456789abcdef01234567\r\n");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(read_sha_reply(ok.get(), sha, why));
  EXPECT_EQ(sha, "0123456789abcdef0123456789abcdef01234567");
  auto wrong = read(":1\r\n");
  ASSERT_TRUE(wrong);
  EXPECT_FALSE(read_sha_reply(wrong.get(), sha, why));
  EXPECT_EQ(why, "SCRIPT LOAD: unexpected reply");
}

// 13 bytes must not make hiredis allocate 800 MB before any element came,
// nor nesting multiply what one reply may allocate.
TEST(RedisReply, ArraysPastTheReplyBudgetAreRefusedByTheReader) {
  std::string error;
  EXPECT_FALSE(read("*100000000\r\n", &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(read("*" + std::to_string(kMaxReplyElements + 1) + "\r\n", &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(read("*1\r\n*" + std::to_string(kMaxReplyElements) + "\r\n", &error));
  EXPECT_FALSE(error.empty());
  // Within the budget: allocated, waiting for its elements.
  EXPECT_FALSE(read("*" + std::to_string(kMaxReplyElements) + "\r\n", &error));
  EXPECT_TRUE(error.empty()) << error;
}

// The budget is per reply: a long answer after another still reads.
TEST(RedisReply, TheBudgetStartsAgainWithEachReply) {
  std::unique_ptr<redisReader, ReaderFree> reader(redisReaderCreate());
  ReplyBudget budget;
  cap_arrays(reader.get(), budget);
  std::string one = "*" + std::to_string(kMaxReplyElements / 2 + 1) + "\r\n";
  for (long long i = 0; i < kMaxReplyElements / 2 + 1; ++i) one += ":1\r\n";
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(redisReaderFeed(reader.get(), one.data(), one.size()), REDIS_OK);
    void* reply = nullptr;
    ASSERT_EQ(redisReaderGetReply(reader.get(), &reply), REDIS_OK) << reader->errstr;
    ASSERT_NE(reply, nullptr);
    ReplyPtr owned(static_cast<redisReply*>(reply));
    EXPECT_EQ(owned->elements, static_cast<size_t>(kMaxReplyElements / 2 + 1));
  }
}

TEST(RedisReply, StringsReply) {
  std::vector<std::string> out;
  std::string why;
  auto ok = read(std::string("*2\r\n$3\r\na\0b\r\n$0\r\n\r\n", 19));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(read_strings_reply(ok.get(), out, why));
  EXPECT_EQ(out, (std::vector<std::string>{std::string("a\0b", 3), ""}));
  auto mixed = read("*2\r\n$1\r\na\r\n:1\r\n");
  ASSERT_TRUE(mixed);
  EXPECT_FALSE(read_strings_reply(mixed.get(), out, why));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(why, "unexpected reply (an array element is not a string)");
  auto err = read("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  ASSERT_TRUE(err);
  EXPECT_FALSE(read_strings_reply(err.get(), out, why));
  EXPECT_EQ(why, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

TEST(RedisReply, BudgetAnswersNeverGrantMoreThanAsked) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  const int64_t small = std::numeric_limits<int64_t>::min();
  std::vector<int64_t> out = {100, 40, 5};
  BudgetAnswer a = read_budget_answer(out, 30);
  EXPECT_EQ(a.granted, 30u);  // a script never grants more than asked; a broken answer is cut
  EXPECT_TRUE(a.has_remaining);
  EXPECT_EQ(a.remaining, 40u);
  EXPECT_TRUE(a.has_until_full);
  EXPECT_EQ(a.until_full_ns, 5000);

  out = {-3, -1, -9};
  a = read_budget_answer(out, 30);
  EXPECT_EQ(a.granted, 0u);
  EXPECT_EQ(a.remaining, 0u);
  EXPECT_EQ(a.until_full_ns, 0);

  out = {big, big, big};  // no overflow when turned into nanoseconds
  a = read_budget_answer(out, 7);
  EXPECT_EQ(a.granted, 7u);
  EXPECT_EQ(a.until_full_ns, kMaxUntilFullNs);

  out = {small};
  a = read_budget_answer(out, 7);
  EXPECT_EQ(a.granted, 0u);
  EXPECT_FALSE(a.has_remaining);
  EXPECT_FALSE(a.has_until_full);

  a = read_budget_answer({}, 7);
  EXPECT_EQ(a.granted, 0u);
}

}  // namespace
}  // namespace aigw::redis
