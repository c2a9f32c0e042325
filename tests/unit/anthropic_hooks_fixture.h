// The anthropic plugin's hook table driven by the fake host of
// tests/support/fake_host.h, shared by anthropic_plugin_test.cpp (OpenAI
// clients, translated) and anthropic_native_test.cpp (Anthropic clients,
// passed through): one provider with two keys, requests made and their
// upstream request recorded, heads and bodies fed, and at the end the
// check that no key reached the client or a log.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aigw_plugin.h"
#include "support/fake_host.h"

extern "C" const aigw_plugin_def* aigw_anthropic_plugin_entry(void);

namespace anthropic_test {

using aigw::test::FakeConfig;
using aigw::test::FakeHost;
using aigw::test::FakeRequest;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Call {
  FakeRequest fr;
  std::string body;
  std::string model = "claude-sonnet-4-5";
  std::string upstream_model = "claude-sonnet-4-5";
  aigw_host_bytes chunk{};
  Headers client_headers;
  std::vector<aigw_host_header> client_hs;
  aigw_client_request client{};
  aigw_status new_status = -1;
  std::string error;
  void* ctx = nullptr;
  aigw_upstream_request up{};
  std::string up_method, up_path, up_body;
  // Names as the plugin wrote them; repeated names keep the last value.
  std::map<std::string, std::string> up_headers;
};

// The usage reported (once) as `prompt` and `completion` tokens, their sum
// the total.
inline ::testing::AssertionResult reported_usage(const FakeRequest& fr, uint64_t prompt, uint64_t completion) {
  const aigw_usage& u = fr.usage;
  if (fr.usage_calls == 1 && u.prompt_tokens == prompt && u.completion_tokens == completion &&
      u.total_tokens == prompt + completion) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << fr.usage_calls << " report(s), last " << u.prompt_tokens << "+"
                                       << u.completion_tokens << "=" << u.total_tokens << ", want " << prompt
                                       << "+" << completion;
}

class AnthropicHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.values["api_keys"] = std::vector<std::string>{"key-zero", "key-one"};
    char buf[256] = "";
    aigw_errbuf err{buf, sizeof buf};
    ASSERT_EQ(hooks_->config_new(host_.table(), host_.plugin(), cfg_.handle(), &config_, &err), AIGW_OK) << buf;
    aigw_worker_info info{sizeof(aigw_worker_info), 0, 1, 0};
    ASSERT_EQ(hooks_->instance_new(config_, &info, &instance_, &err), AIGW_OK) << buf;
  }
  void TearDown() override {
    for (auto& c : calls_) {
      if (c->new_status == AIGW_OK) hooks_->request_destroy(c->ctx);
      // The key goes in its header and nowhere the client or a log sees.
      EXPECT_EQ(c->fr.body().find("key-"), std::string::npos);
      EXPECT_EQ(c->fr.finish_message.find("key-"), std::string::npos);
    }
    hooks_->instance_destroy(instance_);
    hooks_->config_destroy(config_);
    for (const std::string& line : host_.logs) {
      EXPECT_EQ(line.find("key-"), std::string::npos) << "a key in the log: " << line;
    }
  }

  // A client request as the host describes it, not yet given to the
  // plugin: a test may change `client` before start().
  Call& make(const std::string& body, aigw_endpoint ep, bool stream, uint32_t key, const std::string& model) {
    calls_.push_back(std::make_unique<Call>());
    Call& c = *calls_.back();
    c.body = body;
    c.model = model;
    c.upstream_model = model;
    c.chunk = {reinterpret_cast<const uint8_t*>(c.body.data()), c.body.size()};
    c.client.struct_size = sizeof c.client;
    c.client.endpoint = ep;
    c.client.stream = stream ? 1 : 0;
    c.client.model = {c.model.data(), c.model.size()};
    c.client.upstream_model = {c.upstream_model.data(), c.upstream_model.size()};
    c.client.method = {"POST", 4};
    c.client.body = &c.chunk;
    c.client.body_count = body.empty() ? 0 : 1;
    c.client.model_value_len = 1;
    c.client.key_index = key;
    return c;
  }

  // request_new, then build_upstream with the host's defaults, recording
  // what the plugin made of them.
  void start(Call& c) {
    c.client_hs.clear();
    for (const auto& [n, v] : c.client_headers) c.client_hs.push_back({{n.data(), n.size()}, {v.data(), v.size()}});
    c.client.headers = c.client_hs.data();
    c.client.header_count = c.client_hs.size();
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    c.new_status = hooks_->request_new(instance_, c.fr.handle(), &c.client, &c.ctx, &err);
    c.error = buf;
    if (c.new_status != AIGW_OK) return;
    c.up.struct_size = sizeof c.up;
    c.up.body_unchanged = 1;
    c.up.method = {"POST", 4};
    c.up.path_and_query = {"/v1/chat/completions", 20};
    EXPECT_EQ(hooks_->build_upstream(c.ctx, &c.up, &err), AIGW_OK) << buf;
    c.up_method.assign(c.up.method.ptr, c.up.method.len);
    c.up_path.assign(c.up.path_and_query.ptr, c.up.path_and_query.len);
    for (size_t i = 0; i < c.up.header_count; ++i) {
      c.up_headers[std::string(c.up.headers[i].name.ptr, c.up.headers[i].name.len)] =
          std::string(c.up.headers[i].value.ptr, c.up.headers[i].value.len);
    }
    if (!c.up.body_unchanged) {
      for (size_t i = 0; i < c.up.body_count; ++i) {
        c.up_body.append(reinterpret_cast<const char*>(c.up.body[i].ptr), c.up.body[i].len);
      }
    }
  }

  Call& request(const std::string& body, aigw_endpoint ep = AIGW_ENDPOINT_CHAT_COMPLETIONS, bool stream = false,
                uint32_t key = 1, const std::string& model = "claude-sonnet-4-5") {
    Call& c = make(body, ep, stream, key, model);
    start(c);
    return c;
  }

  aigw_upstream_verdict head(Call& c, int32_t status, Headers headers = {}) {
    std::vector<aigw_host_header> hs;
    for (const auto& [n, v] : headers) hs.push_back({{n.data(), n.size()}, {v.data(), v.size()}});
    aigw_upstream_verdict v{};
    v.struct_size = sizeof v;
    v.error_class = -1;
    EXPECT_EQ(hooks_->on_upstream_head(c.ctx, status, hs.data(), hs.size(), &v), AIGW_OK);
    return v;
  }

  void body(Call& c, const std::string& bytes, bool end) {
    aigw_host_bytes b{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
    EXPECT_EQ(hooks_->on_upstream_body(c.ctx, &b, 1, end ? 1 : 0), AIGW_OK);
  }

  FakeHost host_{AIGW_MODE_HTTP};
  FakeConfig cfg_;
  const aigw_hooks* hooks_ = aigw_anthropic_plugin_entry()->hooks;
  void* config_ = nullptr;
  void* instance_ = nullptr;
  std::vector<std::unique_ptr<Call>> calls_;
};

}  // namespace anthropic_test
