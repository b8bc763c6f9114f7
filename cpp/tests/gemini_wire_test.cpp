#include "gateway/gemini_wire.hpp"

#include "fixtures.hpp"
#include "gateway/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aignehub::gateway {
namespace {

using canon::event_kind;
using canon::part_kind;
using namespace fixtures;

class GeminiFixtures : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = root("dev/gemini");
        if (dir_.empty()) {
            GTEST_SKIP() << "recorded traffic not found (set AIGNEHUB_FIXTURES to the fixtures "
                            "folder)";
        }
    }

    [[nodiscard]] recording load(const std::string& name) const {
        return read_recording(dir_ / "dev" / "gemini" / (name + ".json"), "gemini/" + name);
    }

    [[nodiscard]] std::string response(const std::string& name) const {
        return load(name).response;
    }

    std::filesystem::path dir_;
};

// Feeds the server-sent events of a recorded stream body to a decoder.
std::vector<canon::event> decode_sse(std::string_view body, canon::stream_decoder& decoder) {
    std::vector<canon::event> events;
    for (const auto& e : split_events(body)) {
        const auto error = decoder.feed(e, events);
        EXPECT_FALSE(error.has_value()) << (error ? error->message : "");
    }
    return events;
}

// The JSON objects of an ?alt=sse body, for rebuilding the same stream as a JSON array.
std::vector<std::string> sse_objects(std::string_view body) {
    std::vector<std::string> objects;
    for (const auto& e : split_events(body)) {
        objects.push_back(parse_event(e).data);
    }
    return objects;
}

bool id_chars_ok(std::string_view id) {
    for (const char c : id) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return false;
        }
    }
    return !id.empty();
}

// ---- answers ---------------------------------------------------------------------------------

TEST_F(GeminiFixtures, EveryRecordedAnswerDecodesAndOtherBodiesDoNot) {
    int answers = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "dev" / "gemini")) {
        const std::string name = entry.path().stem().string();
        const recording f = load(name);
        const std::string& body = f.response;
        canon::chat_answer answer;
        if (f.api == "gemini.generateContent" && f.status == 200) {
            ASSERT_TRUE(gemini::decode_answer(body, answer)) << name;
            EXPECT_FALSE(answer.parts.empty()) << name;
            EXPECT_TRUE(answer.usage.reported) << name;
            EXPECT_EQ(answer.model, "gemini-2.5-flash") << name;
            ++answers;
        } else if (!f.streaming) {
            EXPECT_FALSE(gemini::decode_answer(body, answer)) << name; // errors, lists, vectors
        }
    }
    EXPECT_EQ(answers, 3);
}

TEST_F(GeminiFixtures, BasicAnswerCountsThoughtsAsCompletionTokens) {
    canon::chat_answer answer;
    ASSERT_TRUE(gemini::decode_answer(response("generate_basic"), answer));
    EXPECT_EQ(answer.id, "Cr-FaqLbNpfYkdUP-bmpoAw");
    EXPECT_EQ(answer.model, "gemini-2.5-flash");
    ASSERT_EQ(answer.parts.size(), 1U);
    EXPECT_EQ(answer.parts[0].kind, part_kind::text);
    EXPECT_EQ(answer.parts[0].text, "2 + 2 = **4**");
    EXPECT_EQ(answer.reason, canon::finish::stop);
    EXPECT_TRUE(answer.usage.reported);
    EXPECT_EQ(answer.usage.prompt, 10);
    EXPECT_EQ(answer.usage.completion, 31);
    EXPECT_EQ(answer.usage.reasoning, 23);
    EXPECT_EQ(answer.usage.cached, 0);
}

TEST_F(GeminiFixtures, FunctionCallsCarryTheirThoughtSignatureInTheirIds) {
    const ojson recorded = ojson::parse(response("function_call"));
    const std::string signature =
        recorded["candidates"][0]["content"]["parts"][0]["thoughtSignature"].get<std::string>();
    canon::chat_answer answer;
    ASSERT_TRUE(gemini::decode_answer(response("function_call"), answer));
    ASSERT_EQ(answer.parts.size(), 2U);
    const auto& weather = answer.parts[0];
    const auto& language = answer.parts[1];
    EXPECT_EQ(weather.kind, part_kind::tool_call);
    EXPECT_EQ(weather.name, "weather");
    EXPECT_EQ(ojson::parse(weather.arguments),
              ojson::parse(R"({"latitude":"52.5200","longitude":"13.4050"})"));
    EXPECT_TRUE(weather.id.starts_with("call_0_"));
    EXPECT_NE(weather.id.find("_sig_"), std::string::npos);
    EXPECT_TRUE(id_chars_ok(weather.id)) << weather.id;
    EXPECT_EQ(gemini::signature_of_call_id(weather.id), signature);
    EXPECT_EQ(language.kind, part_kind::tool_call);
    EXPECT_EQ(language.name, "best_language_to_learn");
    EXPECT_EQ(language.arguments, "{}");
    EXPECT_TRUE(language.id.starts_with("call_1_"));
    EXPECT_EQ(gemini::signature_of_call_id(language.id), "");
    EXPECT_EQ(answer.reason, canon::finish::tool_calls);
    EXPECT_EQ(answer.usage.prompt, 143);
    EXPECT_EQ(answer.usage.completion, 44 + 109);
    EXPECT_EQ(answer.usage.reasoning, 109);
}

TEST_F(GeminiFixtures, VisionAnswerUsage) {
    canon::chat_answer answer;
    ASSERT_TRUE(gemini::decode_answer(response("vision_inline_data"), answer));
    ASSERT_EQ(answer.parts.size(), 1U);
    EXPECT_TRUE(answer.parts[0].text.starts_with("I see a faceted"));
    EXPECT_EQ(answer.usage.prompt, 267);
    EXPECT_EQ(answer.usage.completion, 47 + 373);
}

TEST(GeminiAnswer, ThoughtSummariesBecomeReasoningWithTheirSignature) {
    const std::string body = R"({"candidates":[{"content":{"role":"model","parts":[
        {"text":"Let me think.","thought":true,"thoughtSignature":"c2ln"},
        {"text":"Four."}]},"finishReason":"STOP","index":0}],
        "usageMetadata":{"promptTokenCount":7,"cachedContentTokenCount":4,
        "toolUsePromptTokenCount":2,"candidatesTokenCount":3,"thoughtsTokenCount":5},
        "modelVersion":"gemini-2.5-pro","responseId":"r1"})";
    canon::chat_answer answer;
    ASSERT_TRUE(gemini::decode_answer(body, answer));
    ASSERT_EQ(answer.parts.size(), 2U);
    EXPECT_EQ(answer.parts[0].kind, part_kind::reasoning);
    EXPECT_EQ(answer.parts[0].text, "Let me think.");
    EXPECT_EQ(answer.parts[0].signature, "c2ln");
    EXPECT_EQ(answer.parts[1].kind, part_kind::text);
    EXPECT_EQ(answer.parts[1].text, "Four.");
    EXPECT_EQ(answer.reason, canon::finish::stop);
    EXPECT_EQ(answer.usage.prompt, 9);
    EXPECT_EQ(answer.usage.cached, 4);
    EXPECT_EQ(answer.usage.completion, 8);
    EXPECT_EQ(answer.usage.reasoning, 5);
}

TEST(GeminiAnswer, FinishReasonsMapToOpenAIs) {
    const auto reason_of = [](std::string_view gemini_reason) {
        canon::chat_answer answer;
        const std::string body =
            R"({"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":")" +
            std::string(gemini_reason) + R"("}]})";
        EXPECT_TRUE(gemini::decode_answer(body, answer)) << gemini_reason;
        return answer.reason;
    };
    EXPECT_EQ(reason_of("STOP"), canon::finish::stop);
    EXPECT_EQ(reason_of("MAX_TOKENS"), canon::finish::length);
    for (const auto* filtered : {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                                 "IMAGE_SAFETY", "LANGUAGE"}) {
        EXPECT_EQ(reason_of(filtered), canon::finish::content_filter) << filtered;
    }
    for (const auto* plain : {"MALFORMED_FUNCTION_CALL", "OTHER", "FINISH_REASON_UNSPECIFIED"}) {
        EXPECT_EQ(reason_of(plain), canon::finish::stop) << plain;
    }
}

TEST(GeminiAnswer, ABlockedPromptIsAContentFilterFinishWithNothingSaid) {
    canon::chat_answer answer;
    ASSERT_TRUE(gemini::decode_answer(
        R"({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":6},
            "modelVersion":"gemini-2.5-flash","responseId":"b"})",
        answer));
    EXPECT_TRUE(answer.parts.empty());
    EXPECT_EQ(answer.reason, canon::finish::content_filter);
    EXPECT_EQ(answer.usage.prompt, 6);
    EXPECT_EQ(answer.id, "b");
}

TEST(GeminiAnswer, WhatIsNotAnAnswerIsRefused) {
    canon::chat_answer answer;
    EXPECT_FALSE(gemini::decode_answer("not json", answer));
    EXPECT_FALSE(gemini::decode_answer("[]", answer));
    EXPECT_FALSE(gemini::decode_answer(R"({"error":{"code":500,"message":"x"}})", answer));
    EXPECT_FALSE(gemini::decode_answer(R"({"totalTokens":3})", answer));
}

// ---- streams ---------------------------------------------------------------------------------

TEST_F(GeminiFixtures, SseStreamGivesTextUsageAndOneFinish) {
    auto decoder = gemini::make_stream_decoder();
    const auto events = decode_sse(response("stream_sse"), *decoder);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.front().kind, event_kind::start);
    EXPECT_EQ(events.front().id, "w1peaMz6INOvnvgPgYfPiQY");
    EXPECT_EQ(events.front().name, "gemini-2.0-flash-exp");
    EXPECT_EQ(of_kind(events, event_kind::start).size(), 1U);
    EXPECT_EQ(joined(events, event_kind::text), "The capital of France is Paris.\n");
    EXPECT_EQ(of_kind(events, event_kind::text).size(), 3U);
    const auto usage = of_kind(events, event_kind::usage);
    ASSERT_EQ(usage.size(), 3U);
    EXPECT_EQ(usage.back().usage.prompt, 13);
    EXPECT_EQ(usage.back().usage.completion, 8);
    const auto finish = of_kind(events, event_kind::finish);
    ASSERT_EQ(finish.size(), 1U);
    EXPECT_EQ(finish[0].reason, canon::finish::stop);
    EXPECT_EQ(events.back().kind, event_kind::finish);
    EXPECT_FALSE(decoder->done());
}

TEST_F(GeminiFixtures, StreamedFunctionCallGivesCallArgumentsAndToolCallsFinish) {
    const std::string body = response("stream_function_call");
    const std::string signature = ojson::parse(sse_objects(body).at(
        0))["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
                                      .get<std::string>();
    auto decoder = gemini::make_stream_decoder();
    const auto events = decode_sse(body, *decoder);
    ASSERT_EQ(events.size(), 5U); // start, tool_call, tool_arguments, usage, finish
    EXPECT_EQ(events[0].kind, event_kind::start);
    EXPECT_EQ(events[0].id, "U7-Fao_EK_-VvdIP1-aJ8Qo");
    EXPECT_EQ(events[1].kind, event_kind::tool_call);
    EXPECT_EQ(events[1].index, 0);
    EXPECT_EQ(events[1].name, "weather");
    EXPECT_TRUE(id_chars_ok(events[1].id));
    EXPECT_EQ(gemini::signature_of_call_id(events[1].id), signature);
    EXPECT_EQ(events[2].kind, event_kind::tool_arguments);
    EXPECT_EQ(events[2].index, 0);
    EXPECT_EQ(ojson::parse(events[2].text),
              ojson::parse(R"({"latitude":"52.5200","longitude":"13.4050"})"));
    EXPECT_EQ(events[3].kind, event_kind::usage);
    EXPECT_EQ(events[3].usage.prompt, 103);
    EXPECT_EQ(events[3].usage.completion, 30 + 43);
    EXPECT_EQ(events[3].usage.reasoning, 43);
    EXPECT_EQ(events[4].kind, event_kind::finish);
    EXPECT_EQ(events[4].reason, canon::finish::tool_calls);
}

// What the same stream gives, as comparable text (ids are random: compared by signature).
std::vector<std::string> summary(const std::vector<canon::event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        out.push_back(
            std::to_string(static_cast<int>(e.kind)) + "|" + e.text + "|" + e.name + "|" +
            std::to_string(e.index) + "|" + std::to_string(static_cast<int>(e.reason)) + "|" +
            std::to_string(e.usage.prompt) + "/" + std::to_string(e.usage.completion) + "|" +
            (e.kind == event_kind::start ? e.id : "") + "|" + gemini::signature_of_call_id(e.id));
    }
    return out;
}

TEST_F(GeminiFixtures, JsonArrayStreamDecodesLikeTheSseStream) {
    for (const char* name : {"stream_sse", "stream_function_call"}) {
        const std::string body = response(name);
        auto sse = gemini::make_stream_decoder();
        const auto expected = summary(decode_sse(body, *sse));
        const auto objects = sse_objects(body);
        ASSERT_FALSE(objects.empty());

        // As the array splitter may cut it: "[{...}", ",\r\n{...}", ..., "]".
        auto cut = gemini::make_stream_decoder();
        std::vector<canon::event> events;
        for (std::size_t i = 0; i < objects.size(); ++i) {
            const std::string piece = (i == 0 ? "[" : ",\r\n") + objects[i];
            EXPECT_FALSE(cut->feed(piece, events).has_value());
        }
        EXPECT_FALSE(cut->feed("]\n", events).has_value());
        EXPECT_EQ(summary(events), expected) << name;

        // As bare objects, and as punctuation trailing each object.
        auto bare = gemini::make_stream_decoder();
        events.clear();
        for (std::size_t i = 0; i < objects.size(); ++i) {
            const std::string piece = "  " + objects[i] + (i + 1 == objects.size() ? "\n]" : ",\n");
            EXPECT_FALSE(bare->feed(piece, events).has_value());
        }
        EXPECT_EQ(summary(events), expected) << name;

        // Through the gateway's splitter, arriving a few bytes at a time.
        event_splitter splitter(framing::json_array);
        auto split = gemini::make_stream_decoder();
        events.clear();
        std::string array_body = "[";
        for (std::size_t i = 0; i < objects.size(); ++i) {
            array_body += (i == 0 ? "\n" : ",\r\n") + objects[i];
        }
        array_body += "\n]\n";
        for (std::size_t at = 0; at < array_body.size(); at += 7) {
            splitter.feed(std::string_view(array_body).substr(at, 7), [&](std::string_view e) {
                EXPECT_FALSE(split->feed(e, events).has_value());
            });
        }
        EXPECT_EQ(summary(events), expected) << name;

        // The whole array at once.
        std::string whole = "[";
        for (std::size_t i = 0; i < objects.size(); ++i) {
            whole += (i == 0 ? "" : ",\n") + objects[i];
        }
        whole += "]";
        auto at_once = gemini::make_stream_decoder();
        events.clear();
        EXPECT_FALSE(at_once->feed(whole, events).has_value());
        EXPECT_EQ(summary(events), expected) << name;
    }
}

TEST(GeminiStream, ThoughtsCommentsAndSeveralCalls) {
    auto decoder = gemini::make_stream_decoder();
    std::vector<canon::event> events;
    EXPECT_FALSE(decoder->feed(": keep-alive\n\n", events).has_value());
    EXPECT_TRUE(events.empty());
    EXPECT_FALSE(
        decoder
            ->feed("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hmm\","
                   "\"thought\":true,\"thoughtSignature\":\"AbC+/w==\"}]}}],\"responseId\":"
                   "\"s1\",\"modelVersion\":\"gemini-2.5-pro\"}\n\n",
                   events)
            .has_value());
    EXPECT_FALSE(decoder
                     ->feed("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
                            "{\"name\":\"a\",\"args\":{\"x\":1}}},{\"functionCall\":{\"name\":"
                            "\"b\"}}]},\"finishReason\":\"STOP\"}]}\r\n\r\n",
                            events)
                     .has_value());
    ASSERT_EQ(events.size(), 8U);
    EXPECT_EQ(events[0].kind, event_kind::start);
    EXPECT_EQ(events[0].id, "s1");
    EXPECT_EQ(events[1].kind, event_kind::reasoning);
    EXPECT_EQ(events[1].text, "Hmm");
    EXPECT_EQ(events[2].kind, event_kind::signature);
    EXPECT_EQ(events[2].text, "AbC+/w==");
    EXPECT_EQ(events[3].kind, event_kind::tool_call);
    EXPECT_EQ(events[3].name, "a");
    EXPECT_EQ(events[4].text, R"({"x":1})");
    EXPECT_EQ(events[5].kind, event_kind::tool_call);
    EXPECT_EQ(events[5].index, 1);
    EXPECT_TRUE(events[5].id.starts_with("call_1_"));
    EXPECT_NE(events[3].id, events[5].id);
    EXPECT_EQ(events[6].kind, event_kind::tool_arguments);
    EXPECT_EQ(events[6].index, 1);
    EXPECT_EQ(events[6].text, "{}");
    EXPECT_EQ(events[7].kind, event_kind::finish);
    EXPECT_EQ(events[7].reason, canon::finish::tool_calls);
}

TEST(GeminiStream, AnErrorInTheStreamIsReturned) {
    auto decoder = gemini::make_stream_decoder();
    std::vector<canon::event> events;
    const auto error = decoder->feed(
        "data: {\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":"
        "\"RESOURCE_EXHAUSTED\"}}\n\n",
        events);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->message, "Resource has been exhausted");
    EXPECT_EQ(error->type, "RESOURCE_EXHAUSTED");
    EXPECT_EQ(error->status, 429U);
    EXPECT_TRUE(events.empty());

    auto array = gemini::make_stream_decoder();
    const auto in_array = array->feed(
        R"([{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}])",
        events);
    ASSERT_TRUE(in_array.has_value());
    EXPECT_EQ(in_array->status, 503U);

    auto garbled = gemini::make_stream_decoder();
    EXPECT_TRUE(garbled->feed("data: {\"candidates\":[\n\n", events).has_value());
}

TEST(GeminiStream, ABlockedPromptFinishesWithContentFilter) {
    auto decoder = gemini::make_stream_decoder();
    std::vector<canon::event> events;
    ASSERT_FALSE(
        decoder->feed(R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}})", events));
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[1].kind, event_kind::finish);
    EXPECT_EQ(events[1].reason, canon::finish::content_filter);
}

// ---- requests --------------------------------------------------------------------------------

TEST_F(GeminiFixtures, APlainRequestIsWhatGeminiWasSent) {
    canon::chat_request request;
    request.model = "gemini-2.5-flash";
    request.messages.push_back({canon::role::user, {text_part("What's 2 + 2?")}});
    std::string body;
    ASSERT_FALSE(gemini::encode_request(request, body));
    EXPECT_EQ(body, load("generate_basic").request);
}

TEST(GeminiRequest, AConversationWithToolsIsEncodedFieldByField) {
    const std::string signature = "CpEDARFN+Mg9f/55m3==";
    const std::string call_a = gemini::make_call_id(0, signature);
    const std::string call_b = gemini::make_call_id(1, "");

    canon::chat_request r;
    r.model = "gemini-2.5-flash";
    r.system = {text_part("Be brief."), text_part("Use metric units.")};
    r.messages.push_back(
        {canon::role::user,
         {text_part("Weather here?"), media_part(part_kind::image, "image/png", "iVBORw0KGgo="),
          media_part(part_kind::image, "", "", "data:image/jpeg;base64,/9j/4AAQ"),
          media_part(part_kind::image, "image/png", "", "gs://bucket/cat.png")}});
    r.messages.push_back(
        {canon::role::assistant,
         {reasoning_part("They ask about weather.", "sig"), text_part("Checking."),
          call_part(call_a, "weather", R"({"city":"Paris"})"), call_part(call_b, "clock", "")}});
    canon::part unknown = result_part("call_unknown", "oops"); // a call the conversation lacks
    unknown.is_error = true;
    r.messages.push_back({canon::role::tool, {result_part(call_a, R"({"temp":21})")}});
    r.messages.push_back({canon::role::tool, {result_part(call_b, "12:00")}});
    r.messages.push_back({canon::role::tool, {unknown}});
    r.messages.push_back({canon::role::user, {text_part("Thanks")}});

    const canon::tool weather = make_tool(
        "weather", "Gets the weather",
        ojson::parse(
            R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"));
    r.tools = {weather,
               make_tool("clock", "", ojson::parse(R"({"type":"object","properties":{}})"))};
    r.tool_choice = canon::tool_mode::named;
    r.tool_name = "weather";
    r.parallel_tool_calls = false;
    r.temperature = 0.5;
    r.top_p = 0.9;
    r.top_k = 40;
    r.max_tokens = 1000;
    r.stop = {"END"};
    r.presence_penalty = 0.1;
    r.frequency_penalty = 0.2;
    r.seed = 7;
    r.reasoning_effort = "low";
    r.format = canon::response_format::json_schema;
    r.schema = ojson::parse(R"({"type":"object","properties":{"a":{"type":"string"}}})");
    r.user = "end-user-1";

    std::string text;
    ASSERT_FALSE(gemini::encode_request(r, text));
    const ojson body = ojson::parse(text);
    EXPECT_FALSE(body.contains("model"));
    EXPECT_FALSE(body.contains("user"));

    EXPECT_EQ(body["systemInstruction"],
              ojson::parse(R"({"parts":[{"text":"Be brief."},{"text":"Use metric units."}]})"));

    const ojson& contents = body["contents"];
    ASSERT_EQ(contents.size(), 4U);
    EXPECT_EQ(contents[0]["role"], "user");
    EXPECT_EQ(contents[0]["parts"], ojson::parse(R"([
        {"text":"Weather here?"},
        {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
        {"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}},
        {"fileData":{"mimeType":"image/png","fileUri":"gs://bucket/cat.png"}}])"));

    EXPECT_EQ(contents[1]["role"], "model");
    const ojson& model_parts = contents[1]["parts"];
    ASSERT_EQ(model_parts.size(), 3U); // the thought is not sent back
    EXPECT_EQ(model_parts[0], ojson::parse(R"({"text":"Checking."})"));
    EXPECT_EQ(model_parts[1]["functionCall"],
              ojson::parse(R"({"name":"weather","args":{"city":"Paris"}})"));
    EXPECT_EQ(model_parts[1]["thoughtSignature"], signature);
    EXPECT_EQ(model_parts[2], ojson::parse(R"({"functionCall":{"name":"clock","args":{}}})"));

    EXPECT_EQ(contents[2]["role"], "user"); // the three tool results, in one content
    EXPECT_EQ(contents[2]["parts"], ojson::parse(R"([
        {"functionResponse":{"name":"weather","response":{"temp":21}}},
        {"functionResponse":{"name":"clock","response":{"result":"12:00"}}},
        {"functionResponse":{"name":"call_unknown","response":{"error":"oops"}}}])"));
    EXPECT_EQ(contents[3], ojson::parse(R"({"role":"user","parts":[{"text":"Thanks"}]})"));

    ASSERT_EQ(body["tools"].size(), 1U);
    const ojson& declarations = body["tools"][0]["functionDeclarations"];
    ASSERT_EQ(declarations.size(), 2U);
    EXPECT_EQ(declarations[0]["name"], "weather");
    EXPECT_EQ(declarations[0]["description"], "Gets the weather");
    EXPECT_EQ(declarations[0]["parametersJsonSchema"], weather.parameters);
    EXPECT_FALSE(declarations[0].contains("parameters"));
    EXPECT_EQ(declarations[1], ojson::parse(R"({"name":"clock"})"));
    EXPECT_EQ(body["toolConfig"], ojson::parse(R"({"functionCallingConfig":{"mode":"ANY",
                                                   "allowedFunctionNames":["weather"]}})"));

    const ojson& config = body["generationConfig"];
    EXPECT_EQ(config["temperature"], 0.5);
    EXPECT_EQ(config["topP"], 0.9);
    EXPECT_EQ(config["topK"], 40);
    EXPECT_EQ(config["maxOutputTokens"], 1000);
    EXPECT_EQ(config["stopSequences"], ojson::parse(R"(["END"])"));
    EXPECT_EQ(config["presencePenalty"], 0.1);
    EXPECT_EQ(config["frequencyPenalty"], 0.2);
    EXPECT_EQ(config["seed"], 7);
    EXPECT_EQ(config["responseMimeType"], "application/json");
    EXPECT_EQ(config["responseJsonSchema"], r.schema);
    EXPECT_EQ(config["thinkingConfig"],
              ojson::parse(R"({"thinkingBudget":1024,"includeThoughts":true})"));
}

TEST(GeminiRequest, ToolChoicesAndThinkingBudgets) {
    const auto encode = [](const canon::chat_request& r) {
        std::string text;
        EXPECT_FALSE(gemini::encode_request(r, text));
        return ojson::parse(text);
    };
    canon::chat_request r;
    r.messages.push_back({canon::role::user, {text_part("hi")}});
    ojson body = encode(r);
    EXPECT_EQ(body["generationConfig"], ojson::object()); // always there
    EXPECT_FALSE(body.contains("tools"));
    EXPECT_FALSE(body.contains("toolConfig"));
    EXPECT_FALSE(body.contains("systemInstruction"));

    r.tools = {make_tool("f")};
    const std::vector<std::pair<canon::tool_mode, const char*>> modes = {
        {canon::tool_mode::automatic, "AUTO"},
        {canon::tool_mode::none, "NONE"},
        {canon::tool_mode::required, "ANY"}};
    for (const auto& [mode, name] : modes) {
        r.tool_choice = mode;
        body = encode(r);
        EXPECT_EQ(body["toolConfig"]["functionCallingConfig"], ojson({{"mode", name}}));
    }

    const std::vector<std::pair<std::string, std::int64_t>> efforts = {
        {"minimal", 0}, {"low", 1024}, {"medium", 8192}, {"high", 24576}};
    for (const auto& [effort, budget] : efforts) {
        r.reasoning_effort = effort;
        body = encode(r);
        EXPECT_EQ(body["generationConfig"]["thinkingConfig"]["thinkingBudget"], budget) << effort;
        EXPECT_EQ(body["generationConfig"]["thinkingConfig"]["includeThoughts"], budget > 0);
    }
    r.reasoning_effort.clear();
    r.reasoning_budget = 2048;
    body = encode(r);
    EXPECT_EQ(body["generationConfig"]["thinkingConfig"],
              ojson::parse(R"({"thinkingBudget":2048,"includeThoughts":true})"));
    r.reasoning_budget = 0;
    body = encode(r);
    EXPECT_EQ(body["generationConfig"]["thinkingConfig"],
              ojson::parse(R"({"thinkingBudget":0,"includeThoughts":false})"));

    r.reasoning_budget.reset();
    r.format = canon::response_format::json_object;
    body = encode(r);
    EXPECT_EQ(body["generationConfig"]["responseMimeType"], "application/json");
    EXPECT_FALSE(body["generationConfig"].contains("responseJsonSchema"));
}

TEST(GeminiRequest, WhatGeminiCannotTakeIsRefusedByField) {
    const auto refused = [](const canon::chat_request& r) {
        std::string text;
        return gemini::encode_request(r, text);
    };
    canon::chat_request r;
    r.messages.push_back({canon::role::user, {text_part("hi")}});
    r.messages.push_back({canon::role::assistant, {text_part("hello")}});
    r.messages.push_back(
        {canon::role::user,
         {text_part("look"), media_part(part_kind::image, "", "", "https://example.com/cat.png")}});
    auto bad = refused(r);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->param, "messages[2].content[1].image_url");
    EXPECT_NE(bad->message.find("inline"), std::string::npos);
    EXPECT_EQ(bad->code, "invalid_request");

    r.messages[2].parts[1].url = "https://generativelanguage.googleapis.com/v1beta/files/abc";
    r.messages[2].parts[1].media_type = "image/png";
    std::string text;
    ASSERT_FALSE(gemini::encode_request(r, text));
    EXPECT_EQ(ojson::parse(text)["contents"][2]["parts"][1]["fileData"]["fileUri"],
              "https://generativelanguage.googleapis.com/v1beta/files/abc");

    canon::chat_request doc;
    doc.messages.push_back(
        {canon::role::user,
         {media_part(part_kind::document, "", "", "https://example.com/a.pdf")}});
    bad = refused(doc);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->param, "messages[0].content[0].file");
    doc.messages[0].parts[0].url.clear();
    doc.messages[0].parts[0].data = "JVBERi0=";
    ASSERT_FALSE(gemini::encode_request(doc, text));
    EXPECT_EQ(ojson::parse(text)["contents"][0]["parts"][0],
              ojson::parse(R"({"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}})"));

    canon::chat_request effort;
    effort.messages.push_back({canon::role::user, {text_part("hi")}});
    effort.reasoning_effort = "extreme";
    bad = refused(effort);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->param, "reasoning_effort");

    canon::chat_request args;
    args.messages.push_back({canon::role::user, {text_part("hi")}});
    args.messages.push_back({canon::role::assistant, {call_part("call_1", "f", "[1,2]")}});
    bad = refused(args);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->param, "messages[1].tool_calls[0].function.arguments");
}

TEST(GeminiRequest, CountTokensWrapsTheRequestWithTheModel) {
    canon::chat_request r;
    r.system = {text_part("Be brief.")};
    r.messages.push_back({canon::role::user, {text_part("hi")}});
    std::string text;
    ASSERT_FALSE(gemini::encode_count_request(r, "gemini-2.5-flash", text));
    const ojson body = ojson::parse(text);
    ASSERT_EQ(body.size(), 1U);
    const ojson& inner = body["generateContentRequest"];
    EXPECT_EQ(inner.begin().key(), "model");
    EXPECT_EQ(inner["model"], "models/gemini-2.5-flash");
    EXPECT_EQ(inner["contents"], ojson::parse(R"([{"role":"user","parts":[{"text":"hi"}]}])"));
    EXPECT_EQ(inner["systemInstruction"]["parts"][0]["text"], "Be brief.");

    std::int64_t tokens = 0;
    EXPECT_TRUE(gemini::decode_count(R"({"totalTokens": 31, "promptTokensDetails": []})", tokens));
    EXPECT_EQ(tokens, 31);
    EXPECT_FALSE(gemini::decode_count(R"({"error":{"code":400}})", tokens));
    EXPECT_FALSE(gemini::decode_count("31", tokens));
}

// ---- errors ----------------------------------------------------------------------------------

TEST_F(GeminiFixtures, AnInvalidKeyReadsAs401) {
    const recording f = load("error_400_api_key_invalid");
    const auto error = gemini::read_error(f.status, f.response);
    EXPECT_EQ(error.status, 401U);
    EXPECT_EQ(error.message, "API key not valid. Please pass a valid API key.");
    EXPECT_EQ(error.type, "INVALID_ARGUMENT");
    EXPECT_EQ(error.code, "API_KEY_INVALID");
}

TEST(GeminiError, StatusesAndUnreadableBodies) {
    const auto status_of = [](std::string_view status) {
        return gemini::read_error(400, R"({"error":{"code":1,"message":"m","status":")" +
                                           std::string(status) + R"("}})");
    };
    EXPECT_EQ(status_of("PERMISSION_DENIED").status, 403U);
    EXPECT_EQ(status_of("RESOURCE_EXHAUSTED").status, 429U);
    EXPECT_EQ(status_of("UNAVAILABLE").status, 503U);
    EXPECT_EQ(status_of("INVALID_ARGUMENT").status, 0U);
    EXPECT_EQ(status_of("INVALID_ARGUMENT").code, "INVALID_ARGUMENT");

    std::string html = "<html>\r\n<body>\tBad\x01gateway</body>\n</html>";
    html += std::string(2000, 'x');
    const auto error = gemini::read_error(502, html);
    EXPECT_LE(error.message.size(), 500U);
    EXPECT_TRUE(error.message.starts_with("<html>"));
    for (const char c : error.message) {
        EXPECT_GE(static_cast<unsigned char>(c), 0x20U);
    }
    EXPECT_EQ(error.status, 0U);
    EXPECT_FALSE(gemini::read_error(500, "").message.empty());
}

// ---- call ids --------------------------------------------------------------------------------

TEST(GeminiCallIds, SignaturesRoundTripAndForeignIdsCarryNone) {
    for (const std::string signature :
         {"QUJD", "QUI=", "QQ==", "a+b/c+d/", "CiQBEU0yD1hCYiUoRFyerO7xltRNYWnI+sSFA1cwzfrO0/SJ"}) {
        const std::string id = gemini::make_call_id(3, signature);
        EXPECT_TRUE(id.starts_with("call_3_")) << id;
        EXPECT_TRUE(id_chars_ok(id)) << id;
        EXPECT_EQ(gemini::signature_of_call_id(id), signature);
    }
    const std::string plain = gemini::make_call_id(12, "");
    ASSERT_EQ(plain.size(), std::string("call_12_").size() + 8);
    EXPECT_TRUE(id_chars_ok(plain));
    EXPECT_EQ(gemini::signature_of_call_id(plain), "");
    EXPECT_NE(gemini::make_call_id(0, ""), gemini::make_call_id(0, ""));
    EXPECT_EQ(gemini::signature_of_call_id("call_abc"), "");
    EXPECT_EQ(gemini::signature_of_call_id("toolu_01_sig_abcd"), "");
    EXPECT_EQ(gemini::signature_of_call_id("call_1_zzzzzzzz_sig_QUJD"), "");
    EXPECT_EQ(gemini::signature_of_call_id("call_1_0123abcd_sig_"), "");
}

// ---- embeddings ------------------------------------------------------------------------------

TEST_F(GeminiFixtures, EmbeddingsRoundTripTheBatchRecording) {
    const recording f = load("batch_embed_contents");
    bool batch = false;
    std::string body;
    ASSERT_FALSE(gemini::encode_embeddings(
        R"({"model":"gemini-embedding-001","input":["Some text goes here"],"dimensions":768,)"
        R"("encoding_format":"float","user":"u1"})",
        "gemini-embedding-001", batch, body));
    EXPECT_TRUE(batch);
    EXPECT_EQ(body, f.request);

    std::string answer = f.response;
    const ojson recorded = ojson::parse(answer);
    answer_facts facts;
    ASSERT_TRUE(gemini::decode_embeddings(answer, "gemini-embedding-001", facts));
    EXPECT_EQ(facts.items, 1);
    EXPECT_EQ(facts.model, "gemini-embedding-001");
    const ojson list = ojson::parse(answer);
    EXPECT_EQ(list["object"], "list");
    EXPECT_EQ(list["model"], "gemini-embedding-001");
    EXPECT_EQ(list["usage"], ojson::parse(R"({"prompt_tokens":0,"total_tokens":0})"));
    ASSERT_EQ(list["data"].size(), 1U);
    EXPECT_EQ(list["data"][0]["object"], "embedding");
    EXPECT_EQ(list["data"][0]["index"], 0);
    EXPECT_EQ(list["data"][0]["embedding"].size(), 768U);
    EXPECT_EQ(list["data"][0]["embedding"], recorded["embeddings"][0]["values"]);
    EXPECT_NE(answer.find(",-5.989852e-05,"), std::string::npos); // the digits as sent
}

TEST(GeminiEmbeddings, OneStringIsEmbedContentAndTokensAreRefused) {
    bool batch = true;
    std::string body;
    ASSERT_FALSE(gemini::encode_embeddings(R"({"model":"m","input":"hello"})",
                                           "gemini-embedding-001", batch, body));
    EXPECT_FALSE(batch);
    EXPECT_EQ(body,
              R"({"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]}})");

    for (const char* tokens :
         {R"({"model":"m","input":[1,2,3]})", R"({"model":"m","input":[[1,2]]})"}) {
        const auto bad = gemini::encode_embeddings(tokens, "gemini-embedding-001", batch, body);
        ASSERT_TRUE(bad);
        EXPECT_EQ(bad->param, "input");
    }
    const auto base64 =
        gemini::encode_embeddings(R"({"model":"m","input":"x","encoding_format":"base64"})",
                                  "gemini-embedding-001", batch, body);
    ASSERT_TRUE(base64);
    EXPECT_EQ(base64->param, "encoding_format");

    std::string single = R"({"embedding": {"values": [0.1, -2e-3, 3]}})";
    answer_facts facts;
    ASSERT_TRUE(gemini::decode_embeddings(single, "gemini-embedding-001", facts));
    EXPECT_EQ(
        single,
        R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-2e-3,3]}],"model":"gemini-embedding-001","usage":{"prompt_tokens":0,"total_tokens":0}})");
    EXPECT_EQ(facts.items, 1);

    std::string two = R"({"embeddings":[{"values":[1]},{"values":[2]}]})";
    ASSERT_TRUE(gemini::decode_embeddings(two, "e", facts));
    EXPECT_EQ(facts.items, 2);
    EXPECT_EQ(ojson::parse(two)["data"][1]["index"], 1);

    std::string not_one = R"({"error":{"code":400}})";
    EXPECT_FALSE(gemini::decode_embeddings(not_one, "e", facts));
    EXPECT_EQ(not_one, R"({"error":{"code":400}})");
}

} // namespace
} // namespace aignehub::gateway
