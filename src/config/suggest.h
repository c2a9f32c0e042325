// "Did you mean": the key an unknown key was most likely meant to be. Used
// by the schema reader (schema_reader.cpp), which reads the host's keys and
// the plugins' provider keys alike.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace aigw::config {

// Edits between two keys: insertions, deletions, substitutions and swaps of
// two neighbouring characters ("wrokers"), each 1; no substring is edited
// twice (the optimal string alignment distance).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `key`, if it is at most two edits away and those
// edits do not rewrite most of it; the first such candidate on a tie. Empty
// when no candidate is near enough (or `key` is itself a candidate).
std::string_view closest_key(std::string_view key, std::span<const std::string> candidates);

}  // namespace aigw::config
