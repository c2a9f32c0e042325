// "Did you mean": src/config/suggest.cpp, the one suggestion both the host's
// schema reader and the plugins' key reader (src/plugin/config_source.h) use.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/suggest.h"

namespace aigw::config {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("workers", "workers"), 0u);
  EXPECT_EQ(edit_distance("wrokers", "workers"), 1u);  // a swap of neighbours is one edit
  EXPECT_EQ(edit_distance("api_kye", "api_key"), 1u);
  EXPECT_EQ(edit_distance("api_kye", "api_keys"), 2u);
  EXPECT_EQ(edit_distance("ab", "ba"), 1u);
  EXPECT_EQ(edit_distance("ca", "abc"), 3u);  // no edit of an already swapped pair
  EXPECT_EQ(edit_distance("worker", "workers"), 1u);
  EXPECT_EQ(edit_distance("header-read", "header_read"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(ClosestKey, SuggestsTheNearestWithinTwoEdits) {
  const std::vector<std::string> keys = {"listen", "workers", "pin_workers", "shutdown_grace"};
  EXPECT_EQ(closest_key("wrokers", keys), "workers");
  EXPECT_EQ(closest_key("worker", keys), "workers");
  EXPECT_EQ(closest_key("pin_worker", keys), "pin_workers");
  EXPECT_EQ(closest_key("lisen", keys), "listen");
}

TEST(ClosestKey, NothingWhenTooFarOrTooShort) {
  const std::vector<std::string> keys = {"listen", "workers", "tls", "io"};
  EXPECT_EQ(closest_key("threads", keys), "");
  EXPECT_EQ(closest_key("wkrs", keys), "");  // three edits
  // Two edits would rewrite most of a two- or three-letter key.
  EXPECT_EQ(closest_key("ab", keys), "");
  EXPECT_EQ(closest_key("tl", keys), "tls");
  EXPECT_EQ(closest_key("anything", {}), "");
}

TEST(ClosestKey, NearerWinsAndTheFirstOnATie) {
  EXPECT_EQ(closest_key("listne", std::vector<std::string>{"lists", "listen"}), "listen");
  EXPECT_EQ(closest_key("listne", std::vector<std::string>{"listen", "lists"}), "listen");
  EXPECT_EQ(closest_key("api_kye", std::vector<std::string>{"api_keys", "api_key"}), "api_key");
  EXPECT_EQ(closest_key("chunk", std::vector<std::string>{"chunks", "chunky"}), "chunks");
  EXPECT_EQ(closest_key("chunk", std::vector<std::string>{"chunky", "chunks"}), "chunky");
}

TEST(ClosestKey, AKeyThatIsACandidateGetsNoSuggestion) {
  EXPECT_EQ(closest_key("mode", std::vector<std::string>{"model", "mode"}), "");
}

}  // namespace
}  // namespace aigw::config
