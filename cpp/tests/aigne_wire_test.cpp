#include "gateway/aigne_wire.hpp"
#include "gateway/codec_util.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aignehub::gateway {
namespace {

using canon::event_kind;
using canon::part_kind;

// What @aigne/aigne-hub 0.10.16 sends for a conversation with a tool round trip.
constexpr std::string_view chat_body = R"({"input":{"messages":[
  {"role":"system","content":"Be brief."},
  {"role":"user","content":[{"type":"text","text":"Weather and a photo?","cacheControl":{"type":"ephemeral","ttl":"1h"}},
                            {"type":"file","data":"iVBORw0K","mimeType":"image/png"},
                            {"type":"url","url":"https://example.com/a.pdf","mimeType":"application/pdf"}]},
  {"role":"agent","toolCalls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":{"city":"Berlin"}}}]},
  {"role":"tool","toolCallId":"call_1","content":"{\"celsius\":21}"}],
  "tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
  "toolChoice":"auto",
  "responseFormat":{"type":"json_schema","jsonSchema":{"name":"w","schema":{"type":"object"},"strict":true}},
  "modelOptions":{"model":"aignehub/openai/gpt-4o-mini","temperature":0.2,"parallelToolCalls":false,"reasoningEffort":"low","preferInputFileType":"url"},
  "outputFileType":"url"},
 "agent":"$CHAT_MODEL","options":{"userContext":{},"memories":[],"streaming":true}})";

TEST(AigneRequest, ReadsModelWithoutTheHubPrefixAndTheStreamingFlag) {
    request_view view;
    ASSERT_FALSE(aigne::read_request(endpoint::chat, chat_body, view));
    EXPECT_EQ(view.model, "openai/gpt-4o-mini");
    EXPECT_TRUE(view.stream);

    request_view colon;
    ASSERT_FALSE(aigne::read_request(
        endpoint::chat, R"({"input":{"messages":[],"modelOptions":{"model":"aignehub:gpt-4o"}}})",
        colon));
    EXPECT_EQ(colon.model, "gpt-4o");
    EXPECT_FALSE(colon.stream);
}

TEST(AigneRequest, RefusesBodiesWithoutInputModelOrMessages) {
    request_view view;
    EXPECT_EQ(aigne::read_request(endpoint::chat, "[1]", view)->code, "invalid_json");
    EXPECT_EQ(aigne::read_request(endpoint::chat, R"({"agent":"x"})", view)->param, "input");
    EXPECT_EQ(aigne::read_request(endpoint::chat, R"({"input":{"messages":[]}})", view)->param,
              "input.modelOptions.model");
    EXPECT_EQ(
        aigne::read_request(endpoint::chat, R"({"input":{"modelOptions":{"model":"m"}}})", view)
            ->param,
        "input.messages");
}

TEST(AigneRequest, DecodesTheFrameworksMessagesIntoTheCanonicalModel) {
    canon::chat_request r;
    ASSERT_FALSE(aigne::decode_request(chat_body, r));
    ASSERT_EQ(r.system.size(), 1U);
    EXPECT_EQ(r.system[0].text, "Be brief.");
    ASSERT_EQ(r.messages.size(), 3U);

    const auto& user = r.messages[0];
    EXPECT_EQ(user.who, canon::role::user);
    ASSERT_EQ(user.parts.size(), 3U);
    EXPECT_EQ(user.parts[0].cache_control, (ojson{{"type", "ephemeral"}, {"ttl", "1h"}}));
    EXPECT_EQ(user.parts[1].kind, part_kind::image);
    EXPECT_EQ(user.parts[1].media_type, "image/png");
    EXPECT_EQ(user.parts[1].data, "iVBORw0K");
    EXPECT_EQ(user.parts[2].kind, part_kind::document);
    EXPECT_EQ(user.parts[2].url, "https://example.com/a.pdf");

    const auto& agent = r.messages[1];
    EXPECT_EQ(agent.who, canon::role::assistant);
    ASSERT_EQ(agent.parts.size(), 1U);
    EXPECT_EQ(agent.parts[0].kind, part_kind::tool_call);
    EXPECT_EQ(agent.parts[0].arguments, R"({"city":"Berlin"})");

    const auto& tool = r.messages[2];
    EXPECT_EQ(tool.who, canon::role::tool);
    ASSERT_EQ(tool.parts.size(), 1U);
    EXPECT_EQ(tool.parts[0].id, "call_1");
    ASSERT_EQ(tool.parts[0].content.size(), 1U);
    EXPECT_EQ(tool.parts[0].content[0].text, R"({"celsius":21})");

    ASSERT_EQ(r.tools.size(), 1U);
    EXPECT_EQ(r.tools[0].name, "weather");
    EXPECT_EQ(r.tool_choice, canon::tool_mode::automatic);
    EXPECT_EQ(r.format, canon::response_format::json_schema);
    EXPECT_TRUE(r.schema_strict);
    EXPECT_EQ(r.temperature, 0.2);
    EXPECT_EQ(r.parallel_tool_calls, false);
    EXPECT_EQ(r.reasoning_effort, "low");
}

TEST(AigneRequest, RefusesWhatCannotBeServed) {
    const auto refused = [](std::string_view body) {
        canon::chat_request r;
        auto bad = aigne::decode_request(body, r);
        return bad ? bad->param : std::string("accepted");
    };
    EXPECT_EQ(
        refused(
            R"({"input":{"messages":[{"role":"user","content":[{"type":"local","path":"/etc/passwd"}]}]}})"),
        "input.messages[0].content[0].type");
    EXPECT_EQ(refused(R"({"input":{"messages":[{"role":"bot","content":"hi"}]}})"),
              "input.messages[0].role");
    EXPECT_EQ(refused(R"({"input":{"messages":[{"role":"tool","content":"x"}]}})"),
              "input.messages[0].toolCallId");
    EXPECT_EQ(
        refused(
            R"({"input":{"messages":[{"role":"user","content":"hi"}],"modelOptions":{"modalities":["text","image"]}}})"),
        "input.modelOptions.modalities");
    EXPECT_EQ(
        refused(
            R"({"input":{"messages":[{"role":"user","content":"hi"}],"modelOptions":{"cacheConfig":{"enabled":true}}}})"),
        "accepted");
}

canon::answer_context context(bool json_output = false) {
    return {.provider = "openai",
            .model = "gpt-4o-mini",
            .request_id = "req-1",
            .include_usage = false,
            .json_output = json_output};
}

TEST(AigneAnswer, AssemblesTheOutputWithUsageAndTheProvider) {
    canon::chat_answer a;
    a.model = "gpt-4o-mini-2024-07-18";
    a.parts.push_back(codec::make_part(part_kind::reasoning, "Hmm."));
    a.parts.push_back(codec::make_part(part_kind::text, "Hello"));
    canon::part call = codec::make_part(part_kind::tool_call);
    call.id = "call_9";
    call.name = "weather";
    call.arguments = R"({"city":"Paris"})";
    a.parts.push_back(call);
    a.usage.prompt = 100;
    a.usage.completion = 7;
    a.usage.cached = 40;
    a.usage.cache_write_5m = 10;
    a.usage.cache_write_1h = 5;
    a.usage.reported = true;

    const ojson out = ojson::parse(aigne::encode_answer(a, context()));
    EXPECT_EQ(out["text"], "Hello");
    EXPECT_EQ(out["thoughts"], "Hmm.");
    EXPECT_EQ(out["toolCalls"][0]["function"]["arguments"], (ojson{{"city", "Paris"}}));
    EXPECT_EQ(out["model"], "gpt-4o-mini-2024-07-18");
    EXPECT_EQ(out["modelWithProvider"], "openai/gpt-4o-mini");
    EXPECT_EQ(out["usage"]["inputTokens"], 45);
    EXPECT_EQ(out["usage"]["outputTokens"], 7);
    EXPECT_EQ(out["usage"]["cacheCreationInputTokens"], 15);
    EXPECT_EQ(out["usage"]["cacheReadInputTokens"], 40);
    EXPECT_EQ(out["usage"]["modelCallId"], "req-1");
}

TEST(AigneAnswer, AJsonAnswerIsGivenAsJson) {
    canon::chat_answer a;
    a.parts.push_back(codec::make_part(part_kind::text, R"({"celsius":21})"));
    const ojson out = ojson::parse(aigne::encode_answer(a, context(true)));
    EXPECT_FALSE(out.contains("text"));
    EXPECT_EQ(out["json"], (ojson{{"celsius", 21}}));
}

std::vector<ojson> frames(std::string_view stream) {
    std::vector<ojson> out;
    while (!stream.empty()) {
        const auto end = stream.find("\n\n");
        std::string_view event = stream.substr(0, end);
        stream.remove_prefix(end == std::string_view::npos ? stream.size() : end + 2);
        EXPECT_TRUE(event.starts_with("data: ")) << event;
        out.push_back(ojson::parse(event.substr(6)));
    }
    return out;
}

TEST(AigneStream, TextAsItComesToolCallsWholeAndUsageLast) {
    auto encoder = aigne::make_stream_encoder(context());
    std::string out;
    canon::event start = codec::make_event(event_kind::start);
    start.name = "gpt-4o-mini-2024";
    encoder->write(start, out);
    encoder->write(codec::make_event(event_kind::reasoning, "Let me see."), out);
    encoder->write(codec::make_event(event_kind::text, "Hel"), out);
    encoder->write(codec::make_event(event_kind::text, "lo"), out);
    canon::event call = codec::make_event(event_kind::tool_call);
    call.id = "c1";
    call.name = "weather";
    encoder->write(call, out);
    encoder->write(codec::make_event(event_kind::tool_arguments, R"({"ci)", 0), out);
    encoder->write(codec::make_event(event_kind::tool_arguments, R"(ty":"Rome"})", 0), out);
    canon::event usage = codec::make_event(event_kind::usage);
    usage.usage.prompt = 9;
    usage.usage.completion = 3;
    usage.usage.reported = true;
    encoder->write(usage, out);
    const auto streamed = frames(out);
    ASSERT_EQ(streamed.size(), 3U);
    EXPECT_EQ(streamed[0], (ojson{{"delta", {{"text", {{"thoughts", "Let me see."}}}}}}));
    EXPECT_EQ(streamed[1], (ojson{{"delta", {{"text", {{"text", "Hel"}}}}}}));
    EXPECT_EQ(streamed[2], (ojson{{"delta", {{"text", {{"text", "lo"}}}}}}));

    std::string tail;
    encoder->finish(tail);
    const auto last = frames(tail);
    ASSERT_EQ(last.size(), 2U);
    EXPECT_EQ(last[0]["delta"]["json"]["toolCalls"][0]["function"]["arguments"],
              (ojson{{"city", "Rome"}}));
    const ojson& final = last[1]["delta"]["json"];
    EXPECT_EQ(final["model"], "gpt-4o-mini-2024");
    EXPECT_EQ(final["usage"]["inputTokens"], 9);
    EXPECT_EQ(final["usage"]["outputTokens"], 3);
    EXPECT_EQ(final["modelWithProvider"], "openai/gpt-4o-mini");

    std::string failed;
    encoder->fail(failed, "upstream reset", "upstream_stream_error");
    EXPECT_EQ(failed, "event: error\ndata: {\"message\":\"upstream reset\"}\n\n");
}

TEST(AigneRelayed, ImagesAndEmbeddingsInTheClientsShape) {
    request_view view;
    ASSERT_FALSE(aigne::read_request(
        endpoint::images,
        R"({"input":{"prompt":"a cat","n":1,"modelOptions":{"model":"openai/dall-e-3","size":"1024x1024"}}})",
        view));
    EXPECT_EQ(
        ojson::parse(view.body),
        (ojson{
            {"model", "openai/dall-e-3"}, {"prompt", "a cat"}, {"n", 1}, {"size", "1024x1024"}}));
    EXPECT_EQ(view.body.data(), view.converted.data());

    std::string images = R"({"created":1,"data":[{"url":"https://x/y.png"},{"b64_json":"AAA"}]})";
    ASSERT_TRUE(aigne::relayed_answer(endpoint::images, images, context()));
    const ojson i = ojson::parse(images);
    EXPECT_EQ(i["images"][0],
              (ojson{{"type", "url"}, {"url", "https://x/y.png"}, {"mimeType", "image/png"}}));
    EXPECT_EQ(i["images"][1]["data"], "AAA");

    std::string vectors =
        R"({"object":"list","data":[{"embedding":[0.5,-1]}],"model":"m","usage":{"prompt_tokens":4}})";
    ASSERT_TRUE(aigne::relayed_answer(endpoint::embeddings, vectors, context()));
    const ojson e = ojson::parse(vectors);
    EXPECT_EQ(e["embeddings"], (ojson{{0.5, -1}}));
    EXPECT_EQ(e["usage"]["inputTokens"], 4);
    std::string nonsense = R"({"error":"no"})";
    EXPECT_FALSE(aigne::relayed_answer(endpoint::embeddings, nonsense, context()));
}

TEST(AigneClientApp, DecodesTheDidAndDropsControlCharacters) {
    EXPECT_EQ(aigne::client_app("%40aigne%2Faigne-hub%3Ahost"), "@aigne/aigne-hub:host");
    EXPECT_EQ(aigne::client_app("z1abc\x01\x7f"), "z1abc");
    EXPECT_EQ(aigne::client_app(std::string(300, 'a')).size(), 200U);
}

} // namespace
} // namespace aignehub::gateway
