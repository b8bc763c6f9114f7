#include "gateway/anthropic_wire.hpp"

#include "fixtures.hpp"
#include "gateway/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aignehub::gateway::anthropic {
namespace {

using canon::event_kind;
using canon::finish;
using canon::part_kind;
using namespace fixtures;

// ---- helpers ---------------------------------------------------------------------------------

std::vector<canon::event> decode_stream(std::string_view stream, bool& done,
                                        std::optional<upstream_error>* error = nullptr) {
    auto decoder = make_stream_decoder();
    std::vector<canon::event> events;
    for (const auto& raw : split_events(stream)) {
        auto failed = decoder->feed(raw, events);
        if (failed) {
            if (error != nullptr) {
                *error = failed;
            }
            break;
        }
    }
    done = decoder->done();
    return events;
}

ojson encoded(const canon::chat_request& r, std::string_view model = "claude-sonnet-4-5") {
    std::string body;
    const auto bad = encode_request(r, model, body);
    EXPECT_FALSE(bad) << (bad ? bad->param + ": " + bad->message : "");
    return bad ? ojson() : ojson::parse(body);
}

std::optional<bad_field> refusal(const canon::chat_request& r) {
    std::string body;
    return encode_request(r, "claude-sonnet-4-5", body);
}

std::optional<bad_field> decode_refusal(std::string_view body) {
    canon::chat_request r;
    return decode_request(body, r);
}

// A part of `kind` with the fields `fill` sets.
template <class Fn> canon::part part(part_kind kind, Fn&& fill) {
    canon::part p = make_part(kind);
    fill(p);
    return p;
}

canon::part redacted(std::string data) {
    canon::part p = make_part(part_kind::redacted_reasoning);
    p.data = std::move(data);
    return p;
}

canon::message tool_message(std::string id, std::string result) {
    return canon::message{.who = canon::role::tool,
                          .parts = {result_part(std::move(id), std::move(result))}};
}

usage_counts counts(std::int64_t prompt, std::int64_t completion, std::int64_t cached,
                    std::int64_t write_5m = 0, std::int64_t write_1h = 0) {
    usage_counts u;
    u.prompt = prompt;
    u.completion = completion;
    u.cached = cached;
    u.cache_write_5m = write_5m;
    u.cache_write_1h = write_1h;
    u.reported = true;
    return u;
}

canon::event begins(event_kind kind, std::string id, std::string name, int index = 0) {
    canon::event e = make_event(kind, {}, index);
    e.id = std::move(id);
    e.name = std::move(name);
    return e;
}

canon::event finishes(finish reason, std::string stop_sequence = {}) {
    canon::event e = make_event(event_kind::finish);
    e.reason = reason;
    e.stop_sequence = std::move(stop_sequence);
    return e;
}

canon::event counted(const usage_counts& usage) {
    canon::event e = make_event(event_kind::usage);
    e.usage = usage;
    return e;
}

canon::chat_request hello() {
    canon::chat_request r;
    r.messages.push_back(canon::message{.who = canon::role::user, .parts = {text_part("Hello")}});
    return r;
}

// ---- default_max_tokens -----------------------------------------------------------------------

TEST(AnthropicMaxTokens, FollowsTheModelFamily) {
    EXPECT_EQ(default_max_tokens("claude-3-5-sonnet-20241022"), 8192);
    EXPECT_EQ(default_max_tokens("claude-3-7-sonnet-20250219"), 8192);
    EXPECT_EQ(default_max_tokens("claude-3-5-haiku-20241022"), 8192);
    EXPECT_EQ(default_max_tokens("claude-3-haiku-20240307"), 4096);
    EXPECT_EQ(default_max_tokens("claude-3-opus-20240229"), 4096);
    EXPECT_EQ(default_max_tokens("claude-2.1"), 4096);
    EXPECT_EQ(default_max_tokens("claude-instant-1.2"), 4096);
    EXPECT_EQ(default_max_tokens("claude-sonnet-4-5"), 32000);
    EXPECT_EQ(default_max_tokens("claude-haiku-4-5-20251001"), 32000);
    EXPECT_EQ(default_max_tokens(""), 32000);
}

// ---- encode_request ---------------------------------------------------------------------------

TEST(AnthropicEncodeRequest, MapsTheSamplingFieldsAndDefaultsMaxTokens) {
    canon::chat_request r = hello();
    r.system.push_back(text_part("Be brief."));
    r.temperature = 0.5;
    r.top_p = 0.9;
    r.top_k = 40;
    r.stop = {"END", ""};
    r.user = "user-7";
    r.stream = true;
    r.include_usage = true;
    r.seed = 42;            // a hint: left out
    r.schema_strict = true; // meaningless with a text format: left out
    const ojson body = encoded(r, "claude-3-5-haiku-20241022");
    EXPECT_EQ(body["model"], "claude-3-5-haiku-20241022");
    EXPECT_EQ(body["max_tokens"], 8192);
    EXPECT_EQ(body["system"], "Be brief.");
    EXPECT_EQ(body["messages"],
              ojson::parse(R"([{"role":"user","content":[{"type":"text","text":"Hello"}]}])"));
    EXPECT_EQ(body["temperature"], 0.5);
    EXPECT_EQ(body["top_p"], 0.9);
    EXPECT_EQ(body["top_k"], 40);
    EXPECT_EQ(body["stop_sequences"], ojson::parse(R"(["END"])"));
    EXPECT_EQ(body["metadata"], ojson::parse(R"({"user_id":"user-7"})"));
    EXPECT_EQ(body["stream"], true);
    EXPECT_FALSE(body.contains("seed"));
    EXPECT_FALSE(body.contains("stream_options"));
    EXPECT_FALSE(body.contains("thinking"));
    EXPECT_FALSE(body.contains("tool_choice"));

    r.max_tokens = 100;
    EXPECT_EQ(encoded(r)["max_tokens"], 100);
}

TEST(AnthropicEncodeRequest, KeepsCacheControlOnSystemPartsToolsAndContent) {
    canon::chat_request r = hello();
    r.system.push_back(text_part("one"));
    r.system.push_back(text_part("two"));
    r.system[1].cache_control = {{"type", "ephemeral"}, {"ttl", "1h"}};
    r.messages[0].parts[0].cache_control = {{"type", "ephemeral"}};
    r.tools.push_back(
        make_tool("get_weather", "Weather", ojson::parse(R"({"type":"object","properties":{}})")));
    r.tools[0].strict = true; // no such thing on Anthropic: left out
    r.tools[0].cache_control = {{"type", "ephemeral"}};
    r.tools.push_back(make_tool("no_params"));
    r.tools.push_back(make_tool("untyped", "", ojson::parse(R"({"properties":{}})")));
    const ojson body = encoded(r);
    EXPECT_EQ(body["system"], ojson::parse(R"([{"type":"text","text":"one"},
        {"type":"text","text":"two","cache_control":{"type":"ephemeral","ttl":"1h"}}])"));
    EXPECT_EQ(body["messages"][0]["content"][0]["cache_control"],
              ojson::parse(R"({"type":"ephemeral"})"));
    EXPECT_EQ(body["tools"], ojson::parse(R"([
        {"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{}},
         "cache_control":{"type":"ephemeral"}},
        {"name":"no_params","input_schema":{"type":"object","properties":{}}},
        {"name":"untyped","input_schema":{"properties":{},"type":"object"}}])"));
}

TEST(AnthropicEncodeRequest, MapsToolChoiceAndParallelCalls) {
    canon::chat_request r = hello();
    r.tools.push_back(make_tool("f"));
    r.tool_choice = canon::tool_mode::automatic;
    EXPECT_EQ(encoded(r)["tool_choice"], ojson::parse(R"({"type":"auto"})"));
    r.tool_choice = canon::tool_mode::none;
    EXPECT_EQ(encoded(r)["tool_choice"], ojson::parse(R"({"type":"none"})"));
    r.tool_choice = canon::tool_mode::required;
    EXPECT_EQ(encoded(r)["tool_choice"], ojson::parse(R"({"type":"any"})"));
    r.tool_choice = canon::tool_mode::named;
    r.tool_name = "f";
    r.parallel_tool_calls = false;
    EXPECT_EQ(encoded(r)["tool_choice"],
              ojson::parse(R"({"type":"tool","name":"f","disable_parallel_tool_use":true})"));
    r.tool_choice = canon::tool_mode::unset;
    EXPECT_EQ(encoded(r)["tool_choice"],
              ojson::parse(R"({"type":"auto","disable_parallel_tool_use":true})"));
    r.parallel_tool_calls = true;
    EXPECT_FALSE(encoded(r).contains("tool_choice"));
}

TEST(AnthropicEncodeRequest, MapsReasoningToAThinkingBudget) {
    canon::chat_request r = hello();
    r.reasoning_effort = "low";
    ojson body = encoded(r);
    EXPECT_EQ(body["thinking"], ojson::parse(R"({"type":"enabled","budget_tokens":1024})"));
    EXPECT_EQ(body["max_tokens"], 32000);
    r.reasoning_effort = "medium";
    EXPECT_EQ(encoded(r)["thinking"]["budget_tokens"], 8192);
    r.reasoning_effort = "high";
    body = encoded(r, "claude-3-7-sonnet-20250219");
    EXPECT_EQ(body["thinking"]["budget_tokens"], 24576);
    EXPECT_EQ(body["max_tokens"], 24576 + 4096); // 8192 would leave no room for the answer
    r.reasoning_effort = "minimal";
    EXPECT_FALSE(encoded(r).contains("thinking"));
    r.reasoning_effort = "high";
    r.reasoning_budget = 0; // a budget wins over an effort; 0 is off
    EXPECT_FALSE(encoded(r).contains("thinking"));
    r.reasoning_budget = 5000;
    r.max_tokens = 2000;
    body = encoded(r);
    EXPECT_EQ(body["thinking"]["budget_tokens"], 5000);
    EXPECT_EQ(body["max_tokens"], 5000 + 4096);
}

TEST(AnthropicEncodeRequest, RefusesWhatAnthropicCannotHonourNamingTheField) {
    const auto expect = [](canon::chat_request r, std::string_view param) {
        const auto bad = refusal(r);
        ASSERT_TRUE(bad) << param;
        EXPECT_EQ(bad->param, param);
        EXPECT_EQ(bad->code, "invalid_request");
        EXPECT_FALSE(bad->message.empty());
    };
    canon::chat_request r = hello();
    r.presence_penalty = 0.5;
    expect(r, "presence_penalty");
    r = hello();
    r.frequency_penalty = -1;
    expect(r, "frequency_penalty");
    r = hello();
    r.format = canon::response_format::json_object;
    expect(r, "response_format");
    r.format = canon::response_format::json_schema;
    expect(r, "response_format");
    r = hello();
    r.temperature = 1.5;
    expect(r, "temperature");
    r = hello();
    r.tool_choice = canon::tool_mode::required;
    expect(r, "tool_choice");
    r = hello();
    r.reasoning_effort = "extreme";
    expect(r, "reasoning_effort");
    r = hello();
    r.reasoning_effort = "high";
    r.temperature = 0.2;
    expect(r, "temperature");
    r.temperature.reset();
    r.top_k = 5;
    expect(r, "top_k");
    r = hello();
    r.messages.push_back(
        canon::message{.who = canon::role::assistant, .parts = {call_part("c1", "f", "[1,2]")}});
    expect(r, "messages[1].tool_calls[0].function.arguments");
    r.messages[1].parts[0].arguments = "{oops";
    expect(r, "messages[1].tool_calls[0].function.arguments");

    r = hello(); // zero penalties are no request at all
    r.presence_penalty = 0.0;
    r.frequency_penalty = 0.0;
    EXPECT_FALSE(refusal(r));
}

TEST(AnthropicEncodeRequest, MergesToolResultsAndTheFollowingUserTurnIntoOneMessage) {
    canon::chat_request r = hello();
    r.messages.push_back(
        canon::message{.who = canon::role::assistant,
                       .parts = {text_part("Let me look."),
                                 call_part("toolu_1", "weather", R"({"city":"Berlin"})"),
                                 call_part("call.2", "time", "  ")}});
    r.messages.push_back(tool_message("toolu_1", "sunny"));
    canon::message second = tool_message("call.2", "noon");
    second.parts[0].is_error = true;
    second.parts[0].content.push_back(
        part(part_kind::image, [](canon::part& p) { p.url = "data:image/png;base64,iVBOR"; }));
    r.messages.push_back(std::move(second));
    r.messages.push_back(canon::message{.who = canon::role::user, .parts = {text_part("Thanks")}});
    r.messages.push_back(canon::message{.who = canon::role::user, .parts = {text_part("And?")}});
    const ojson body = encoded(r);
    EXPECT_EQ(body["messages"], ojson::parse(R"([
      {"role":"user","content":[{"type":"text","text":"Hello"}]},
      {"role":"assistant","content":[{"type":"text","text":"Let me look."},
        {"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Berlin"}},
        {"type":"tool_use","id":"call_2","name":"time","input":{}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"},
        {"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"noon"},
          {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}}],
         "is_error":true},
        {"type":"text","text":"Thanks"},{"type":"text","text":"And?"}]}])"));
}

TEST(AnthropicEncodeRequest, PutsToolResultsFirstEvenAfterUserText) {
    canon::chat_request r;
    r.messages.push_back(
        canon::message{.who = canon::role::assistant, .parts = {call_part("a", "f", "{}")}});
    r.messages.push_back(canon::message{.who = canon::role::user, .parts = {text_part("x")}});
    r.messages.push_back(tool_message("a", "done"));
    const ojson body = encoded(r);
    ASSERT_EQ(body["messages"].size(), 2U);
    EXPECT_EQ(body["messages"][1]["content"][0]["type"], "tool_result");
    EXPECT_EQ(body["messages"][1]["content"][1]["type"], "text");
}

TEST(AnthropicEncodeRequest, EncodesImagesAndDocuments) {
    canon::chat_request r;
    canon::message m{.who = canon::role::user, .parts = {}};
    m.parts.push_back(part(part_kind::image, [](auto& p) { p.url = "https://x.test/cat.png"; }));
    m.parts.push_back(part(part_kind::image, [](auto& p) {
        p.media_type = "image/jpeg";
        p.data = "/9j/";
    }));
    m.parts.push_back(part(part_kind::document, [](auto& p) {
        p.media_type = "application/pdf";
        p.data = "JVBERi0=";
        p.title = "Paper";
    }));
    m.parts.push_back(part(part_kind::document, [](auto& p) {
        p.media_type = "text/plain";
        p.data = "aGVsbG8gd29ybGQ="; // base64 text: sent as text
    }));
    m.parts.push_back(part(part_kind::document, [](auto& p) {
        p.text = "plain";
        p.media_type = "text/plain";
    }));
    m.parts.push_back(part(part_kind::document, [](auto& p) { p.url = "https://x.test/a.pdf"; }));
    r.messages.push_back(std::move(m));
    const ojson content = encoded(r)["messages"][0]["content"];
    EXPECT_EQ(content, ojson::parse(R"([
      {"type":"image","source":{"type":"url","url":"https://x.test/cat.png"}},
      {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}},
      {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="},
       "title":"Paper"},
      {"type":"document","source":{"type":"text","media_type":"text/plain","data":"hello world"}},
      {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain"}},
      {"type":"document","source":{"type":"url","url":"https://x.test/a.pdf"}}])"));

    canon::chat_request docx;
    docx.messages.push_back(
        canon::message{.who = canon::role::user, .parts = {part(part_kind::document, [](auto& p) {
                                                     p.media_type = "application/msword";
                                                     p.data = "AAAA";
                                                 })}});
    const auto bad = refusal(docx);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->param, "messages[0].content[0]");
}

TEST(AnthropicEncodeRequest, ReencodesThinkingExactlyAndDropsUnsignedThinking) {
    canon::chat_request r = hello();
    r.messages.push_back(canon::message{
        .who = canon::role::assistant,
        .parts = {reasoning_part("unsigned, from elsewhere", ""), reasoning_part("hmm", "sig=="),
                  redacted("opaque"), call_part("toolu_9", "f", "{}")}});
    const ojson body = encoded(r);
    EXPECT_EQ(body["messages"][1]["content"], ojson::parse(R"([
      {"type":"thinking","thinking":"hmm","signature":"sig=="},
      {"type":"redacted_thinking","data":"opaque"},
      {"type":"tool_use","id":"toolu_9","name":"f","input":{}}])"));
}

TEST(AnthropicEncodeRequest, CountRequestsCarryOnlyWhatCountTokensTakes) {
    canon::chat_request r = hello();
    r.system.push_back(text_part("sys"));
    r.tools.push_back(make_tool("f"));
    r.tool_choice = canon::tool_mode::automatic;
    r.reasoning_effort = "low";
    r.stream = true;
    r.temperature = 1.0;
    r.stop = {"x"};
    std::string out;
    ASSERT_FALSE(encode_count_request(r, "claude-opus-4-1", out));
    const ojson body = ojson::parse(out);
    std::vector<std::string> keys;
    for (const auto& [key, value] : body.items()) {
        keys.push_back(key);
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"model", "system", "messages", "tools", "tool_choice",
                                              "thinking"}));
}

// ---- decode_request ---------------------------------------------------------------------------

TEST(AnthropicDecodeRequest, ReadsEveryField) {
    canon::chat_request r;
    ASSERT_FALSE(decode_request(R"({
      "model":"claude-sonnet-4-5","max_tokens":1024,
      "system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}],
      "messages":[{"role":"user","content":"Hi"}],
      "tools":[{"name":"f","description":"d","input_schema":{"type":"object"}},
               {"type":"custom","name":"g","input_schema":{"type":"object"},"strict":true}],
      "tool_choice":{"type":"tool","name":"f","disable_parallel_tool_use":true},
      "stop_sequences":["STOP"],"temperature":0.3,"top_p":0.8,"top_k":12,"stream":true,
      "metadata":{"user_id":"u-1"},"thinking":{"type":"enabled","budget_tokens":2048},
      "service_tier":"auto"})",
                                r));
    EXPECT_EQ(r.model, "claude-sonnet-4-5");
    EXPECT_EQ(r.max_tokens, 1024);
    ASSERT_EQ(r.system.size(), 1U);
    EXPECT_EQ(r.system[0].text, "You are terse.");
    EXPECT_EQ(r.system[0].cache_control, ojson::parse(R"({"type":"ephemeral"})"));
    ASSERT_EQ(r.messages.size(), 1U);
    EXPECT_EQ(r.messages[0].parts[0].text, "Hi");
    ASSERT_EQ(r.tools.size(), 2U);
    EXPECT_EQ(r.tools[0].description, "d");
    EXPECT_TRUE(r.tools[1].strict);
    EXPECT_EQ(r.tool_choice, canon::tool_mode::named);
    EXPECT_EQ(r.tool_name, "f");
    EXPECT_EQ(r.parallel_tool_calls, false);
    EXPECT_EQ(r.stop, std::vector<std::string>{"STOP"});
    EXPECT_EQ(r.temperature, 0.3);
    EXPECT_EQ(r.top_p, 0.8);
    EXPECT_EQ(r.top_k, 12);
    EXPECT_TRUE(r.stream);
    EXPECT_EQ(r.user, "u-1");
    EXPECT_EQ(r.reasoning_budget, 2048);

    canon::chat_request off;
    ASSERT_FALSE(decode_request(R"({"model":"m","max_tokens":5,"messages":[{"role":"user",
        "content":"x"}],"thinking":{"type":"disabled"},"tool_choice":{"type":"any"}})",
                                off));
    EXPECT_EQ(off.reasoning_budget, 0);
    EXPECT_EQ(off.tool_choice, canon::tool_mode::required);
}

TEST(AnthropicDecodeRequest, SplitsToolResultsIntoToolTurnsBeforeTheUserTurn) {
    canon::chat_request r;
    ASSERT_FALSE(decode_request(R"({"model":"m","max_tokens":100,"messages":[
      {"role":"user","content":"Weather?"},
      {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"w","input":{"c":"B"}},
                                     {"type":"tool_use","id":"t2","name":"w","input":{}}]},
      {"role":"user","content":[
        {"type":"text","text":"here you go"},
        {"type":"tool_result","tool_use_id":"t1","content":"sunny"},
        {"type":"tool_result","tool_use_id":"t2","is_error":true,
         "content":[{"type":"text","text":"failed"},
                    {"type":"image","source":{"type":"url","url":"https://x.test/e.png"}}]}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"t3"}]}]})",
                                r));
    ASSERT_EQ(r.messages.size(), 6U);
    EXPECT_EQ(r.messages[1].parts[0].kind, part_kind::tool_call);
    EXPECT_EQ(r.messages[1].parts[0].arguments, R"({"c":"B"})");
    EXPECT_EQ(r.messages[1].parts[1].arguments, "{}");
    ASSERT_EQ(r.messages[2].who, canon::role::tool);
    EXPECT_EQ(r.messages[2].parts[0].id, "t1");
    ASSERT_EQ(r.messages[2].parts[0].content.size(), 1U);
    EXPECT_EQ(r.messages[2].parts[0].content[0].text, "sunny");
    ASSERT_EQ(r.messages[3].who, canon::role::tool);
    EXPECT_TRUE(r.messages[3].parts[0].is_error);
    ASSERT_EQ(r.messages[3].parts[0].content.size(), 2U);
    EXPECT_EQ(r.messages[3].parts[0].content[1].url, "https://x.test/e.png");
    ASSERT_EQ(r.messages[4].who, canon::role::user);
    ASSERT_EQ(r.messages[4].parts.size(), 1U);
    EXPECT_EQ(r.messages[4].parts[0].text, "here you go");
    EXPECT_EQ(r.messages[5].who, canon::role::tool); // no user turn left after it
    EXPECT_TRUE(r.messages[5].parts[0].content.empty());

    // ...and encoding merges them back: results first, then the text
    const ojson body = encoded(r);
    ASSERT_EQ(body["messages"].size(), 3U);
    EXPECT_EQ(body["messages"][2]["content"], ojson::parse(R"([
        {"type":"tool_result","tool_use_id":"t1","content":"sunny"},
        {"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"failed"},
          {"type":"image","source":{"type":"url","url":"https://x.test/e.png"}}],"is_error":true},
        {"type":"tool_result","tool_use_id":"t3"},
        {"type":"text","text":"here you go"}])"));
}

TEST(AnthropicDecodeRequest, ThinkingSignaturesSurviveDecodeAndEncode) {
    const std::string assistant = R"({"role":"assistant","content":[
        {"type":"thinking","thinking":"Let me think about Berlin.","signature":"EqQBCkYIBxgCKkB+sig/=="},
        {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDF"},
        {"type":"text","text":"Checking."},
        {"type":"tool_use","id":"toolu_01A","name":"weather","input":{"city":"Berlin","days":[1,2]}}]})";
    const std::string body = R"({"model":"claude-sonnet-4-5","max_tokens":4096,
        "thinking":{"type":"enabled","budget_tokens":2000},"messages":[
        {"role":"user","content":"Weather in Berlin?"},)" +
                             assistant + R"(,
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A","content":"9C"}]}]})";
    canon::chat_request r;
    ASSERT_FALSE(decode_request(body, r));
    ASSERT_EQ(r.messages.size(), 3U);
    EXPECT_EQ(r.messages[1].parts[0].kind, part_kind::reasoning);
    EXPECT_EQ(r.messages[1].parts[0].signature, "EqQBCkYIBxgCKkB+sig/==");
    const ojson out = encoded(r);
    EXPECT_EQ(out["messages"][1], ojson::parse(assistant));
    EXPECT_EQ(out["thinking"], ojson::parse(R"({"type":"enabled","budget_tokens":2000})"));
    EXPECT_EQ(out["max_tokens"], 4096);
}

TEST(AnthropicDecodeRequest, ReadsDocumentsAndImages) {
    canon::chat_request r;
    ASSERT_FALSE(
        decode_request(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[
      {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"},
       "title":"T","citations":{"enabled":true}},
      {"type":"document","source":{"type":"text","media_type":"text/plain","data":"words"}},
      {"type":"document","source":{"type":"url","url":"https://x.test/d.pdf"}},
      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"},
       "cache_control":{"type":"ephemeral"}}]}]})",
                       r));
    const auto& parts = r.messages[0].parts;
    ASSERT_EQ(parts.size(), 4U);
    EXPECT_EQ(parts[0].kind, part_kind::document);
    EXPECT_EQ(parts[0].data, "JVBE");
    EXPECT_EQ(parts[0].title, "T");
    EXPECT_EQ(parts[1].text, "words");
    EXPECT_EQ(parts[1].media_type, "text/plain");
    EXPECT_EQ(parts[2].url, "https://x.test/d.pdf");
    EXPECT_EQ(parts[3].kind, part_kind::image);
    EXPECT_EQ(parts[3].media_type, "image/png");
    EXPECT_FALSE(parts[3].cache_control.is_null());
}

TEST(AnthropicDecodeRequest, RefusesInAnthropicsWordsNamingThePath) {
    const auto expect = [](std::string_view body, std::string_view param,
                           std::string_view message = {}) {
        const auto bad = decode_refusal(body);
        ASSERT_TRUE(bad) << body;
        EXPECT_EQ(bad->param, param) << bad->message;
        if (!message.empty()) {
            EXPECT_EQ(bad->message, message);
        }
    };
    expect(R"({"model":"m","messages":[{"role":"user","content":"x"}]})", "max_tokens",
           "max_tokens: Field required");
    EXPECT_EQ(decode_refusal(R"({"model":"m","messages":[{"role":"user","content":"x"}]})")->code,
              "invalid_request");
    expect(R"({"max_tokens":1,"messages":[{"role":"user","content":"x"}]})", "model");
    expect(R"({"model":"m","max_tokens":1})", "messages");
    expect(R"({"model":"m","max_tokens":1,"messages":[]})", "messages");
    expect(R"({"model":"m","max_tokens":1,"messages":{}})", "messages");
    expect(R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})",
           "max_tokens");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]})",
           "messages.0.role");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"},
        {"role":"user","content":[{"type":"text","text":"a"},{"type":"audio","data":"x"}]}]})",
           "messages.1.content.1.type");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
        {"type":"image","source":{"type":"file","file_id":"f"}}]}]})",
           "messages.0.content.0.source.type");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
        {"type":"image"}]}]})",
           "messages.0.content.0.source");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[
        {"type":"tool_use","id":"a","name":"f","input":"{}"}]}]})",
           "messages.0.content.0.input");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
        {"type":"tool_use","id":"a","name":"f","input":{}}]}]})",
           "messages.0.content.0.type");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[
        {"type":"thinking","thinking":"x"}]}]})",
           "messages.0.content.0.signature");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "tools":[{"type":"web_search_20250305","name":"web_search"}]})",
           "tools.0.type");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "tools":[{"name":"f"}]})",
           "tools.0.input_schema");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "container":"c"})",
           "container");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "mcp_servers":[]})",
           "mcp_servers");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "frobnicate":true})",
           "frobnicate", "frobnicate: Extra inputs are not permitted");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "temperature":1.5})",
           "temperature");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "thinking":{"type":"enabled","budget_tokens":100}})",
           "thinking.budget_tokens");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "tool_choice":{"type":"tool"}})",
           "tool_choice.name");
    expect(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
        "system":[{"type":"image"}]})",
           "system.0.type");
    const auto not_json = decode_refusal("{\"model\":");
    ASSERT_TRUE(not_json);
    EXPECT_EQ(not_json->code, "invalid_json");
    ASSERT_TRUE(decode_refusal("[1]"));

    canon::chat_request r; // hints pass: service_tier, metadata beyond user_id, nulls
    EXPECT_FALSE(decode_request(R"({"model":"m","max_tokens":1,"service_tier":"standard_only",
        "metadata":{"user_id":null,"other":1},"temperature":null,
        "messages":[{"role":"user","content":"x"}]})",
                                r));
}

TEST(AnthropicDecodeRequest, FixtureRequestsSurviveDecodeAndEncode) {
    for (const std::string_view name :
         {"messages_basic", "messages_stream", "messages_stream_tool_use", "messages_tool_use",
          "messages_vision_base64", "error_400_prompt_too_long"}) {
        LOAD_OR_SKIP(rec, "anthropic/" + std::string(name));
        canon::chat_request r;
        const auto bad = decode_request(rec.request, r);
        ASSERT_FALSE(bad) << name << ": " << bad->message;
        std::string body;
        ASSERT_FALSE(encode_request(r, r.model, body)) << name;
        const ojson original = ojson::parse(rec.request);
        const ojson again = ojson::parse(body);
        EXPECT_EQ(again["model"], original["model"]) << name;
        EXPECT_EQ(again["max_tokens"], original["max_tokens"]) << name;
        EXPECT_EQ(again["messages"], original["messages"]) << name;
        EXPECT_EQ(again.value("stream", false), original.value("stream", false)) << name;
        if (original.contains("temperature")) {
            EXPECT_EQ(again["temperature"], original["temperature"]) << name;
        }
        if (original.contains("tools")) {
            ASSERT_EQ(again["tools"].size(), original["tools"].size()) << name;
            for (std::size_t i = 0; i < original["tools"].size(); ++i) {
                EXPECT_EQ(again["tools"][i]["name"], original["tools"][i]["name"]);
                EXPECT_EQ(again["tools"][i]["input_schema"], original["tools"][i]["input_schema"]);
                EXPECT_EQ(again["tools"][i].value("description", ""),
                          original["tools"][i].value("description", ""));
            }
        }
    }
}

TEST(AnthropicDecodeRequest, CanonicalRequestsSurviveEncodeAndDecode) {
    canon::chat_request r;
    r.model = "claude-opus-4-1";
    r.max_tokens = 3000;
    r.system.push_back(text_part("sys"));
    r.system[0].cache_control = {{"type", "ephemeral"}};
    r.messages.push_back(canon::message{.who = canon::role::user, .parts = {text_part("q")}});
    r.messages.push_back(canon::message{
        .who = canon::role::assistant,
        .parts = {reasoning_part("t", "s"), call_part("toolu_1", "f", R"({"a":1})")}});
    r.messages.push_back(tool_message("toolu_1", "r"));
    r.messages.push_back(canon::message{.who = canon::role::user, .parts = {text_part("more")}});
    r.tools.push_back(
        make_tool("f", "does f", ojson::parse(R"({"type":"object","properties":{}})")));
    r.tool_choice = canon::tool_mode::automatic;
    r.parallel_tool_calls = false;
    r.stop = {"Z"};
    r.temperature = 1.0;
    r.user = "u";
    r.reasoning_budget = 2048;
    r.stream = true;

    std::string body;
    ASSERT_FALSE(encode_request(r, r.model, body));
    canon::chat_request back;
    const auto bad = decode_request(body, back);
    ASSERT_FALSE(bad) << bad->param << ": " << bad->message;
    EXPECT_EQ(back.model, r.model);
    EXPECT_EQ(back.max_tokens, r.max_tokens);
    ASSERT_EQ(back.system.size(), 1U);
    EXPECT_EQ(back.system[0].cache_control, r.system[0].cache_control);
    ASSERT_EQ(back.messages.size(), r.messages.size());
    for (std::size_t i = 0; i < r.messages.size(); ++i) {
        EXPECT_EQ(back.messages[i].who, r.messages[i].who) << i;
        ASSERT_EQ(back.messages[i].parts.size(), r.messages[i].parts.size()) << i;
        for (std::size_t j = 0; j < r.messages[i].parts.size(); ++j) {
            const auto& a = back.messages[i].parts[j];
            const auto& b = r.messages[i].parts[j];
            EXPECT_EQ(a.kind, b.kind);
            EXPECT_EQ(a.text, b.text);
            EXPECT_EQ(a.signature, b.signature);
            EXPECT_EQ(a.id, b.id);
            EXPECT_EQ(a.arguments, b.arguments);
            EXPECT_EQ(a.content.size(), b.content.size());
        }
    }
    EXPECT_EQ(back.tools[0].description, "does f");
    EXPECT_EQ(back.tools[0].parameters, r.tools[0].parameters);
    EXPECT_EQ(back.tool_choice, canon::tool_mode::automatic);
    EXPECT_EQ(back.parallel_tool_calls, false);
    EXPECT_EQ(back.stop, r.stop);
    EXPECT_EQ(back.temperature, 1.0);
    EXPECT_EQ(back.user, "u");
    EXPECT_EQ(back.reasoning_budget, 2048);
    EXPECT_TRUE(back.stream);
}

// ---- answers ------------------------------------------------------------------------------------

TEST(AnthropicDecodeAnswer, ReadsEveryRecordedAnswer) {
    LOAD_OR_SKIP(basic, "anthropic/messages_basic");
    canon::chat_answer a;
    ASSERT_TRUE(decode_answer(basic.response, a));
    EXPECT_EQ(a.id, "msg_011CeCGmD8uwD58unxgBN8Qx");
    EXPECT_EQ(a.model, "claude-haiku-4-5-20251001");
    ASSERT_EQ(a.parts.size(), 1U);
    EXPECT_EQ(a.parts[0].text, "2 + 2 = 4");
    EXPECT_EQ(a.reason, finish::stop);
    EXPECT_TRUE(a.usage.reported);
    EXPECT_EQ(a.usage.prompt, 16);
    EXPECT_EQ(a.usage.completion, 13);
    EXPECT_EQ(a.usage.cached, 0);

    LOAD_OR_SKIP(tools, "anthropic/messages_tool_use");
    canon::chat_answer t;
    ASSERT_TRUE(decode_answer(tools.response, t));
    ASSERT_EQ(t.parts.size(), 2U);
    EXPECT_EQ(t.parts[0].kind, part_kind::tool_call);
    EXPECT_EQ(t.parts[0].id, "toolu_01TjHdHxyQNDy4DipRieJU5n");
    EXPECT_EQ(t.parts[0].name, "weather");
    EXPECT_EQ(t.parts[0].arguments, R"({"latitude":"52.5200","longitude":"13.4050"})");
    EXPECT_EQ(t.parts[1].name, "best_language_to_learn");
    EXPECT_EQ(t.parts[1].arguments, "{}");
    EXPECT_EQ(t.reason, finish::tool_calls);
    EXPECT_EQ(t.usage.prompt, 701);
    EXPECT_EQ(t.usage.completion, 98);

    LOAD_OR_SKIP(vision, "anthropic/messages_vision_base64");
    canon::chat_answer v;
    ASSERT_TRUE(decode_answer(vision.response, v));
    ASSERT_EQ(v.parts.size(), 1U);
    EXPECT_TRUE(v.parts[0].text.starts_with("# Image Description\n\nThis is a **3D rendered"));
    EXPECT_EQ(v.usage.prompt, 43);
    EXPECT_EQ(v.usage.completion, 132);

    LOAD_OR_SKIP(error, "anthropic/error_401_authentication");
    canon::chat_answer e;
    EXPECT_FALSE(decode_answer(error.response, e));
    EXPECT_FALSE(decode_answer("not json", e));
}

TEST(AnthropicDecodeAnswer, CountsCacheReadsAndWritesInOpenAIsTerms) {
    canon::chat_answer a;
    ASSERT_TRUE(decode_answer(R"({"id":"msg_1","type":"message","role":"assistant","model":"m",
      "content":[{"type":"thinking","thinking":"hm","signature":"sg"},
                 {"type":"redacted_thinking","data":"rd"},{"type":"text","text":"Hi"}],
      "stop_reason":"stop_sequence","stop_sequence":"END",
      "usage":{"input_tokens":10,"cache_creation_input_tokens":30,"cache_read_input_tokens":100,
               "cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":10},
               "output_tokens":7}})",
                              a));
    EXPECT_EQ(a.usage.prompt, 140);
    EXPECT_EQ(a.usage.cached, 100);
    EXPECT_EQ(a.usage.cache_write_5m, 20);
    EXPECT_EQ(a.usage.cache_write_1h, 10);
    EXPECT_EQ(a.usage.completion, 7);
    EXPECT_EQ(a.reason, finish::stop_sequence);
    EXPECT_EQ(a.stop_sequence, "END");
    ASSERT_EQ(a.parts.size(), 3U);
    EXPECT_EQ(a.parts[0].kind, part_kind::reasoning);
    EXPECT_EQ(a.parts[0].signature, "sg");
    EXPECT_EQ(a.parts[1].kind, part_kind::redacted_reasoning);
    EXPECT_EQ(a.parts[1].data, "rd");

    canon::chat_answer old; // no breakdown: every write is a 5-minute one
    ASSERT_TRUE(decode_answer(R"({"type":"message","content":[],"stop_reason":"max_tokens",
      "usage":{"input_tokens":1,"cache_creation_input_tokens":50,"output_tokens":2}})",
                              old));
    EXPECT_EQ(old.usage.prompt, 51);
    EXPECT_EQ(old.usage.cache_write_5m, 50);
    EXPECT_EQ(old.usage.cache_write_1h, 0);
    EXPECT_EQ(old.reason, finish::length);
}

TEST(AnthropicDecodeAnswer, MapsEveryStopReason) {
    const std::vector<std::pair<std::string, finish>> reasons{
        {"end_turn", finish::stop},
        {"stop_sequence", finish::stop_sequence},
        {"max_tokens", finish::length},
        {"tool_use", finish::tool_calls},
        {"refusal", finish::content_filter},
        {"pause_turn", finish::pause},
        {"model_context_window_exceeded", finish::length}};
    for (const auto& [reason, expected] : reasons) {
        canon::chat_answer a;
        ASSERT_TRUE(
            decode_answer(R"({"type":"message","content":[],"stop_reason":")" + reason + "\"}", a));
        EXPECT_EQ(a.reason, expected) << reason;
    }
}

TEST(AnthropicEncodeAnswer, IsTheInverseOfDecodeAnswer) {
    canon::chat_answer a;
    a.id = "chatcmpl-42";
    a.model = "gpt-4o";
    a.parts.push_back(reasoning_part("think", ""));
    a.parts.push_back(redacted("x"));
    a.parts.push_back(text_part("answer"));
    a.parts.push_back(call_part("call:odd.id", "f", R"({"k":[1]})"));
    a.parts.push_back(call_part("call_2", "g", "not json"));
    a.reason = finish::stop_sequence;
    a.stop_sequence = "###";
    a.usage = counts(140, 7, 100, 20, 10);
    const std::string body = encode_answer(a);
    const ojson json = ojson::parse(body);
    EXPECT_EQ(json["id"], "msg_chatcmpl-42");
    EXPECT_EQ(json["type"], "message");
    EXPECT_EQ(json["role"], "assistant");
    EXPECT_EQ(json["stop_reason"], "stop_sequence");
    EXPECT_EQ(json["stop_sequence"], "###");
    EXPECT_EQ(json["content"], ojson::parse(R"([
      {"type":"thinking","thinking":"think","signature":""},
      {"type":"redacted_thinking","data":"x"},
      {"type":"text","text":"answer"},
      {"type":"tool_use","id":"call:odd.id","name":"f","input":{"k":[1]}},
      {"type":"tool_use","id":"call_2","name":"g","input":{}}])"));
    EXPECT_EQ(json["usage"], ojson::parse(R"({"input_tokens":10,"cache_creation_input_tokens":30,
      "cache_read_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":20,
      "ephemeral_1h_input_tokens":10},"output_tokens":7})"));

    canon::chat_answer back;
    ASSERT_TRUE(decode_answer(body, back));
    EXPECT_EQ(back.usage.prompt, a.usage.prompt);
    EXPECT_EQ(back.usage.cached, a.usage.cached);
    EXPECT_EQ(back.usage.cache_write_5m, a.usage.cache_write_5m);
    EXPECT_EQ(back.usage.cache_write_1h, a.usage.cache_write_1h);
    EXPECT_EQ(back.usage.completion, a.usage.completion);
    EXPECT_EQ(back.reason, a.reason);
    EXPECT_EQ(back.stop_sequence, a.stop_sequence);
    ASSERT_EQ(back.parts.size(), a.parts.size());
    EXPECT_EQ(back.parts[3].arguments, R"({"k":[1]})");

    canon::chat_answer kept;
    kept.id = "msg_abc";
    EXPECT_EQ(ojson::parse(encode_answer(kept))["id"], "msg_abc");
    EXPECT_EQ(ojson::parse(encode_answer(kept))["stop_reason"], "end_turn");
    const std::string made = ojson::parse(encode_answer(canon::chat_answer{}))["id"];
    EXPECT_TRUE(made.starts_with("msg_"));
    EXPECT_GT(made.size(), 10U);

    canon::chat_answer negative; // counts that do not add up never go below zero
    negative.usage = counts(5, 0, 10);
    EXPECT_EQ(ojson::parse(encode_answer(negative))["usage"]["input_tokens"], 0);

    LOAD_OR_SKIP(rec,
                 "anthropic/messages_tool_use"); // a recording goes round unchanged where it counts
    canon::chat_answer recorded;
    ASSERT_TRUE(decode_answer(rec.response, recorded));
    const ojson original = ojson::parse(rec.response);
    const ojson again = ojson::parse(encode_answer(recorded));
    EXPECT_EQ(again["id"], original["id"]);
    EXPECT_EQ(again["stop_reason"], original["stop_reason"]);
    for (const char* key : {"input_tokens", "cache_creation_input_tokens",
                            "cache_read_input_tokens", "cache_creation", "output_tokens"}) {
        EXPECT_EQ(again["usage"][key], original["usage"][key]) << key;
    }
    for (std::size_t i = 0; i < 2; ++i) {
        for (const char* key : {"type", "id", "name", "input"}) {
            EXPECT_EQ(again["content"][i][key], original["content"][i][key]);
        }
    }
}

// ---- stream decoder
// ------------------------------------------------------------------------------

TEST(AnthropicStreamDecoder, DecodesTheRecordedTextStream) {
    LOAD_OR_SKIP(rec, "anthropic/messages_stream");
    bool done = false;
    const auto events = decode_stream(rec.response, done);
    EXPECT_TRUE(done);
    ASSERT_GE(events.size(), 2U);
    EXPECT_EQ(events[0].kind, event_kind::start);
    EXPECT_EQ(events[0].id, "msg_017A4s3HAsrqf5d2WvBmrpLr");
    EXPECT_EQ(events[0].name, "claude-sonnet-4-5-20250929");
    EXPECT_EQ(events[1].kind, event_kind::usage);
    EXPECT_EQ(events[1].usage.prompt, 17);
    EXPECT_EQ(events[1].usage.completion, 1);
    const auto texts = of_kind(events, event_kind::text);
    ASSERT_EQ(texts.size(), 4U);
    EXPECT_EQ(texts[1].text, " Captain");
    EXPECT_EQ(joined(events, event_kind::text), "- Captain\n- Scoop");
    const auto usage = of_kind(events, event_kind::usage);
    ASSERT_EQ(usage.size(), 2U);
    EXPECT_EQ(usage.back().usage.prompt, 17);
    EXPECT_EQ(usage.back().usage.completion, 10);
    EXPECT_TRUE(usage.back().usage.reported);
    ASSERT_EQ(events.back().kind, event_kind::finish);
    EXPECT_EQ(events.back().reason, finish::stop);
}

TEST(AnthropicStreamDecoder, DecodesTheRecordedToolStream) {
    LOAD_OR_SKIP(rec, "anthropic/messages_stream_tool_use");
    bool done = false;
    const auto events = decode_stream(rec.response, done);
    EXPECT_TRUE(done);
    std::vector<event_kind> kinds;
    for (const auto& e : events) {
        kinds.push_back(e.kind);
    }
    EXPECT_EQ(kinds,
              (std::vector<event_kind>{event_kind::start, event_kind::usage, event_kind::tool_call,
                                       event_kind::usage, event_kind::finish}));
    EXPECT_EQ(events[2].index, 0);
    EXPECT_EQ(events[2].id, "toolu_01CzN6riCPqw4pVSuTd9Dwn7");
    EXPECT_EQ(events[2].name, "pelican_name_generator");
    EXPECT_EQ(events[3].usage.prompt, 543);
    EXPECT_EQ(events[3].usage.completion, 40);
    EXPECT_EQ(events[4].reason, finish::tool_calls);
}

TEST(AnthropicStreamDecoder, NumbersCallsAmongCallsAndReadsThinking) {
    const std::string stream =
        "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_x\","
        "\"model\":\"claude-opus-4-1\",\"usage\":{\"input_tokens\":5,"
        "\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":20,"
        "\"output_tokens\":1}}}\r\n\r\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hmm\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"SIG\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"RED\"}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"Sure\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,"
        "\"delta\":{\"type\":\"citations_delta\",\"citation\":{}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":3,"
        "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_a\",\"name\":\"f\","
        "\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":3,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":3,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":4,"
        "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_b\",\"name\":\"g\","
        "\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":4,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
        ": a comment\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":50}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    bool done = false;
    const auto events = decode_stream(stream, done);
    EXPECT_TRUE(done);
    EXPECT_EQ(joined(events, event_kind::reasoning), "Hmm");
    EXPECT_EQ(joined(events, event_kind::signature), "SIG");
    EXPECT_EQ(joined(events, event_kind::redacted_reasoning), "RED");
    EXPECT_EQ(joined(events, event_kind::text), "Sure");
    const auto calls = of_kind(events, event_kind::tool_call);
    ASSERT_EQ(calls.size(), 2U);
    EXPECT_EQ(calls[0].index, 0);
    EXPECT_EQ(calls[0].id, "toolu_a");
    EXPECT_EQ(calls[1].index, 1);
    const auto args = of_kind(events, event_kind::tool_arguments);
    ASSERT_EQ(args.size(), 3U);
    EXPECT_EQ(args[0].index, 0);
    EXPECT_EQ(args[0].text + args[1].text, "{\"a\":1}");
    EXPECT_EQ(args[2].index, 1);
    const auto usage = of_kind(events, event_kind::usage);
    ASSERT_EQ(usage.size(), 2U);
    // message_start's input counts stay; message_delta's output count replaces the first
    EXPECT_EQ(usage[1].usage.prompt, 125);
    EXPECT_EQ(usage[1].usage.cached, 100);
    EXPECT_EQ(usage[1].usage.cache_write_5m, 20);
    EXPECT_EQ(usage[1].usage.completion, 50);
}

TEST(AnthropicStreamDecoder, MessageDeltaCountsOverrideTheStartOnes) {
    auto decoder = make_stream_decoder();
    std::vector<canon::event> events;
    ASSERT_FALSE(decoder->feed(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
        "\"model\":\"x\",\"usage\":{\"input_tokens\":0,\"output_tokens\":1}}}\n\n",
        events));
    ASSERT_FALSE(decoder->feed(
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"stop_sequence\",\"stop_sequence\":\"##\"},\"usage\":{\"input_tokens\":900,"
        "\"cache_creation_input_tokens\":10,\"output_tokens\":3}}\n\n",
        events));
    EXPECT_FALSE(decoder->done());
    const auto usage = of_kind(events, event_kind::usage);
    ASSERT_EQ(usage.size(), 2U);
    EXPECT_EQ(usage[1].usage.prompt, 910);
    EXPECT_EQ(usage[1].usage.cache_write_5m, 10);
    EXPECT_EQ(usage[1].usage.completion, 3);
    ASSERT_EQ(events.back().kind, event_kind::finish);
    EXPECT_EQ(events.back().reason, finish::stop_sequence);
    EXPECT_EQ(events.back().stop_sequence, "##");
}

TEST(AnthropicStreamDecoder, ReportsErrorsAndInvalidEvents) {
    std::vector<canon::event> events;
    auto overloaded = make_stream_decoder();
    const auto e = overloaded->feed("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                    "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
                                    events);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->message, "Overloaded");
    EXPECT_EQ(e->type, "overloaded_error");
    EXPECT_EQ(e->code, "overloaded_error");
    EXPECT_EQ(e->status, 503U);

    auto limited = make_stream_decoder();
    const auto l = limited->feed("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                 "\"api_error\",\"message\":\"boom\"}}\n\n",
                                 events);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->status, 0U);

    auto broken = make_stream_decoder();
    const auto b = broken->feed(
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"ind\n\n", events);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->message, "the provider sent an invalid stream event");

    auto quiet = make_stream_decoder();
    EXPECT_FALSE(quiet->feed("event: ping\ndata: {\"type\": \"ping\"}\n\n", events));
    EXPECT_FALSE(quiet->feed(": keep-alive\n\n", events));
    EXPECT_TRUE(events.empty());
}

// ---- stream encoder
// ------------------------------------------------------------------------------

TEST(AnthropicStreamEncoder, WritesMessagesApiEvents) {
    auto encoder = make_stream_encoder();
    std::string out;
    encoder->write(begins(event_kind::start, "msg_1", "claude-x"), out);
    EXPECT_TRUE(out.empty()); // message_start waits for the input usage
    encoder->write(counted(counts(12, 0, 2)), out);
    encoder->write(make_event(event_kind::text, "Hi \"there\""), out);
    encoder->write(finishes(finish::length), out);
    encoder->write(counted(counts(12, 3, 2)), out);
    encoder->finish(out);
    EXPECT_EQ(out,
              "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
              "\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
              "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
              "\"input_tokens\":10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2,"
              "\"output_tokens\":0}}}\n\n"
              "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
              "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
              "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \\\"there\\\"\"}}\n\n"
              "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
              "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
              "\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":10,"
              "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2,"
              "\"output_tokens\":3}}\n\n"
              "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

TEST(AnthropicStreamEncoder, MakesAStartWhenTheFirstEventIsNotOne) {
    auto encoder = make_stream_encoder();
    std::string out;
    encoder->write(make_event(event_kind::text, "x"), out);
    const auto events = split_events(out);
    ASSERT_EQ(events.size(), 3U);
    const sse_event start = parse_event(events[0]);
    EXPECT_EQ(start.name, "message_start");
    const ojson message = ojson::parse(start.data)["message"];
    EXPECT_TRUE(message["id"].get<std::string>().starts_with("msg_"));
    EXPECT_GT(message["id"].get<std::string>().size(), 4U);
    EXPECT_EQ(message["model"], "");
    EXPECT_EQ(message["usage"]["input_tokens"], 0);
}

// Feeds events to the encoder, then its output to the decoder: the decoded events say the same.
std::vector<canon::event> through_both(const std::vector<canon::event>& in, bool& done) {
    auto encoder = make_stream_encoder();
    std::string out;
    for (const auto& e : in) {
        encoder->write(e, out);
    }
    encoder->finish(out);
    return decode_stream(out, done);
}

TEST(AnthropicStreamEncoder, ItsOutputDecodesToTheSameEvents) {
    const std::vector<canon::event> in{
        begins(event_kind::start, "msg_9", "m"),
        make_event(event_kind::reasoning, "Let me "),
        make_event(event_kind::reasoning, "see."),
        make_event(event_kind::signature, "SIG"),
        make_event(event_kind::redacted_reasoning, "RED"),
        make_event(event_kind::text, "Calling."),
        // two calls whose arguments interleave, as OpenAI's parallel calls may
        begins(event_kind::tool_call, "call_a", "f", 0),
        make_event(event_kind::tool_arguments, "{\"x\":", 0),
        begins(event_kind::tool_call, "call_b", "g", 1),
        make_event(event_kind::tool_arguments, "{\"y\":", 1),
        make_event(event_kind::tool_arguments, "1}", 0),
        make_event(event_kind::tool_arguments, "2}", 1),
        finishes(finish::tool_calls),
        counted(counts(30, 9, 4, 6)),
    };
    bool done = false;
    const auto out = through_both(in, done);
    EXPECT_TRUE(done);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out[0].kind, event_kind::start);
    EXPECT_EQ(out[0].id, "msg_9");
    EXPECT_EQ(out[0].name, "m");
    EXPECT_EQ(joined(out, event_kind::reasoning), "Let me see.");
    EXPECT_EQ(joined(out, event_kind::signature), "SIG");
    EXPECT_EQ(joined(out, event_kind::redacted_reasoning), "RED");
    EXPECT_EQ(joined(out, event_kind::text), "Calling.");
    const auto calls = of_kind(out, event_kind::tool_call);
    ASSERT_EQ(calls.size(), 2U);
    EXPECT_EQ(calls[0].id, "call_a");
    EXPECT_EQ(calls[0].index, 0);
    EXPECT_EQ(calls[1].id, "call_b");
    EXPECT_EQ(calls[1].name, "g");
    EXPECT_EQ(calls[1].index, 1);
    std::array<std::string, 2> args;
    for (const auto& e : of_kind(out, event_kind::tool_arguments)) {
        args.at(static_cast<std::size_t>(e.index)) += e.text;
    }
    EXPECT_EQ(args[0], "{\"x\":1}");
    EXPECT_EQ(args[1], "{\"y\":2}");
    const auto finishes = of_kind(out, event_kind::finish);
    ASSERT_EQ(finishes.size(), 1U);
    EXPECT_EQ(finishes[0].reason, finish::tool_calls);
    const auto usage = of_kind(out, event_kind::usage);
    ASSERT_FALSE(usage.empty());
    EXPECT_EQ(usage.back().usage.prompt, 30);
    EXPECT_EQ(usage.back().usage.cached, 4);
    EXPECT_EQ(usage.back().usage.cache_write_5m, 6);
    EXPECT_EQ(usage.back().usage.completion, 9);
}

TEST(AnthropicStreamEncoder, RecordedStreamsGoRoundUnchanged) {
    for (const std::string_view name : {"messages_stream", "messages_stream_tool_use"}) {
        LOAD_OR_SKIP(rec, "anthropic/" + std::string(name));
        bool done = false;
        const auto first = decode_stream(rec.response, done);
        ASSERT_TRUE(done);
        const auto second = through_both(first, done);
        ASSERT_TRUE(done);
        ASSERT_EQ(second.size(), first.size()) << name;
        for (std::size_t i = 0; i < first.size(); ++i) {
            EXPECT_EQ(second[i].kind, first[i].kind) << name << " " << i;
            EXPECT_EQ(second[i].text, first[i].text) << name << " " << i;
            EXPECT_EQ(second[i].id, first[i].id) << name << " " << i;
            EXPECT_EQ(second[i].reason, first[i].reason) << name << " " << i;
        }
        const auto a = of_kind(first, event_kind::usage).back().usage;
        const auto b = of_kind(second, event_kind::usage).back().usage;
        EXPECT_EQ(a.prompt, b.prompt);
        EXPECT_EQ(a.completion, b.completion);
    }
}

TEST(AnthropicStreamEncoder, StopSequencesAndFailures) {
    auto encoder = make_stream_encoder();
    std::string out;
    encoder->write(make_event(event_kind::text, "a"), out);
    encoder->write(finishes(finish::stop_sequence, "END"), out);
    encoder->finish(out);
    const auto events = split_events(out);
    const ojson delta = ojson::parse(parse_event(events.at(events.size() - 2)).data);
    EXPECT_EQ(delta["delta"],
              ojson::parse(R"({"stop_reason":"stop_sequence","stop_sequence":"END"})"));

    std::string failed;
    make_stream_encoder()->fail(failed, "too busy", "overloaded_error");
    EXPECT_EQ(failed, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                      "\"overloaded_error\",\"message\":\"too busy\"}}\n\n");
    failed.clear();
    make_stream_encoder()->fail(failed, "oops", "upstream_error");
    EXPECT_NE(failed.find("\"api_error\""), std::string::npos);
    bool done = false;
    std::optional<upstream_error> error;
    decode_stream(failed, done, &error);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->message, "oops");
}

// ---- errors
// ----------------------------------------------------------------------------------------

TEST(AnthropicErrors, ReadsTheRecordedErrors) {
    LOAD_OR_SKIP(auth, "anthropic/error_401_authentication");
    const upstream_error a = read_error(auth.status, auth.response);
    EXPECT_EQ(a.message, "invalid x-api-key");
    EXPECT_EQ(a.type, "authentication_error");
    EXPECT_EQ(a.code, "authentication_error");
    EXPECT_EQ(a.status, 0U);

    LOAD_OR_SKIP(limit, "anthropic/error_429_rate_limit");
    const upstream_error l = read_error(limit.status, limit.response);
    EXPECT_EQ(l.type, "rate_limit_error");
    EXPECT_TRUE(l.message.starts_with("This request would exceed your organization's rate limit"));
    EXPECT_TRUE(l.message.ends_with("rate limit increase.")); // not cut

    LOAD_OR_SKIP(big, "anthropic/error_400_prompt_too_long");
    const upstream_error b = read_error(big.status, big.response);
    EXPECT_EQ(b.type, "invalid_request_error");
    EXPECT_EQ(b.message, "prompt is too long: 3333404 tokens > 200000 maximum");
}

TEST(AnthropicErrors, OverloadIsA503AndTextBodiesAreCleaned) {
    const upstream_error o = read_error(
        529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
    EXPECT_EQ(o.status, 503U);
    EXPECT_EQ(o.code, "overloaded_error");

    const std::string html = "<html>\r\n<body>Bad gateway\x01</body>" + std::string(2000, 'x');
    const upstream_error h = read_error(502, html);
    EXPECT_EQ(h.type, "api_error");
    EXPECT_LE(h.message.size(), 500U);
    EXPECT_TRUE(h.message.starts_with("the provider answered 502: <html>  <body>Bad gateway "));
    EXPECT_EQ(h.message.find_first_of("\r\n\x01"), std::string::npos);

    EXPECT_EQ(read_error(529, "").status, 503U);
    EXPECT_EQ(read_error(401, "").type, "authentication_error");
    EXPECT_EQ(read_error(500, "").message, "the provider answered 500");
}

TEST(AnthropicErrors, ErrorBodiesUseAnthropicsTypes) {
    const std::vector<std::pair<unsigned, std::string>> types{{400, "invalid_request_error"},
                                                              {401, "authentication_error"},
                                                              {402, "billing_error"},
                                                              {403, "permission_error"},
                                                              {404, "not_found_error"},
                                                              {413, "request_too_large"},
                                                              {429, "rate_limit_error"},
                                                              {529, "overloaded_error"},
                                                              {500, "api_error"},
                                                              {503, "api_error"},
                                                              {422, "invalid_request_error"}};
    for (const auto& [status, type] : types) {
        const ojson body = ojson::parse(error_body(status, "m\n\"x\""));
        EXPECT_EQ(body["type"], "error");
        EXPECT_EQ(body["error"]["type"], type) << status;
        EXPECT_EQ(body["error"]["message"], "m\n\"x\"");
    }
    std::string out = "before";
    append_error_event(out, 429, "slow down");
    EXPECT_EQ(out, "beforeevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                   "\"rate_limit_error\",\"message\":\"slow down\"}}\n\n");
}

// ---- passthrough
// -------------------------------------------------------------------------------------

TEST(AnthropicPassthrough, FindsTheModelForTheSplice) {
    const std::string body =
        R"( {"max_tokens":10, "model" : "claude-\u0068aiku", "stream":true,"messages":[]} )";
    request_view view;
    ASSERT_FALSE(read_passthrough(body, view));
    EXPECT_EQ(view.model, "claude-haiku");
    EXPECT_TRUE(view.stream);
    EXPECT_EQ(body.substr(view.model_at.first, view.model_at.second), R"("claude-\u0068aiku")");
    EXPECT_EQ(body[view.close], '}');
    EXPECT_EQ(view.close, body.size() - 2);
    // the model splice alone (Anthropic takes no stream_options)
    request_view splice = view;
    splice.stream = false;
    EXPECT_EQ(
        upstream_body(splice, "claude-haiku-4-5-20251001"),
        R"( {"max_tokens":10, "model" : "claude-haiku-4-5-20251001", "stream":true,"messages":[]} )");

    LOAD_OR_SKIP(rec, "anthropic/messages_stream");
    request_view recorded;
    ASSERT_FALSE(read_passthrough(rec.request, recorded));
    EXPECT_EQ(recorded.model, "claude-sonnet-4-5");
    EXPECT_TRUE(recorded.stream);
    EXPECT_EQ(rec.request.substr(recorded.model_at.first, recorded.model_at.second),
              "\"claude-sonnet-4-5\"");
}

TEST(AnthropicPassthrough, RefusesWhatTheGatewayCannotRoute) {
    const auto expect = [](std::string_view body, std::string_view param, std::string_view code) {
        request_view view;
        const auto bad = read_passthrough(body, view);
        ASSERT_TRUE(bad) << body;
        EXPECT_EQ(bad->param, param) << body;
        EXPECT_EQ(bad->code, code) << body;
    };
    expect(R"({"model":"a","model":"b"})", "model", "invalid_request");
    expect(R"({"messages":[]})", "model", "invalid_request");
    expect(R"({"model":7})", "model", "invalid_request");
    expect(R"({"model":""})", "model", "invalid_request");
    expect(R"({"model":"a","stream":"yes"})", "stream", "invalid_request");
    expect(R"({"model":"a","stream":true,"stream":false})", "stream", "invalid_request");
    expect(R"({"model":"a",})", "", "invalid_json");
    expect("{\"model\":\"\xff\"}", "", "invalid_json");
    expect(R"(["model"])", "", "invalid_request");
    request_view plain;
    ASSERT_FALSE(read_passthrough(R"({"model":"a"})", plain));
    EXPECT_FALSE(plain.stream);
}

TEST(AnthropicPassthrough, ReadsModelAndUsageOfAnswers) {
    LOAD_OR_SKIP(rec, "anthropic/messages_tool_use");
    answer_facts facts;
    ASSERT_TRUE(anthropic::read_answer(rec.response, facts));
    EXPECT_EQ(facts.model, "claude-haiku-4-5-20251001");
    EXPECT_TRUE(facts.usage.reported);
    EXPECT_EQ(facts.usage.prompt, 701);
    EXPECT_EQ(facts.usage.completion, 98);
    answer_facts cached;
    ASSERT_TRUE(anthropic::read_answer(
        R"({"model":"m","usage":{"input_tokens":3,"cache_read_input_tokens":40,
        "cache_creation_input_tokens":5,"output_tokens":2}})",
        cached));
    EXPECT_EQ(cached.usage.prompt, 48);
    EXPECT_EQ(cached.usage.cached, 40);
    EXPECT_EQ(cached.usage.cache_write_5m, 5);
    EXPECT_FALSE(anthropic::read_answer("[]", cached));
    EXPECT_FALSE(anthropic::read_answer("{", cached));
}

TEST(AnthropicPassthrough, ReadsStreamsEventByEvent) {
    for (const std::string_view name : {"messages_stream", "messages_stream_tool_use"}) {
        LOAD_OR_SKIP(rec, "anthropic/" + std::string(name));
        stream_state state;
        std::vector<chunk_verdict> verdicts;
        for (const auto& raw : split_events(rec.response)) {
            verdicts.push_back(process_event(raw, state).verdict);
        }
        ASSERT_FALSE(verdicts.empty());
        EXPECT_EQ(verdicts.back(), chunk_verdict::done) << name;
        EXPECT_EQ(std::count(verdicts.begin(), verdicts.end(), chunk_verdict::pass),
                  static_cast<std::ptrdiff_t>(verdicts.size() - 1))
            << name;
        EXPECT_FALSE(state.error);
        EXPECT_TRUE(state.usage.reported);
        if (name == "messages_stream") {
            EXPECT_EQ(state.model, "claude-sonnet-4-5-20250929");
            EXPECT_EQ(state.usage.prompt, 17);
            EXPECT_EQ(state.usage.completion, 10);
        } else {
            EXPECT_EQ(state.model, "claude-haiku-4-5-20251001");
            EXPECT_EQ(state.usage.prompt, 543);
            EXPECT_EQ(state.usage.completion, 40);
        }
    }
}

TEST(AnthropicPassthrough, MergesDeltaUsageAndReportsErrors) {
    stream_state state;
    const auto verdict = [&state](std::string_view raw) {
        return process_event(raw, state).verdict;
    };
    EXPECT_EQ(verdict("event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":"
                      "{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,"
                      "\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":30,"
                      "\"cache_creation\":{\"ephemeral_5m_input_tokens\":10,"
                      "\"ephemeral_1h_input_tokens\":20},\"output_tokens\":1}}}\r\n\r\n"),
              chunk_verdict::pass);
    EXPECT_EQ(state.model, "claude-x");
    EXPECT_EQ(state.usage.prompt, 135);
    EXPECT_EQ(verdict("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
                      "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":77}}\n\n"),
              chunk_verdict::pass);
    EXPECT_EQ(state.usage.prompt, 135);
    EXPECT_EQ(state.usage.cached, 100);
    EXPECT_EQ(state.usage.cache_write_5m, 10);
    EXPECT_EQ(state.usage.cache_write_1h, 20);
    EXPECT_EQ(state.usage.completion, 77);

    // a total repeated without its breakdown keeps the breakdown when it still adds up...
    EXPECT_EQ(verdict("event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{"
                      "\"cache_creation_input_tokens\":30,\"output_tokens\":78}}\n\n"),
              chunk_verdict::pass);
    EXPECT_EQ(state.usage.cache_write_5m, 10);
    EXPECT_EQ(state.usage.cache_write_1h, 20);
    EXPECT_EQ(state.usage.prompt, 135);
    // ...and counts as 5-minute writes when it does not
    EXPECT_EQ(verdict("event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{"
                      "\"cache_creation_input_tokens\":50,\"output_tokens\":79}}\n\n"),
              chunk_verdict::pass);
    EXPECT_EQ(state.usage.cache_write_5m, 50);
    EXPECT_EQ(state.usage.cache_write_1h, 0);
    EXPECT_EQ(state.usage.prompt, 155);
    EXPECT_EQ(state.usage.completion, 79);

    // a content delta mentioning "usage" or "error" in its text is not parsed
    EXPECT_EQ(verdict("event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                      "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"error "
                      "usage message_stop\"}}\n\n"),
              chunk_verdict::pass);
    EXPECT_FALSE(state.error);

    EXPECT_EQ(verdict("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                      "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"),
              chunk_verdict::error);
    EXPECT_EQ(state.error, "Overloaded");

    stream_state bare; // data-only events are recognised by their type
    EXPECT_EQ(process_event("data: {\"type\":\"message_stop\"}\n\n", bare).verdict,
              chunk_verdict::done);
    EXPECT_EQ(
        process_event("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", bare).verdict,
        chunk_verdict::done);
    EXPECT_EQ(process_event(std::string(message_stop), bare).verdict, chunk_verdict::done);
}

} // namespace
} // namespace aignehub::gateway::anthropic
